"""What every service shares: the locked fetch, the guarded transition, the audit record."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from refunds import audit, selectors
from refunds.errors import Conflict, ErrorCode, NotFound
from refunds.integration import webhooks
from refunds.models import Decision, EvidenceRequest, RefundApplication
from refunds.services import notifications
from refunds.states import ActorKind, EvidenceRequestState, Outcome
from reviewhub import observe


@dataclass(frozen=True)
class Actor:
    """Who causes a change: the system, a platform (API key), a merchant user or a reviewer."""

    kind: str
    user: User | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "") -> Actor:
        return cls(ActorKind.SYSTEM, None, label or "system")

    @classmethod
    def of_user(cls, kind: str, user: User) -> Actor:
        return cls(kind, user, user.get_username())


@dataclass(frozen=True)
class DecisionSpec:
    """The decision a deciding transition records, in the same transaction."""

    outcome: str
    approved_amount: Decimal
    reason_codes: Sequence[str]
    note: str = ""

    @classmethod
    def full_approval(cls, application: RefundApplication, reason: str) -> DecisionSpec:
        return cls(Outcome.APPROVED, application.amount, [reason])


@contextmanager
def locked_application(application_id: UUID | str) -> Iterator[RefundApplication]:
    """Open a transaction and yield the application with its row locked.

    Every decider (reviewers, the merchant, beat's window closer) goes through this lock,
    so two of them racing are serialised and the second sees the first one's state.
    """
    with transaction.atomic():
        try:
            application = (
                RefundApplication.objects.select_for_update(of=("self",))
                .select_related("platform__policy", "merchant")
                .get(public_id=application_id)
            )
        except (RefundApplication.DoesNotExist, ValidationError, ValueError):
            raise NotFound(ErrorCode.NOT_FOUND, object=_("application")) from None
        yield application


Bound = TypeVar("Bound", bound=models.Model)


@contextmanager
def locked_with_application(
    model: type[Bound],
    public_id: UUID | str,
    *,
    object_name: str | Promise,
    related: Sequence[str] = (),
    rows: QuerySet[Bound] | None = None,
) -> Iterator[tuple[RefundApplication, Bound]]:
    """Open a transaction and yield a record bound to an application (an appeal, a second review,
    a request for another photo) and that application, both rows locked, the application's first
    as every service locks it; raise NotFound naming ``object_name`` for an unknown id or one
    outside ``rows``."""
    rows = model._default_manager.all() if rows is None else rows
    try:
        owner = rows.values_list("application__public_id", flat=True).get(public_id=public_id)
    except (model.DoesNotExist, ValidationError, ValueError):  # type: ignore[attr-defined]
        raise NotFound(ErrorCode.NOT_FOUND, object=object_name) from None
    with locked_application(owner) as application:
        record = (
            model._default_manager.select_for_update(of=("self",))
            .select_related(*related)
            .get(public_id=public_id, application=application)
        )
        yield application, record


def ensure_can(
    application: RefundApplication, transition: Callable[..., Any], *, refusal: Conflict | None = None
) -> None:
    """Raise Conflict unless the transition may run now: a wrong state always gives
    ``invalid_state``; an unmet condition gives ``refusal`` when one is supplied."""
    if not can_proceed(transition, check_conditions=False):
        raise Conflict(
            ErrorCode.INVALID_STATE, state=application.get_state_display(), details={"state": application.state}
        )
    if not can_proceed(transition):
        raise refusal or Conflict(ErrorCode.NOT_ALLOWED, details={"state": application.state})


def awaiting_second_photo(application: RefundApplication) -> Conflict | None:
    """Return the refusal of claiming or deciding while the application waits for the buyer's
    second photo (its review clock is paused), or None when it does not."""
    waiting = EvidenceRequest.objects.filter(application=application, state=EvidenceRequestState.OPEN).first()
    if waiting is None:
        return None
    return Conflict(
        ErrorCode.AWAITING_SECOND_PHOTO,
        deadline=formats.date_format(timezone.localtime(waiting.deadline), "DATETIME_FORMAT"),
        details={"evidence_request": str(waiting.public_id), "deadline": waiting.deadline.isoformat()},
    )


@contextmanager
def transitions_written_together() -> Iterator[None]:
    """Write the audit events and the webhook events (with their deliveries) of the transitions
    applied inside the block together at its end, a statement for each kind of row instead of
    one per transition (and one look-up of the endpoints). Use it inside the transaction that
    applies them, around several transitions of one transaction."""
    with audit.written_together(), webhooks.events_written_together():
        yield


def apply(
    application: RefundApplication,
    transition: Callable[..., Any],
    *,
    actor: Actor,
    action: str,
    reason: str = "",
    payload: dict[str, Any] | None = None,
    decision: DecisionSpec | None = None,
    save: bool = True,
    **kwargs: Any,
) -> None:
    """Run a transition on the locked application, append the audit event and, for a change of
    state, write the webhook event to the outbox, then save the application: all in the caller's
    transaction.

    ``save=False``: the row is left to the next ``apply`` in the same transaction, which writes
    both transitions' changes at once."""
    from_state = application.state
    transition(**kwargs)
    if decision is not None:
        Decision.objects.create(
            application=application,
            outcome=decision.outcome,
            approved_amount=decision.approved_amount,
            currency=application.currency,
            actor_kind=actor.kind,
            actor=actor.user,
            reason_codes=list(decision.reason_codes),
            note=decision.note,
        )
    audit.record(
        application,
        action=action,
        from_state=from_state,
        actor_kind=actor.kind,
        actor_label=actor.label,
        reason=reason,
        payload=payload,
        write_head=False,
    )
    observe.transition_applied(application, action=action, from_state=from_state, actor=actor)
    if application.state != from_state:
        webhooks.event_record(application, from_state=from_state, action=action, write_sequence=False)
        notifications.notifications_record_transition(application, from_state=from_state)
    # Last, and once: the row's new state, its audit head and its webhook sequence in one write
    # (three round trips before, each waiting on a database shared with every worker).
    if save:
        application.save()


def approve_unless_held(
    application: RefundApplication,
    *,
    eligible: bool,
    approve: Callable[..., Any],
    approve_action: str,
    reason: str,
    otherwise: Callable[..., Any],
    otherwise_action: str,
    actor: Actor,
) -> None:
    """Approve the application in full without a person when it is ``eligible`` and the buyer's
    record does not hold it (policy); otherwise run the ``otherwise`` transition, whose audit
    record names the buyer's reasons when they were what held it, rather than waiting silently."""
    held = selectors.buyer_risk_hold(application) if eligible else None
    if eligible and held is None:
        apply(
            application,
            approve,
            actor=actor,
            action=approve_action,
            reason=reason,
            decision=DecisionSpec.full_approval(application, reason),
        )
        return
    apply(
        application,
        otherwise,
        actor=actor,
        action=otherwise_action,
        reason=selectors.buyer_risk_reasons_text(held) if held is not None else "",
        payload={"buyer_risk": [r.code for r in held.reasons]} if held is not None else None,
    )
