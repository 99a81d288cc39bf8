"""Human review: claims and decisions.

A reviewer decides only an application they hold a live claim on; a senior reviewer may
decide without one (overriding another reviewer's claim). Approving, in full or in part, an
application screened ``forged`` or paying more than the policy's senior ceiling needs a
senior reviewer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_fsm import can_proceed

from refunds.errors import Conflict, ErrorCode, Forbidden, InvalidInput
from refunds.models import Appeal, Decision, QAReview, RefundApplication
from refunds.roles import CLAIM, DECIDE, is_senior
from refunds.selectors import queue_ordering
from refunds.services._base import (
    Actor,
    DecisionSpec,
    apply,
    awaiting_second_photo,
    ensure_can,
    locked_application,
)
from refunds.services.sampling import qa_review_sample
from refunds.states import REVIEWER_REASONS, ActorKind, ApplicationState, EvidenceRequestState, Outcome, RiskLevel
from refunds.vocab import CLAIM_EXPIRED_REASON, CLAIM_EXPIRY_ACTOR_LABEL, AuditAction


@dataclass(frozen=True)
class ReviewerRights:
    """What a user may do with an application now: the pages ask this instead of judging."""

    may_claim: bool
    may_decide: bool
    # Holds the permission at all (the panel shows why not, rather than hiding itself).
    may_decide_at_all: bool
    senior: bool


def decision_permissions(*, application: RefundApplication, user: User) -> ReviewerRights:
    """Return what the user may do with the application now, by the rules the services apply:
    deciding needs the permission, the state machine's leave, and the live claim or seniority."""
    in_review = can_proceed(application.decide_by_reviewer)
    holds = application.claimed_by_id == user.pk and not application.has_no_live_claim()
    senior = is_senior(user)
    return ReviewerRights(
        # Claiming again renews one's own claim, so the claim's own guard is not asked here.
        may_claim=user.has_perm(CLAIM)
        and can_proceed(application.claim, check_conditions=False)
        and application.has_no_open_evidence_request(),
        may_decide=user.has_perm(DECIDE) and in_review and (holds or senior),
        may_decide_at_all=user.has_perm(DECIDE),
        senior=senior,
    )


def require_perm(user: User, perm: str) -> None:
    if not user.has_perm(perm):
        raise Forbidden(ErrorCode.PERMISSION_DENIED, details={"permission": perm})


def _claimed_by_other(application: RefundApplication) -> Conflict:
    return claimed_by_other(ErrorCode.CLAIMED_BY_OTHER, application)


def claimed_by_other(code: ErrorCode, claimed: RefundApplication | Appeal | QAReview) -> Conflict:
    """Return the refusal naming who holds the live claim on an application, an appeal or a second
    review, and until when."""
    holder = claimed.claimed_by.get_username() if claimed.claimed_by else ""
    until = claimed.claim_expires_at
    assert until is not None  # a live claim has an expiry
    return Conflict(
        code,
        holder=holder,
        until=timezone.localtime(until).strftime("%Y-%m-%d %H:%M"),
        details={"claimed_by": holder, "claim_expires_at": until.isoformat()},
    )


def claim_or_renew(
    claimed: Appeal | QAReview, *, reviewer: User, until: datetime, holds_it: bool, taken: ErrorCode
) -> str | None:
    """Extend the reviewer's own claim on an appeal or a second review and return None, or claim
    it and return the state it was claimed from, for the caller's audit record.

    Raise Conflict ``taken`` while another reviewer's claim is live. The caller holds the row
    lock and has checked that the reviewer may claim it at all.
    """
    if holds_it:
        claimed.claim_expires_at = until
        claimed.save(update_fields=["claim_expires_at"])
        return None
    if not claimed.has_no_live_claim():
        raise claimed_by_other(taken, claimed)
    from_state = claimed.state
    claimed.claim(reviewer=reviewer, until=until)
    claimed.save()
    return from_state


def application_claim(*, application_id: UUID | str, reviewer: User) -> RefundApplication:
    """Claim an application in review for the reviewer (or extend the reviewer's own claim).

    Raise Conflict ``claimed_by_other`` while another reviewer's claim is live.
    """
    require_perm(reviewer, CLAIM)
    with locked_application(application_id) as application:
        until = timezone.now() + application.platform.policy.claim_timeout
        if application.state == ApplicationState.IN_REVIEW and application.claimed_by_id == reviewer.pk:
            application.claim_expires_at = until
            application.save(update_fields=["claim_expires_at", "updated_at"])
            return application
        if application.state == ApplicationState.IN_REVIEW and not application.has_no_live_claim():
            raise _claimed_by_other(application)
        if application.state == ApplicationState.IN_REVIEW and (waiting := awaiting_second_photo(application)):
            raise waiting
        ensure_can(application, application.claim)
        apply(
            application,
            application.claim,
            actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
            action=AuditAction.CLAIM,
            payload={"until": until.isoformat()},
            reviewer=reviewer,
            until=until,
        )
        return application


