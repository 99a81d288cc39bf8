"""Invariant 8: webhooks through an outbox, signed, retried, in sequence order."""

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from django.utils import timezone

from refunds import services
from refunds.integration import signing, webhooks
from refunds.models import RefundApplication, WebhookDelivery, WebhookEvent
from refunds.services import Actor
from refunds.services.platform import webhook_delivery_redeliver
from refunds.states import ActorKind
from refunds.vocab import SettingsAction
from tests.conftest import wait_for
from tests.factories import CUP, endpoint_create, jpeg, screen, submit


class Receiver:
    """A local HTTP endpoint whose first requests misbehave as `behaviours` says, then answer 200.

    "fail" answers 500, "close" drops the connection without an answer, "hang" answers only
    after `hang_seconds` (past the sender's timeout), "slow" answers 200 after a pause.
    """

    def __init__(self, failures: int = 0, behaviours: tuple[str, ...] = (), hang_seconds: float = 3.0):
        self.behaviours = behaviours or ("fail",) * failures
        self.failures = sum(b != "slow" for b in self.behaviours)
        self.requests: list[tuple[dict, bytes, str]] = []
        self.answered: list[dict] = []  # the payloads answered 2xx, in the order answered
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((json.loads(body), body, self.headers.get(signing.SIGNATURE_HEADER, "")))
                n = len(receiver.requests)
                behaviour = receiver.behaviours[n - 1] if n <= len(receiver.behaviours) else "ok"
                if behaviour == "close":
                    self.close_connection = True
                    self.connection.close()
                    return
                if behaviour in ("hang", "slow"):
                    time.sleep(hang_seconds if behaviour == "hang" else 0.3)
                status = 500 if behaviour == "fail" else 200
                try:
                    self.send_response(status)
                    self.end_headers()
                except OSError:  # the sender gave up waiting
                    return
                if status == 200 and behaviour != "hang":
                    receiver.answered.append(json.loads(body))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    server = Receiver(failures=2)
    yield server
    server.close()


@pytest.mark.django_db
def test_a_transition_writes_its_event_and_deliveries_in_the_same_transaction(product, platform_a):
    endpoint = endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    application = screen(submit(product))
    events = list(WebhookEvent.objects.filter(application=application).order_by("sequence"))
    assert [(e.sequence, e.payload["from_state"], e.payload["state"]) for e in events] == [
        (1, "", "submitted"),
        (2, "submitted", "auto_screened"),
        (3, "auto_screened", "awaiting_merchant"),
    ]
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 3


@pytest.mark.django_db
def test_a_rolled_back_transition_produces_no_event(product, platform_a, merchant_owner):
    endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    application = screen(submit(product))
    before = WebhookEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.application_accept(
            application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
        )
        raise RuntimeError("the caller's transaction fails after the transition")
    assert WebhookEvent.objects.count() == before
    assert RefundApplication.objects.get(pk=application.pk).state == "awaiting_merchant"


@pytest.mark.django_db
def test_claims_are_not_state_changes_and_send_nothing(product, platform_a, reviewer):
    endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    application = screen(submit(product, evidence=[CUP]))
    RefundApplication.objects.filter(pk=application.pk).update(merchant_deadline=application.updated_at)
    services.close_expired_windows()
    count = WebhookEvent.objects.filter(application=application).count()
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    assert WebhookEvent.objects.filter(application=application).count() == count
    services.application_decide(
        application_id=application.public_id,
        reviewer=reviewer,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="The catalogue photo sent back.",
    )
    last = WebhookEvent.objects.filter(application=application).order_by("sequence").last()
    assert (last.sequence, last.payload["decision"]["actor_kind"]) == (count + 1, "reviewer")


