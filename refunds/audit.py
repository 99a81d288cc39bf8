"""The hash-chained audit log (invariant 3)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from refunds.models import AuditEvent, RefundApplication

GENESIS = "0" * 64

# The events recorded inside ``written_together``, inserted at its end; None outside it.
_deferred: ContextVar[list[AuditEvent] | None] = ContextVar("reviewhub_audit_deferred", default=None)


@contextmanager
def written_together() -> Iterator[None]:
    """Insert the events recorded inside the block in one statement at its end, each chained to
    the one before as it is recorded. For several transitions in one transaction (screening,
    then the window or the fast track): use it inside that transaction, around them. Nothing is
    written if the block raises; its transaction is then rolled back anyway."""
    events: list[AuditEvent] = []
    token = _deferred.set(events)
    try:
        yield
    finally:
        _deferred.reset(token)
    AuditEvent.objects.bulk_create(events)


def _canonical(data: Any) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _event_hash(application: RefundApplication, event: AuditEvent) -> str:
    return digest(
        {
            "application": str(application.public_id),
            "seq": event.seq,
            "action": event.action,
            "from": event.from_state,
            "to": event.to_state,
            "actor_kind": event.actor_kind,
            "actor_label": event.actor_label,
            "at": event.at.isoformat(),
            "reason": event.reason,
            "payload_digest": event.payload_digest,
            "prev_hash": event.prev_hash,
        }
    )


def record(
    application: RefundApplication,
    *,
    action: str,
    from_state: str,
    actor_kind: str,
    actor_label: str = "",
    reason: str = "",
    payload: dict[str, Any] | None = None,
    write_head: bool = True,
) -> AuditEvent:
    """Append an event to the application's chain. Call it with the application row locked,
    inside the transaction that made the change, so the event and the change commit together.

    ``write_head=False``: the new head is only set on the instance, for a caller that saves the
    application row afterwards in the same transaction (one write of the row, not two)."""
    payload = payload or {}
    previous = application.audit_head
    application.audit_seq += 1
    event = AuditEvent(
        application=application,
        seq=application.audit_seq,
        action=action,
        from_state=from_state,
        to_state=application.state,
        actor_kind=actor_kind,
        actor_label=actor_label[:200],
        at=timezone.now(),
        reason=reason,
        payload=json.loads(_canonical(payload)),
        payload_digest=digest(payload),
        prev_hash=previous or GENESIS,
    )
    event.hash = _event_hash(application, event)
    deferred = _deferred.get()
    if deferred is None:
        event.save()
    else:
        deferred.append(event)
    application.audit_head = event.hash
    if write_head:
        RefundApplication.objects.filter(pk=application.pk).update(
            audit_seq=application.audit_seq, audit_head=event.hash
        )
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    events: int
    broken_at: int | None = None
    problem: str = ""


def verify_chain(application: RefundApplication) -> ChainReport:
    """Recompute the application's chain; report the first event that does not fit."""
    expected_prev = GENESIS
    count = 0
    for count, event in enumerate(application.audit_events.order_by("seq"), start=1):
        if event.seq != count:
            return ChainReport(False, count, event.seq, "sequence gap: an event is missing")
        if event.payload_digest != digest(event.payload):
            return ChainReport(False, count, event.seq, "payload does not match its digest")
        if event.prev_hash != expected_prev:
            return ChainReport(False, count, event.seq, "previous hash does not match")
        if event.hash != _event_hash(application, event):
            return ChainReport(False, count, event.seq, "hash does not match the content")
        expected_prev = event.hash
    if count != application.audit_seq or (count and application.audit_head != expected_prev):
        return ChainReport(False, count, count + 1, "events after this one are missing")
    return ChainReport(True, count)