def application_claim_next(*, reviewer: User) -> RefundApplication | None:
    """Claim the unclaimed application in review that is due first; None if there is none.

    Rows another reviewer is claiming at this moment are skipped (not waited for), so any
    number of reviewers pressing "claim next" together each get a different application.
    """
    require_perm(reviewer, CLAIM)
    now = timezone.now()
    with transaction.atomic():
        application = (
            RefundApplication.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("platform__policy", "merchant")
            .filter(state=ApplicationState.IN_REVIEW)
            .filter(Q(claimed_by__isnull=True) | Q(claim_expires_at__lte=now))
            # Waiting for the buyer's second photo: nothing to review until it comes.
            .exclude(evidence_requests__state=EvidenceRequestState.OPEN)
            .order_by(*queue_ordering())
            .first()
        )
        if application is None:
            return None
        until = now + application.platform.policy.claim_timeout
        apply(
            application,
            application.claim,
            actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
            action=AuditAction.CLAIM,
            payload={"until": until.isoformat()},
            reviewer=reviewer,
            until=until,
        )
        return application


def application_release_claim(
    *, application_id: UUID | str, actor: Actor, reason: str = ""
) -> RefundApplication | None:
    """Give the application back to the queue; None if it holds no claim."""
    with locked_application(application_id) as application:
        if application.state != ApplicationState.IN_REVIEW or application.claimed_by_id is None:
            return None
        if actor.kind == ActorKind.REVIEWER and actor.user is not None and application.claimed_by_id != actor.user.pk:
            raise _claimed_by_other(application)
        apply(application, application.release_claim, actor=actor, action=AuditAction.RELEASE_CLAIM, reason=reason)
        return application


def release_expired_claims() -> int:
    """Release every claim whose idle period has run out; return how many."""
    expired = RefundApplication.objects.filter(
        state=ApplicationState.IN_REVIEW, claim_expires_at__lte=timezone.now()
    ).values_list("public_id", flat=True)
    released = 0
    for public_id in expired:
        with locked_application(public_id) as application:
            # Re-checked under the lock: the reviewer may have renewed or used the claim meanwhile.
            if (
                application.state != ApplicationState.IN_REVIEW
                or application.claim_expires_at is None
                or application.claim_expires_at > timezone.now()
            ):
                continue
            holder = application.claimed_by.get_username() if application.claimed_by else ""
            apply(
                application,
                application.release_claim,
                actor=Actor.system(CLAIM_EXPIRY_ACTOR_LABEL),
                action=AuditAction.RELEASE_CLAIM,
                reason=CLAIM_EXPIRED_REASON,
                payload={"holder": holder},
            )
            released += 1
    return released


def application_decide(
    *,
    application_id: UUID | str,
    reviewer: User,
    outcome: str,
    reason_codes: Sequence[str],
    note: str,
    approved_amount: Decimal | None = None,
) -> RefundApplication:
    """Decide an application in review: approve, partially approve (0 < amount < claimed) or reject,
    with reason codes fitting the outcome and a note.

    Raise InvalidInput for a bad outcome, reason, note or amount; Forbidden when the reviewer
    lacks the permission or the seniority the decision needs; Conflict ``already_decided``
    when another decider was first, ``claim_expired``, ``claim_required`` or
    ``claimed_by_other`` when the reviewer does not hold the claim.
    """
    note = decision_input_check(reviewer, outcome, reason_codes, note)
    with locked_application(application_id) as application:
        amount = _check_decision(application, reviewer, outcome, approved_amount)
        overridden = (
            application.claimed_by.get_username()
            if (
                application.claimed_by is not None
                and application.claimed_by_id != reviewer.pk
                and not application.has_no_live_claim()
            )
            else ""
        )
        payload = {"outcome": outcome, "amount": str(amount), "note": note, "reason_codes": list(reason_codes)}
        if overridden:
            payload["overrode_claim_of"] = overridden
        apply(
            application,
            application.decide_by_reviewer,
            actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
            action=AuditAction.DECIDE,
            reason=", ".join(reason_codes),
            payload=payload,
            decision=DecisionSpec(outcome, amount, reason_codes, note),
        )
        # Only reviewers' decisions are sampled: a merchant's acceptance is no judgement, and the
        # system approves only what screening cleared (invariant 1, checked on its own).
        qa_review_sample(application=application, decision=Decision.objects.get(application=application))
        return application