def test_signatures_verify_and_tampering_is_detected():
    body = b'{"id":"1"}'
    header = signing.sign("whsec_test", body, timestamp=1_700_000_000)
    signing.verify_signature("whsec_test", header, body, now=1_700_000_100)
    with pytest.raises(signing.InvalidSignature):
        signing.verify_signature("whsec_test", header, b'{"id":"2"}', now=1_700_000_100)
    with pytest.raises(signing.InvalidSignature):
        signing.verify_signature("whsec_other", header, body, now=1_700_000_100)
    with pytest.raises(signing.InvalidSignature):
        signing.verify_signature("whsec_test", header, body, now=1_700_001_000)
    with pytest.raises(signing.InvalidSignature):
        signing.verify_signature("whsec_test", "garbage", body)


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_at_first_gets_every_event_in_order(
    celery_worker, receiver, product, platform_a, merchant_owner, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1
    endpoint = endpoint_create(platform=platform_a, url=receiver.url)
    application = submit(product, evidence=[jpeg(seed=21)])
    wait_for(lambda: RefundApplication.objects.get(pk=application.pk).state == "awaiting_merchant")
    services.application_accept(
        application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
    )
    wait_for(
        lambda: not WebhookDelivery.objects.filter(endpoint=endpoint).exclude(status="delivered").exists(), timeout=60
    )
    time.sleep(0.5)  # any duplicate in flight would arrive now
    accepted = [payload for payload, _, _ in receiver.requests[receiver.failures :]]
    assert [p["sequence"] for p in accepted] == [1, 2, 3, 4]
    assert [p["data"]["state"] for p in accepted] == ["submitted", "auto_screened", "awaiting_merchant", "decided"]
    assert accepted[-1]["data"]["decision"]["actor_kind"] == "merchant"
    for _, body, header in receiver.requests:
        signing.verify_signature(endpoint.secret, header, body)
    assert WebhookDelivery.objects.get(endpoint=endpoint, event__sequence=1).attempts == 3


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_drops_connections_hangs_and_answers_slowly_gets_every_event_once_in_order(
    celery_worker, product, platform_a, merchant_owner, settings
):
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    receiver = Receiver(behaviours=("close", "hang", "slow", "close"), hang_seconds=3.0)
    try:
        endpoint = endpoint_create(platform=platform_a, url=receiver.url)
        application = submit(product, evidence=[jpeg(seed=21)])
        wait_for(lambda: RefundApplication.objects.get(pk=application.pk).state == "awaiting_merchant", timeout=60)
        services.application_accept(
            application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
        )
        wait_for(lambda: WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count() == 4, timeout=90)
        time.sleep(0.5)  # any duplicate in flight would arrive now
    finally:
        receiver.close()
    # A dropped connection and a hang are failures the sender retries; nothing is answered
    # twice and nothing overtakes an event still being retried.
    assert [p["sequence"] for p in receiver.answered] == [1, 2, 3, 4]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint, event__sequence=1)
    assert delivery.attempts >= 3 and delivery.last_error == ""
    for _, body, header in receiver.requests:
        signing.verify_signature(endpoint.secret, header, body)


@pytest.mark.django_db
def test_a_failed_delivery_can_be_queued_again(product, platform_a):
    endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    submit(product)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=60, last_error="HTTP 500")
    webhook_delivery_redeliver(delivery=delivery, actor=Actor.system())
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 0, "")
    change = platform_a.settings_changes.get(action=SettingsAction.WEBHOOK_DELIVERY_REDELIVERED)
    assert change.after["delivery"] == str(delivery.public_id)


@pytest.mark.django_db
def test_one_drain_sends_every_application_in_order_and_a_retry_holds_back_only_its_own(product, platform_a):
    receiver = Receiver()
    try:
        endpoint = endpoint_create(platform=platform_a, url=receiver.url)
        first, second, waiting = (
            screen(submit(product, order_ref=f"order-{n}", evidence=[jpeg(seed=40 + n)])) for n in range(3)
        )
        # The third application's first event failed a moment ago and waits for its retry.
        head = WebhookDelivery.objects.get(endpoint=endpoint, event__application=waiting, event__sequence=1)
        WebhookDelivery.objects.filter(pk=head.pk).update(
            attempts=1, next_attempt_at=timezone.now() + timedelta(minutes=5)
        )
        ready = WebhookDelivery.objects.filter(endpoint=endpoint).exclude(event__application=waiting)

        assert webhooks.deliver_due(endpoint_pk=endpoint.pk, budget_seconds=60) == ready.count() > 2
    finally:
        receiver.close()
    sent: dict[str, list[int]] = {}
    for payload in receiver.answered:
        sent.setdefault(payload["data"]["application"], []).append(payload["sequence"])
    assert set(sent) == {str(first.public_id), str(second.public_id)}
    for application in (first, second):
        assert sent[str(application.public_id)] == sorted(
            WebhookEvent.objects.filter(application=application).values_list("sequence", flat=True)
        )
    assert not ready.exclude(status="delivered").exists()
    assert not WebhookDelivery.objects.filter(event__application=waiting).exclude(status="pending").exists()


