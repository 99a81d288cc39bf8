"""The screening sweeper under a backlog: a message that waits in a long queue is not lost.

No worker runs in this module, so what is sent stays in the broker's queue, as it does behind
a backlog. The sweeper must leave such applications alone and enqueue them again only once
their messages are gone (a broker that lost its queue)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from refunds.integration import outbox
from refunds.models import RefundApplication
from refunds.services import application_requeue_stale_screenings
from refunds.tasks import _messages_waiting, requeue_stale_screenings
from reviewhub.celery import app
from tests.factories import jpeg, submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not app.conf.broker_url.startswith("redis"), reason="needs the Redis broker"),
]

QUEUE = app.conf.task_default_queue


@pytest.fixture
def empty_queue():
    app.control.purge()
    yield
    app.control.purge()


def stale_submissions(product, count):
    applications = [submit(product, evidence=[jpeg(seed=70 + n)], order_ref=f"backlog-{n}") for n in range(count)]
    RefundApplication.objects.filter(pk__in=[a.pk for a in applications]).update(
        screening_enqueued_at=timezone.now() - timedelta(hours=1)
    )
    return applications


def test_the_queue_depth_counts_the_messages_waiting(product, empty_queue):
    assert _messages_waiting(QUEUE) == 0
    stale_submissions(product, 2)
    assert _messages_waiting(QUEUE) == 2


def test_applications_whose_messages_still_wait_are_not_enqueued_again(product, empty_queue):
    stale_submissions(product, 3)
    assert requeue_stale_screenings() == 0
    assert requeue_stale_screenings() == 0
    assert _messages_waiting(QUEUE) == 3


def test_applications_whose_messages_were_lost_are_enqueued_again(product, empty_queue):
    stale_submissions(product, 3)
    app.control.purge()  # as a Redis restart without persistence loses the queue
    assert requeue_stale_screenings() == 3
    assert _messages_waiting(QUEUE) == 3
    # Their new messages now wait for them: the next round enqueues nothing more.
    RefundApplication.objects.update(screening_enqueued_at=timezone.now() - timedelta(hours=1))
    assert requeue_stale_screenings() == 0


def test_a_queue_that_lost_some_messages_has_every_stale_application_enqueued(product, empty_queue):
    stale_submissions(product, 3)
    with app.connection_for_write() as connection:
        connection.default_channel.client.lpop(QUEUE)  # one message lost
    assert _messages_waiting(QUEUE) == 2
    assert requeue_stale_screenings() == 3


def test_two_sweeps_at_once_enqueue_each_application_once(product, empty_queue, monkeypatch):
    stale_submissions(product, 2)
    app.control.purge()
    real_schedule = outbox.schedule

    def schedule_while_another_sweep_restamps(task, args):
        # What a sweep running beside this one does between this one's listing and its turn:
        # it enqueues the other application (and restamps it).
        RefundApplication.objects.exclude(public_id=args[0]).update(screening_enqueued_at=timezone.now())
        return real_schedule(task, args)

    monkeypatch.setattr(outbox, "schedule", schedule_while_another_sweep_restamps)
    assert application_requeue_stale_screenings(older_than=timedelta(minutes=1)) == 1
    assert _messages_waiting(QUEUE) == 1
