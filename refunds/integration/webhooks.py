"""Signed webhooks through an outbox (invariant 8).

The event row is written in the transaction of the transition, so a rolled-back transition
sends nothing and a committed one is never lost; delivery is at-least-once, per endpoint and
application in sequence order, signed with HMAC-SHA256 over ``"{timestamp}.{body}"`` (with the
endpoint's current secret, and during a rotation's overlap with the previous one as well).
Receivers verify with ``verify_signature`` (see the README for an example).
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from enum import Enum, StrEnum

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef, Subquery
from django.urls import reverse
from django.utils import timezone

from refunds.compiled import CompiledQuery, Slot
from refunds.integration import outbox
from refunds.integration.signing import SIGNATURE_HEADER, sign
from refunds.integration.url_guard import UnsafeDestination, guarded_post
from refunds.models import (
    Appeal,
    Decision,
    EvidenceRequest,
    RefundApplication,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from refunds.request_id import current as current_request_id
from refunds.vocab import WebhookEventType
from reviewhub import instruments

log = logging.getLogger(__name__)

DELIVER_TASK = "refunds.deliver_webhooks"
DRAIN_TASK = "refunds.drain_webhooks"
# Due deliveries a drain reads per query (one row each; their applications are sent in turn).
DRAIN_BATCH = 200
# How long the task of one application's kick goes on with the endpoint's other due deliveries.
# The worker takes from the screening and delivery queues in turn, a message each, and an
# application's screening kicks its deliveries twice (submitted, then screened): one delivery
# per message fell behind by about one kick per application (45 900 deliveries, 18 300 still
# pending when the 10 000 of the soak were decided). A second's drain per message keeps pace
# and ends at once when nothing else is due; a slow receiver holds it for one attempt at most.
KICK_DRAIN_SECONDS = 1.0
# How soon a kick that found its queue locked by another worker looks again: that worker's sends
# of an application's few events take tens of milliseconds on loopback under load.
BUSY_QUEUE_RETRY_SECONDS = 1.0


class DeliveryFailure(StrEnum):
    """Why a delivery attempt failed, as the failures metric labels it (a few values, never a URL)."""

    HTTP_CLIENT_ERROR = "http_4xx"
    HTTP_SERVER_ERROR = "http_5xx"
    HTTP_OTHER = "http_other"
    TIMEOUT = "timeout"
    UNSAFE_DESTINATION = "unsafe_destination"
    CONNECTION = "connection"

    @classmethod
    def of(cls, exc: BaseException) -> DeliveryFailure:
        """Classify the exception an attempt raised."""
        if isinstance(exc, urllib.error.HTTPError):
            if 400 <= exc.code < 500:
                return cls.HTTP_CLIENT_ERROR
            return cls.HTTP_SERVER_ERROR if exc.code >= 500 else cls.HTTP_OTHER
        if isinstance(exc, UnsafeDestination):
            return cls.UNSAFE_DESTINATION
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
            return cls.TIMEOUT
        return cls.CONNECTION


def decision_payload(decision: Decision) -> dict[str, object]:
    """A decision as events show it."""
    return {
        "outcome": decision.outcome,
        "approved_amount": str(decision.approved_amount),
        "currency": decision.currency,
        "actor_kind": decision.actor_kind,
        "reason_codes": decision.reason_codes,
    }


def event_record(
    application: RefundApplication, *, from_state: str, action: str, write_sequence: bool = True
) -> WebhookEvent | None:
    """Write the event and its deliveries for the application's new state. Call inside the
    transition's transaction with the application row locked (the lock orders the sequence).

    ``write_sequence=False``: the application's new webhook sequence is only set on the
    instance, for a caller that saves the row afterwards in the same transaction."""
    decision = getattr(application, "decision", None) if application.state == "decided" else None
    return _event_create(
        application,
        WebhookEventType.STATE_CHANGED,
        {
            "application": str(application.public_id),
            "merchant": str(application.merchant.public_id),
            "from_state": from_state,
            "state": application.state,
            "action": action,
            "risk_level": application.risk_level or None,
            "unscreened": application.unscreened,
            "merchant_deadline": application.merchant_deadline.isoformat() if application.merchant_deadline else None,
            "decision": None if decision is None else decision_payload(decision),
        },
        write_sequence=write_sequence,
    )


def appeal_event_record(
    application: RefundApplication, appeal: Appeal, *, event_type: str, from_state: str, action: str
) -> WebhookEvent:
    """Write the event of an appeal's transition, in the application's sequence. Call inside
    the transition's transaction with the application row locked."""
    ruling = getattr(appeal, "appeal_decision", None)
    return _event_create(
        application,
        event_type,
        {
            "application": str(application.public_id),
            "merchant": str(application.merchant.public_id),
            "state": application.state,
            "action": action,
            "appeal": {
                "id": str(appeal.public_id),
                "side": appeal.side,
                "from_state": from_state,
                "state": appeal.state,
                "reason_codes": appeal.reason_codes,
                "filed_at": appeal.filed_at.isoformat(),
                "appealed_decision": decision_payload(appeal.decision),
                "appeal_decision": None
                if ruling is None
                else {
                    "verdict": ruling.verdict,
                    "outcome": ruling.outcome or None,
                    "approved_amount": None if ruling.approved_amount is None else str(ruling.approved_amount),
                    "currency": ruling.currency,
                    "reason_codes": ruling.reason_codes,
                    "decided_at": ruling.decided_at.isoformat(),
                },
            },
        },
    )