def application_decision_check(
    *,
    application: RefundApplication,
    reviewer: User,
    outcome: str,
    reason_codes: Sequence[str],
    note: str,
    approved_amount: Decimal | None = None,
) -> None:
    """Raise what application_decide would raise for this decision now, without deciding: a
    surface asks before its confirmation step, so a refusal comes before the reviewer confirms
    and nothing typed is lost. (The decision itself checks again under the row lock.)"""
    decision_input_check(reviewer, outcome, reason_codes, note)
    _check_decision(application, reviewer, outcome, approved_amount)


def decision_input_check(reviewer: User, outcome: str, reason_codes: Sequence[str], note: str) -> str:
    """Check what a decision says, whatever the application; return the note stripped."""
    require_perm(reviewer, DECIDE)
    if outcome not in Outcome.values:
        raise InvalidInput(ErrorCode.INVALID_OUTCOME, details={"param": "outcome", "allowed": Outcome.values})
    allowed = [str(code) for code in REVIEWER_REASONS[outcome]]
    if not reason_codes or any(code not in allowed for code in reason_codes):
        raise InvalidInput(
            ErrorCode.INVALID_REASON_CODES,
            details={"param": "reason_codes", "allowed": allowed},
        )
    note = (note or "").strip()
    if not note:
        raise InvalidInput(ErrorCode.NOTE_REQUIRED, details={"param": "note"})
    return note


def _check_decision(
    application: RefundApplication, reviewer: User, outcome: str, approved_amount: Decimal | None
) -> Decimal:
    """Check that this reviewer may decide the application so now; return the amount refunded."""
    senior = is_senior(reviewer)
    if application.state == ApplicationState.DECIDED:
        raise Conflict(ErrorCode.ALREADY_DECIDED, details={"state": application.state})
    if application.state == ApplicationState.IN_REVIEW and (waiting := awaiting_second_photo(application)):
        raise waiting
    ensure_can(application, application.decide_by_reviewer)
    if not senior:
        _check_claim(application, reviewer)
    amount = decision_amount(application, outcome, approved_amount)
    seniority_check(application, reviewer, outcome, amount)
    return amount


def seniority_check(application: RefundApplication, reviewer: User, outcome: str, amount: Decimal) -> None:
    """Raise Forbidden when refunding ``amount`` of this application needs a senior reviewer
    (forged evidence, or more than the policy's ceiling) and the reviewer is not one."""
    if outcome != Outcome.REJECTED and not is_senior(reviewer):
        if application.risk_level == RiskLevel.FORGED:
            raise Forbidden(
                ErrorCode.SENIOR_REQUIRED,
                details={"risk_level": application.risk_level},
            )
        ceiling = application.platform.policy.senior_amount_ceiling
        if amount > ceiling:
            raise Forbidden(
                ErrorCode.SENIOR_REQUIRED_ABOVE_CEILING,
                ceiling=ceiling,
                currency=application.currency,
                details={"ceiling": str(ceiling)},
            )


def _check_claim(application: RefundApplication, reviewer: User) -> None:
    live = not application.has_no_live_claim()
    if application.claimed_by_id == reviewer.pk and live:
        return
    if application.claimed_by_id not in (None, reviewer.pk) and live:
        raise _claimed_by_other(application)
    if application.claimed_by_id == reviewer.pk or _claim_expired_for(application, reviewer):
        raise Conflict(ErrorCode.CLAIM_EXPIRED)
    raise Conflict(ErrorCode.CLAIM_REQUIRED)


def _claim_expired_for(application: RefundApplication, reviewer: User) -> bool:
    """Whether the reviewer's claim was the last one and the expiry job released it."""
    last = (
        application.audit_events.filter(action=AuditAction.RELEASE_CLAIM)
        .order_by("-seq")
        .values_list("actor_label", "payload")
        .first()
    )
    return last is not None and last[0] == CLAIM_EXPIRY_ACTOR_LABEL and last[1].get("holder") == reviewer.get_username()


def decision_amount(application: RefundApplication, outcome: str, amount: Decimal | None) -> Decimal:
    """Return what a decision with this outcome refunds; raise InvalidInput for a partial
    approval whose amount is not between zero and the amount claimed."""
    if outcome == Outcome.APPROVED:
        return application.amount
    if outcome == Outcome.REJECTED:
        return Decimal("0.00")
    if amount is None or not (Decimal("0") < amount < application.amount) or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(ErrorCode.INVALID_APPROVED_AMOUNT, details={"param": "approved_amount"})
    return amount
