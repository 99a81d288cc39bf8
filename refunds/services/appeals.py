"""Appeals: the losing side asks another reviewer to decide a decided application again.

An appeal is filed within the policy's window after the decision, by the merchant or by the
platform on the buyer's behalf; at most one is open per application, and each side appeals a
decision once. A reviewer other than the one who made the decision claims and decides it, by
the rules of deciding an application (a claim, or seniority; a senior for what needs one). An
overturn is a new decision that names the one it overturns, which stays as it was.

Every service locks the application's row first, then the appeal's: the appeal's transitions
are written in the application's audit chain and webhook sequence, which that lock orders, and
two deciders of one appeal are serialised by it (the second finds it decided).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import IO, Any
from uuid import UUID

from django.contrib.auth.models import User
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from refunds import audit
from refunds.errors import Conflict, DomainError, ErrorCode, Forbidden, InvalidInput, NotFound
from refunds.integration import webhooks
from refunds.integration.uploads import image_fields, store
from refunds.models import Appeal, AppealAttachment, AppealDecision, Decision, QAReview, RefundApplication
from refunds.roles import CLAIM, DECIDE, is_senior
from refunds.services import notifications
from refunds.services._base import Actor, locked_application, locked_with_application
from refunds.services.merchant import attachments_checked, statement_checked
from refunds.services.review import (
    claim_or_renew,
    claimed_by_other,
    decision_amount,
    decision_input_check,
    require_perm,
    seniority_check,
)
from refunds.states import (
    OPEN_APPEAL_STATES,
    QA_REVIEWED_STATES,
    ActorKind,
    AppealSide,
    AppealState,
    AppealVerdict,
    ApplicationState,
)
from refunds.vocab import AppealReason, AuditAction, WebhookEventType


def appeal_deadline(decision: Decision, *, window_days: int) -> datetime:
    """Return the moment after which the decision can no longer be appealed."""
    return decision.decided_at + timedelta(days=window_days)


def _window_closed(deadline: datetime) -> Conflict:
    return Conflict(
        ErrorCode.APPEAL_WINDOW_CLOSED,
        deadline=formats.date_format(timezone.localtime(deadline), "DATETIME_FORMAT"),
        details={"deadline": deadline.isoformat()},
    )


def _side_label(side: str) -> str:
    return str(AppealSide(side).label).lower()


def _filing_refusal(application: RefundApplication, side: str, *, now: datetime) -> DomainError | None:
    """Return why the side may not appeal the application's decision now, or None if it may."""
    if side not in AppealSide.values:
        return InvalidInput(ErrorCode.INVALID_APPEAL_SIDE, details={"param": "side", "allowed": AppealSide.values})
    decision = getattr(application, "decision", None) if application.state == ApplicationState.DECIDED else None
    if decision is None:
        return Conflict(ErrorCode.APPEAL_NOT_DECIDED, details={"state": application.state})
    appeals = list(application.appeals.all())
    if any(a.state == AppealState.OVERTURNED for a in appeals):
        return Conflict(ErrorCode.APPEAL_FINAL)
    # The losing side appeals: the merchant what was refunded, the buyer what was not.
    # (A merchant who accepted the refund made the decision, and has nothing to appeal either.)
    if side == AppealSide.MERCHANT:
        wins = decision.approved_amount == 0 or decision.actor_kind == ActorKind.MERCHANT
    else:
        wins = decision.approved_amount >= application.amount
    if wins:
        return Conflict(ErrorCode.APPEAL_NOTHING_TO_APPEAL, side=_side_label(side), details={"side": side})
    deadline = appeal_deadline(decision, window_days=application.platform.policy.appeal_window_days)
    if now >= deadline:
        return _window_closed(deadline)
    if any(a.state in OPEN_APPEAL_STATES for a in appeals):
        return Conflict(ErrorCode.APPEAL_OPEN_EXISTS)
    if any(a.side == side and a.state != AppealState.WITHDRAWN for a in appeals):
        return Conflict(ErrorCode.APPEAL_ALREADY_FILED, side=_side_label(side), details={"side": side})
    return None


@dataclass(frozen=True)
class AppealRights:
    """Whether a side may appeal the application now, and until when: the pages ask this."""

    may_appeal: bool
    deadline: datetime | None
    refusal: DomainError | None

    @property
    def window_closed(self) -> bool:
        return self.refusal is not None and self.refusal.code == ErrorCode.APPEAL_WINDOW_CLOSED


def appeal_rights(*, application: RefundApplication, side: str) -> AppealRights:
    """Return whether ``side`` may appeal the application's decision now, by the filing rules."""
    refusal = _filing_refusal(application, side, now=timezone.now())
    decision = getattr(application, "decision", None) if application.state == ApplicationState.DECIDED else None
    deadline = (
        appeal_deadline(decision, window_days=application.platform.policy.appeal_window_days) if decision else None
    )
    return AppealRights(refusal is None, deadline, refusal)