def evidence_request_payload(request: EvidenceRequest) -> dict[str, object]:
    """A request for another photo as events show it: what to ask the buyer, in which language,
    until when, and where to send the answer."""
    return {
        "id": str(request.public_id),
        "state": request.state,
        "instructions": request.instructions,
        "language": request.language,
        "first_evidence": str(request.first_evidence.public_id),
        "requested_at": request.requested_at.isoformat(),
        "deadline": request.deadline.isoformat(),
        "answer_url": reverse(
            "api:application-evidence-request-answer", args=[request.application.public_id, request.public_id]
        ),
        "answer_evidence": str(request.answer.public_id) if request.answer_id else None,
        "closed_at": request.closed_at.isoformat() if request.closed_at else None,
    }


def evidence_request_event_record(
    application: RefundApplication, request: EvidenceRequest, *, event_type: str, from_state: str, action: str
) -> WebhookEvent:
    """Write the event of a request's transition, in the application's sequence. Call inside
    the transition's transaction with the application row locked."""
    return _event_create(
        application,
        event_type,
        {
            "application": str(application.public_id),
            "merchant": str(application.merchant.public_id),
            "state": application.state,
            "action": action,
            "evidence_request": {"from_state": from_state, **evidence_request_payload(request)},
        },
    )


# Every transition of every application asks for its platform's endpoints: compiled once and
# prepared (refunds.compiled), a submission's event_record took 0.9 to 1.4 ms instead of 1.9 to
# 2.7 ms (in-process on PostgreSQL, the machine loaded; the lookup itself 0.2 to 0.5 ms).
_ACTIVE_ENDPOINTS = CompiledQuery(
    lambda: WebhookEndpoint.objects.filter(
        platform_id=Slot("platform", WebhookEndpoint._meta.get_field("platform").target_field), active=True
    )
)


# The events written inside ``events_written_together``, inserted at its end; None outside it.
_deferred: ContextVar[list[WebhookEvent] | None] = ContextVar("reviewhub_webhook_events_deferred", default=None)


