"""Kicks sent once per transaction: a transaction that writes several rows for one task to look
at sends that task one message, and a rolled-back savepoint never swallows a kick still due."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from refunds.integration import outbox
from refunds.integration.webhooks import DELIVER_TASK
from refunds.models import OutboxTask, WebhookEvent
from tests.factories import endpoint_create, screen, submit


def kicks(callbacks, task: str) -> list[object]:
    return [c for c in callbacks if (getattr(c, "once_key", None) or ("",))[0] == task]


@pytest.mark.django_db
def test_the_same_kick_twice_in_one_transaction_is_sent_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        outbox.on_commit_once(("deliver", 1, 7), lambda: None)
        outbox.on_commit_once(("deliver", 1, 7), lambda: None)
        outbox.on_commit_once(("deliver", 1, 8), lambda: None)
    assert [c.once_key for c in callbacks] == [("deliver", 1, 7), ("deliver", 1, 8)]


@pytest.mark.django_db
def test_a_kick_in_a_nested_savepoint_is_covered_by_the_enclosing_one(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        outbox.on_commit_once("notify", lambda: None)
        with transaction.atomic():
            outbox.on_commit_once("notify", lambda: None)
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_a_kick_dropped_with_its_savepoint_does_not_swallow_a_later_one(django_capture_on_commit_callbacks):
    def later() -> None:
        pass

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.on_commit_once("notify", lambda: None)
            raise RuntimeError("the change is undone")
        outbox.on_commit_once("notify", later)
    assert callbacks == [later]


@pytest.mark.django_db
def test_screening_that_records_two_events_kicks_the_webhook_queue_once(
    product, platform_a, django_capture_on_commit_callbacks
):
    endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    application = submit(product)
    with django_capture_on_commit_callbacks() as callbacks:
        screen(application)
    events = WebhookEvent.objects.filter(application=application).order_by("sequence")
    states = list(events.values_list("payload__state", flat=True))
    assert states == ["submitted", "auto_screened", "awaiting_merchant"]
    assert len(kicks(callbacks, DELIVER_TASK)) == 1


@pytest.mark.django_db(transaction=True)  # the send runs after the commit, outside any transaction
def test_a_sent_task_clears_its_row_in_one_statement_that_does_not_wait_for_the_disk(monkeypatch):
    sent = []
    monkeypatch.setattr(outbox.current_app, "send_task", lambda task, **kwargs: sent.append(task))
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        row = outbox.schedule("screening.screen_application", ["an-id"])
    statements = [q["sql"] for q in queries.captured_queries]
    assert sent == ["screening.screen_application"]
    assert not OutboxTask.objects.filter(pk=row.pk).exists()
    # The change's own transaction, then the row's delete alone: no BEGIN and COMMIT around it.
    after_the_commit = statements[[s.split()[0] for s in statements].index("COMMIT") + 1 :]
    assert len(after_the_commit) == 1 and "DELETE" in after_the_commit[0], statements
    if connection.vendor == "postgresql":
        # Its commit alone is asynchronous; the connection's next transaction waits for the disk.
        assert after_the_commit[0].startswith("SET LOCAL synchronous_commit = off;")
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone() == ("on",)


@pytest.mark.django_db
def test_a_task_sent_inside_a_callers_transaction_leaves_that_transactions_commit_durable(monkeypatch):
    monkeypatch.setattr(outbox.current_app, "send_task", lambda task, **kwargs: None)
    row = OutboxTask.objects.create(task="screening.screen_application", args=["an-id"])
    with transaction.atomic():
        outbox._send(row.pk, row.task, row.args)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit" if connection.vendor == "postgresql" else "SELECT 'on'")
            assert cursor.fetchone() == ("on",)
    assert not OutboxTask.objects.filter(pk=row.pk).exists()