@pytest.mark.django_db
def test_beat_starts_one_drain_per_endpoint_whatever_the_backlog(product, platform_a, monkeypatch):
    endpoints = [endpoint_create(platform=platform_a, url=f"http://127.0.0.1:9/hooks/{n}") for n in range(2)]
    for n in range(3):
        submit(product, order_ref=f"order-{n}")
    sent: list[tuple[str, list[int]]] = []
    monkeypatch.setattr(webhooks.current_app, "send_task", lambda name, args, **_: sent.append((name, args)))

    assert webhooks.retry_due() == 2

    assert sorted(sent) == sorted((webhooks.DRAIN_TASK, [endpoint.pk]) for endpoint in endpoints)


@pytest.mark.django_db
def test_the_kick_of_one_application_also_sends_the_other_due_ones(product, platform_a):
    from refunds.tasks import deliver_webhooks

    receiver = Receiver()
    try:
        endpoint = endpoint_create(platform=platform_a, url=receiver.url)
        kicked, behind = (submit(product, order_ref=f"order-{n}") for n in range(2))

        assert deliver_webhooks(endpoint.pk, kicked.pk) == 2
    finally:
        receiver.close()
    assert [payload["data"]["application"] for payload in receiver.answered] == [
        str(kicked.public_id),
        str(behind.public_id),
    ]


@pytest.mark.django_db
def test_a_kick_that_finds_its_events_already_sent_drains_nothing(product, platform_a):
    from refunds.tasks import deliver_webhooks

    receiver = Receiver()
    try:
        endpoint = endpoint_create(platform=platform_a, url=receiver.url)
        kicked, behind = (submit(product, order_ref=f"order-{n}") for n in range(2))
        webhooks.deliver_pending(endpoint_pk=endpoint.pk, application_pk=kicked.pk)  # another task's drain

        assert deliver_webhooks(endpoint.pk, kicked.pk) == 0
    finally:
        receiver.close()
    # The other application waits for its own kick, which drains what is due by then.
    assert len(receiver.answered) == 1
    assert WebhookDelivery.objects.get(event__application=behind).status == "pending"


@pytest.mark.django_db(transaction=True)
def test_a_kick_that_finds_its_queue_locked_by_another_worker_looks_again_in_a_moment(
    product, platform_a, monkeypatch, postgres_only
):
    from django.db import connection

    from refunds.tasks import deliver_webhooks

    sent: list[tuple[str, list[int], float]] = []
    monkeypatch.setattr(
        webhooks.current_app, "send_task", lambda name, args, countdown=0, **_: sent.append((name, args, countdown))
    )
    receiver = Receiver()
    endpoint = endpoint_create(platform=platform_a, url=receiver.url)
    application = submit(product)
    sent.clear()
    locked, release = threading.Event(), threading.Event()

    def other_worker():
        # Sending the queue: it read the queue before this kick's event was written, and will
        # not send that event.
        try:
            with transaction.atomic():
                list(WebhookDelivery.objects.select_for_update().filter(endpoint=endpoint))
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=other_worker)
    holder.start()
    try:
        assert locked.wait(30)
        assert deliver_webhooks(endpoint.pk, application.pk) == 0
    finally:
        release.set()
        holder.join(30)
        receiver.close()
    assert receiver.requests == []
    assert (webhooks.DELIVER_TASK, [endpoint.pk, application.pk], webhooks.BUSY_QUEUE_RETRY_SECONDS) in sent