@contextmanager
def events_written_together() -> Iterator[None]:
    """Insert the events written inside the block, and their deliveries, at its end: one
    look-up of the endpoints per platform, one INSERT of the events and one of the deliveries,
    where each event took three round trips. For several transitions in one transaction: use it
    inside that transaction, around them. Nothing is written if the block raises; its
    transaction is then rolled back anyway."""
    events: list[WebhookEvent] = []
    token = _deferred.set(events)
    try:
        yield
    finally:
        _deferred.reset(token)
    if not events:
        return
    endpoints = {
        platform_id: _ACTIVE_ENDPOINTS.run(platform=platform_id) for platform_id in {e.platform_id for e in events}
    }
    WebhookEvent.objects.bulk_create(events)
    _deliveries_create([(event, endpoints[event.platform_id]) for event in events])


def _event_create(
    application: RefundApplication, event_type: str, payload: dict[str, object], *, write_sequence: bool = True
) -> WebhookEvent:
    deferred = _deferred.get()
    endpoints = None if deferred is not None else _ACTIVE_ENDPOINTS.run(platform=application.platform_id)
    application.webhook_seq += 1
    sequence = application.webhook_seq
    if write_sequence:
        RefundApplication.objects.filter(pk=application.pk).update(webhook_seq=sequence)
    event = WebhookEvent(
        platform_id=application.platform_id,
        application=application,
        sequence=sequence,
        type=event_type,
        payload=payload,
    )
    if deferred is not None:
        deferred.append(event)
        return event
    event.save(force_insert=True)
    _deliveries_create([(event, endpoints or [])])
    return event


def _deliveries_create(events: list[tuple[WebhookEvent, list[WebhookEndpoint]]]) -> None:
    """Write a delivery of each (saved) event to each of its endpoints, and kick each queue once
    the transaction commits."""
    request_id = current_request_id()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(event=event, endpoint=endpoint, request_id=request_id)
            for event, endpoints in events
            for endpoint in endpoints
        ]
    )
    for event, endpoints in events:
        for endpoint in endpoints:
            _enqueue_on_commit(endpoint.pk, event.application_id)


def _enqueue_on_commit(endpoint_pk: int, application_pk: int, countdown: float = 0) -> None:
    """Kick the delivery task after the commit. The deliveries themselves are the outbox: a
    kick the broker refuses, or a retry further away than a beat interval (a countdown message
    that could outlive the visibility timeout), is left to beat's ``retry_due``."""
    if countdown > settings.BEAT_INTERVAL_SECONDS:
        return

    def send() -> None:
        try:
            current_app.send_task(DELIVER_TASK, args=[endpoint_pk, application_pk], countdown=countdown)
        except Exception as exc:  # noqa: BLE001 - any broker failure; beat sends it when due
            log.warning("broker unavailable; webhook delivery left to the retry job: %r", exc)

    # One kick delivers every pending event of the queue, oldest first.
    outbox.on_commit_once((DELIVER_TASK, endpoint_pk, application_pk, countdown), send)