def _record(
    application: RefundApplication,
    appeal: Appeal,
    *,
    actor: Actor,
    action: str,
    from_state: str,
    event_type: str | None,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> None:
    """Append the appeal's transition to the application's audit chain and, for a change of the
    appeal's state, write its webhook event: in the caller's transaction, under the lock."""
    audit.record(
        application,
        action=action,
        from_state=application.state,
        actor_kind=actor.kind,
        actor_label=actor.label,
        reason=reason,
        payload={"appeal": str(appeal.public_id), "from": from_state, "to": appeal.state, **(payload or {})},
    )
    if event_type is not None:
        webhooks.appeal_event_record(application, appeal, event_type=event_type, from_state=from_state, action=action)


def appeal_file(
    *,
    application_id: UUID | str,
    side: str,
    actor: Actor,
    statement: str,
    reason_codes: Sequence[str] = (),
    attachments: Sequence[IO[bytes]] = (),
) -> Appeal:
    """Appeal the application's decision for ``side`` (merchant or buyer), with a statement, its
    reasons and supporting files.

    Raise InvalidInput/UploadRejected for a bad side, statement, reason or file (storing
    nothing); Conflict when the application is not decided, the decision went the side's way,
    the window has closed, an appeal is open, the side has appealed already, or an appeal
    overturned the decision.
    """
    statement, reason_codes = statement_checked(
        statement, reason_codes, known=AppealReason.values, required=ErrorCode.APPEAL_STATEMENT_REQUIRED
    )
    uploads = attachments_checked(attachments)
    with locked_application(application_id) as application:
        refusal = _filing_refusal(application, side, now=timezone.now())
        if refusal is not None:
            raise refusal
        appeal = Appeal.objects.create(
            application=application,
            decision=application.decision,
            side=side,
            statement=statement,
            reason_codes=reason_codes,
            filed_by=actor.user,
            filed_by_label=actor.label[:200],
        )
        for upload in uploads:
            AppealAttachment.objects.create(appeal=appeal, **image_fields(upload, name=store(upload, folder="appeals")))
        _record(
            application,
            appeal,
            actor=actor,
            action=AuditAction.APPEAL_FILE,
            from_state="",
            event_type=WebhookEventType.APPEAL_FILED,
            reason=", ".join(reason_codes),
            payload={
                "side": side,
                "statement_chars": len(statement),
                "attachments": [u.sha256 for u in uploads],
                "reason_codes": reason_codes,
            },
        )
        return appeal


def locked_appeal(appeal_id: UUID | str) -> AbstractContextManager[tuple[RefundApplication, Appeal]]:
    """Open a transaction and yield the appeal and its application, both rows locked; raise
    NotFound for an unknown id."""
    return locked_with_application(Appeal, appeal_id, object_name=_("appeal"), related=("decision", "claimed_by"))


def _invalid_state(appeal: Appeal) -> Conflict:
    if appeal.state in (AppealState.UPHELD, AppealState.OVERTURNED):
        return Conflict(ErrorCode.APPEAL_ALREADY_DECIDED, details={"state": appeal.state})
    return Conflict(ErrorCode.APPEAL_INVALID_STATE, state=appeal.get_state_display(), details={"state": appeal.state})


def _require_other_reviewer(appeal: Appeal, reviewer: User) -> None:
    """Raise Forbidden when the reviewer made the decision the appeal is about, or is reviewing
    it blind a second time (the appeal's page would show it the decision)."""
    if appeal.decision.actor_id is not None and appeal.decision.actor_id == reviewer.pk:
        raise Forbidden(ErrorCode.APPEAL_SAME_REVIEWER)
    blind = QAReview.objects.filter(decision_id=appeal.decision_id, claimed_by=reviewer)
    if blind.exclude(state__in=QA_REVIEWED_STATES).exists():
        raise Forbidden(ErrorCode.APPEAL_SECOND_REVIEW_PENDING)


def appeal_claim(*, appeal_id: UUID | str, reviewer: User) -> Appeal:
    """Claim an open appeal for the reviewer (or extend the reviewer's own claim).

    Raise Forbidden for a reviewer without the permission or who made the decision appealed;
    Conflict ``appeal_claimed_by_other`` while another reviewer's claim is live, and
    ``appeal_already_decided`` or ``appeal_invalid_state`` once it is closed.
    """
    require_perm(reviewer, CLAIM)
    with locked_appeal(appeal_id) as (application, appeal):
        if not can_proceed(appeal.claim, check_conditions=False):
            raise _invalid_state(appeal)
        _require_other_reviewer(appeal, reviewer)
        until = timezone.now() + application.platform.policy.claim_timeout
        from_state = claim_or_renew(
            appeal,
            reviewer=reviewer,
            until=until,
            holds_it=appeal.state == AppealState.IN_REVIEW and appeal.claimed_by_id == reviewer.pk,
            taken=ErrorCode.APPEAL_CLAIMED_BY_OTHER,
        )
        if from_state is None:
            return appeal
        _record(
            application,
            appeal,
            actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
            action=AuditAction.APPEAL_CLAIM,
            from_state=from_state,
            # Taking over an expired claim changes who holds it, not where the appeal stands.
            event_type=WebhookEventType.APPEAL_IN_REVIEW if from_state != appeal.state else None,
            payload={"until": until.isoformat()},
        )
        return appeal


def appeal_decide(
    *,
    appeal_id: UUID | str,
    reviewer: User,
    verdict: str,
    note: str,
    outcome: str = "",
    reason_codes: Sequence[str] = (),
    approved_amount: Decimal | None = None,
) -> Appeal:
    """Uphold the decision appealed, or overturn it with a new outcome (reasons fitting it and,
    for a partial approval, the amount), explaining either in a note.

    Raise InvalidInput for a bad verdict, outcome, reason, note or amount, or an overturn that
    changes nothing; Forbidden for a reviewer without the permission, who made the decision, or
    without the seniority the new outcome needs; Conflict ``appeal_already_decided`` when
    another decider was first, ``appeal_claim_required`` or ``appeal_claimed_by_other`` when the
    reviewer (not a senior) does not hold the claim.
    """
    if verdict not in AppealVerdict.values:
        raise InvalidInput(
            ErrorCode.INVALID_APPEAL_VERDICT, details={"param": "verdict", "allowed": AppealVerdict.values}
        )
    overturn = verdict == AppealVerdict.OVERTURNED
    if overturn:
        note = decision_input_check(reviewer, outcome, reason_codes, note)
    else:
        # Upholding keeps the decision's own reasons; the note says why they stand.
        require_perm(reviewer, DECIDE)
        note = (note or "").strip()
        if not note:
            raise InvalidInput(ErrorCode.NOTE_REQUIRED, details={"param": "note"})
        outcome, reason_codes, approved_amount = "", [], None
    with locked_appeal(appeal_id) as (application, appeal):
        if not can_proceed(appeal.uphold):
            raise _invalid_state(appeal)
        _require_other_reviewer(appeal, reviewer)
        if not is_senior(reviewer) and (appeal.claimed_by_id != reviewer.pk or appeal.has_no_live_claim()):
            if not appeal.has_no_live_claim():
                raise claimed_by_other(ErrorCode.APPEAL_CLAIMED_BY_OTHER, appeal)
            raise Conflict(ErrorCode.APPEAL_CLAIM_REQUIRED)
        original = appeal.decision
        amount: Decimal | None = None
        if overturn:
            amount = decision_amount(application, outcome, approved_amount)
            if outcome == original.outcome and amount == original.approved_amount:
                raise InvalidInput(ErrorCode.OVERTURN_CHANGES_NOTHING, details={"param": "outcome"})
            seniority_check(application, reviewer, outcome, amount)
        from_state = appeal.state
        (appeal.overturn if overturn else appeal.uphold)()
        appeal.save()
        AppealDecision.objects.create(
            appeal=appeal,
            verdict=verdict,
            overturns=original if overturn else None,
            outcome=outcome,
            approved_amount=amount,
            currency=application.currency,
            reviewer=reviewer,
            reason_codes=list(reason_codes),
            note=note,
        )
        payload: dict[str, Any] = {"verdict": verdict, "note": note}
        if overturn:
            payload |= {"outcome": outcome, "amount": str(amount), "reason_codes": list(reason_codes)}
        _record(
            application,
            appeal,
            actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
            action=AuditAction.APPEAL_OVERTURN if overturn else AuditAction.APPEAL_UPHOLD,
            from_state=from_state,
            event_type=WebhookEventType.APPEAL_DECIDED,
            reason=", ".join(reason_codes),
            payload=payload,
        )
        notifications.notifications_record_appeal_decided(application, appeal=appeal)
        return appeal


def appeal_withdraw(*, appeal_id: UUID | str, actor: Actor, side: str | None = None, reason: str = "") -> Appeal:
    """Withdraw an open appeal; with ``side``, only that side's (the portal passes the merchant's).

    Raise NotFound for another side's appeal, Conflict once the appeal is decided or withdrawn.
    """
    with locked_appeal(appeal_id) as (application, appeal):
        if side is not None and appeal.side != side:
            raise NotFound(ErrorCode.NOT_FOUND, object=_("appeal"))
        if not can_proceed(appeal.withdraw):
            raise _invalid_state(appeal)
        from_state = appeal.state
        appeal.withdraw()
        appeal.save()
        _record(
            application,
            appeal,
            actor=actor,
            action=AuditAction.APPEAL_WITHDRAW,
            from_state=from_state,
            event_type=WebhookEventType.APPEAL_WITHDRAWN,
            reason=reason,
        )
        return appeal