def body_of(event: WebhookEvent) -> bytes:
    return json.dumps(
        {
            "id": str(event.public_id),
            "type": event.type,
            "sequence": event.sequence,
            "created_at": event.created_at.isoformat(),
            "data": event.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def _backoff(attempts: int) -> timedelta:
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return timedelta(
        seconds=min(settings.WEBHOOK_RETRY_MAX_SECONDS, base * 2 ** (attempts - 1) * random.uniform(1, 1.25))
    )


def deliver_pending(*, endpoint_pk: int, application_pk: int) -> int:
    """Send the endpoint's pending events of one application, oldest first, stopping at the first
    failure so none overtakes an earlier one. Return how many were delivered."""
    return _send_queue(endpoint_pk=endpoint_pk, application_pk=application_pk)[0]


class _Queue(Enum):
    """What a visit found of an application's queue for an endpoint."""

    EMPTY = "nothing pending"
    BUSY = "locked by another worker"
    SENT = "pending events sent (up to a failure)"


def _send_queue(*, endpoint_pk: int, application_pk: int) -> tuple[int, _Queue]:
    """``deliver_pending``; return how many were delivered and what was found."""
    # The application's events by their ids, each with its delivery's status for the endpoint
    # read through the (event, endpoint) unique index, one look-up per event in the same query:
    # whatever the planner's statistics say. Joined on the application and filtered on the status
    # in SQL, a table that had grown since its last ANALYZE was read as small and every head cost
    # a scan of all the endpoint's pending deliveries (63 ms with 18 459 pending, against 0.1 ms
    # this way). A queue with nothing pending ends here, without a transaction: the kick of an
    # application whose events another task's drain already sent. Events written after this
    # look-up come with a kick of their own.
    status = Subquery(
        WebhookDelivery.objects.filter(event_id=OuterRef("pk"), endpoint_id=endpoint_pk).values("status")[:1]
    )
    events = WebhookEvent.objects.filter(application_id=application_pk).annotate(delivery_status=status)
    pending = [
        pk for pk, state in events.values_list("pk", "delivery_status") if state == WebhookDelivery.Status.PENDING
    ]
    if not pending:
        return 0, _Queue.EMPTY
    delivered = 0
    with transaction.atomic():
        try:
            # NOWAIT: another worker holds this queue and is sending its head; leave it to that
            # worker. Every row pending when read above is locked, so nobody sends a later one
            # beside an earlier one in flight; a row sent meanwhile is found sent and skipped.
            queue = list(
                WebhookDelivery.objects.select_for_update(nowait=True, of=("self",))
                .select_related("event", "endpoint")
                .filter(endpoint_id=endpoint_pk, event_id__in=pending)
                .order_by("event__sequence")
            )
        except DatabaseError:
            return 0, _Queue.BUSY
        # The queue's pending rows in order, in this one transaction under its lock: one BEGIN,
        # lock and COMMIT (the commit's wait for the disk included) per queue instead of per
        # delivery, and no second look that finds the queue empty. A crash before the commit
        # sends these again, as it sent the one in flight before: receivers de-duplicate by
        # event id (at least once, in order, as before).
        for delivery in queue:
            if delivery.status != WebhookDelivery.Status.PENDING:
                continue
            now = timezone.now()
            if delivery.next_attempt_at > now:
                _enqueue_on_commit(endpoint_pk, application_pk, (delivery.next_attempt_at - now).total_seconds())
                break
            ok = _attempt(delivery)
            # One UPDATE of what an attempt changes, not the whole row. One bulk_update for the
            # batch was tried: building its CASE expressions took 11 % of the delivery task's
            # samples in the soak's profile, more than the round trips it saved.
            delivery.save(update_fields=_ATTEMPT_FIELDS)
            if not ok:
                if delivery.status == WebhookDelivery.Status.PENDING:
                    _enqueue_on_commit(endpoint_pk, application_pk, (delivery.next_attempt_at - now).total_seconds())
                break
            delivered += 1
    return delivered, _Queue.SENT


def deliver_due(*, endpoint_pk: int, budget_seconds: float) -> int:
    """Send the endpoint's due deliveries across applications: each application in turn, oldest
    first, through ``deliver_pending`` (so the order within an application and the stop at its
    first failure hold), until none is due or ``budget_seconds`` have passed. Return how many
    were delivered.

    What beat's ``retry_due`` starts, one per endpoint: one task catches up with a backlog of
    many applications instead of a message each, which beat sent again every interval while the
    first ones still waited in the queue (the soak's drain fell to 8 deliveries a second)."""
    deadline = time.monotonic() + budget_seconds
    delivered = 0
    after = 0
    visited: set[int] = set()
    pending = WebhookDelivery.objects.filter(endpoint_id=endpoint_pk, status=WebhookDelivery.Status.PENDING)
    while time.monotonic() < deadline:
        now = timezone.now()
        # Not an application whose earlier event waits for its retry: its later ones wait behind
        # it, and its own kick comes when the retry is due.
        waiting = pending.filter(next_attempt_at__gt=now, event__application_id=OuterRef("event__application_id"))
        rows = list(
            pending.filter(next_attempt_at__lte=now, pk__gt=after)
            .exclude(Exists(waiting))
            .order_by("pk")
            .values_list("pk", "event__application_id")[:DRAIN_BATCH]
        )
        if not rows:
            break
        after = rows[-1][0]
        for _, application_pk in rows:
            # An application is sent whole (up to a failure) once per drain; its events written
            # meanwhile have their own kick.
            if application_pk in visited:
                continue
            if time.monotonic() >= deadline:
                break
            visited.add(application_pk)
            delivered += deliver_pending(endpoint_pk=endpoint_pk, application_pk=application_pk)
        if len(rows) < DRAIN_BATCH:
            # Everything due when this batch was read has been sent; what came since has its own
            # kick. Asking again cost a query per drain that almost always found nothing.
            break
    return delivered


def deliver_kicked(*, endpoint_pk: int, application_pk: int) -> int:
    """Send the kicked application's pending events, then, unless it had none, the endpoint's
    other due deliveries for up to ``KICK_DRAIN_SECONDS``; return how many were delivered.

    A kick that finds its application's events already sent comes after a drain that passed
    by: it drains nothing. The drain's query after every kick was a fifth of the delivery
    task's samples in the soak's profile, and under load most kicks came after another kick's
    drain had sent their events.

    One that finds them locked by another worker looks again in ``BUSY_QUEUE_RETRY_SECONDS``:
    it may be the kick of an event written after that worker read the queue, which that worker
    does not send. Left to beat's retry, 38 and 53 deliveries of the soak's 300 applications
    (two runs) waited up to a beat interval each, since one transaction per queue holds its
    lock for all of its sends."""
    delivered, found = _send_queue(endpoint_pk=endpoint_pk, application_pk=application_pk)
    if found is _Queue.EMPTY:
        return 0
    if found is _Queue.BUSY:
        _enqueue_on_commit(endpoint_pk, application_pk, BUSY_QUEUE_RETRY_SECONDS)
    return delivered + deliver_due(endpoint_pk=endpoint_pk, budget_seconds=KICK_DRAIN_SECONDS)


_ATTEMPT_FIELDS = ("attempts", "status", "last_status_code", "last_error", "delivered_at", "next_attempt_at")


def _attempt(delivery: WebhookDelivery) -> bool:
    body = body_of(delivery.event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "reviewhub-webhooks/1",
        SIGNATURE_HEADER: sign(delivery.endpoint.signing_secrets(timezone.now()), body),
    }
    delivery.attempts += 1
    try:
        delivery.last_status_code = guarded_post(
            delivery.endpoint.url, body=body, headers=headers, timeout=settings.WEBHOOK_TIMEOUT_SECONDS
        )
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.last_error = ""
        return True
    except urllib.error.HTTPError as exc:
        delivery.last_status_code = exc.code
        delivery.last_error = f"HTTP {exc.code}"
        instruments.webhook_delivery_failed(DeliveryFailure.of(exc))
    except (urllib.error.URLError, OSError) as exc:
        delivery.last_status_code = None
        delivery.last_error = str(getattr(exc, "reason", exc))[:500]
        instruments.webhook_delivery_failed(DeliveryFailure.of(exc))
    if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    else:
        delivery.next_attempt_at = timezone.now() + _backoff(delivery.attempts)
    return False


def retry_due() -> int:
    """Start a drain (``deliver_due``) for every endpoint with a due pending delivery (after a
    lost message, a retry's pause or worker downtime); return how many were started.

    One message per endpoint, not per application: under a backlog every pending delivery is
    due, and a message per application every beat interval put the whole backlog in the queue
    again each time, before the messages of the last interval were done."""
    endpoints = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by()
        .values_list("endpoint_id", flat=True)
        .distinct()
    )
    for endpoint_pk in endpoints:
        current_app.send_task(DRAIN_TASK, args=[endpoint_pk])
    return len(endpoints)


def delivery_requeue(delivery: WebhookDelivery) -> None:
    """Make the delivery pending again from its first attempt and kick it after the commit.
    Call inside the transaction of the service that decided so."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    _enqueue_on_commit(delivery.endpoint_id, delivery.event.application_id)
