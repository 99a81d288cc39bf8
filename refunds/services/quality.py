"""Blind second reviews: another reviewer decides a sampled decision again without seeing it.

A reviewer other than the one who made the decision claims the second review and records an
outcome of their own (with reasons, a note and, for a partial approval, the amount), by the
rules of a decision's content but without its seniority rules: a second opinion refunds nothing.
Agreeing (same outcome, same amount) closes it; disagreeing sends it to a senior reviewer, who
was neither of the two and records which was right. Nothing here changes the decision the
parties were told: a party who thinks it wrong appeals it.

Every service locks the application's row first, then the second review's, as the appeal
services do: the review's steps are written in the application's audit chain, which that lock
orders, and two reviewers recording at once are serialised by it (the second finds it recorded).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from refunds import audit
from refunds.errors import Conflict, ErrorCode, Forbidden, InvalidInput
from refunds.models import Appeal, QAReview, RefundApplication
from refunds.roles import CLAIM, DECIDE, is_senior
from refunds.services._base import Actor, locked_with_application
from refunds.services.review import (
    claim_or_renew,
    claimed_by_other,
    decision_amount,
    decision_input_check,
    require_perm,
)
from refunds.states import ActorKind, QAResolution, QAReviewState
from refunds.vocab import AuditAction


def locked_qa_review(qa_review_id: UUID | str) -> AbstractContextManager[tuple[RefundApplication, QAReview]]:
    """Open a transaction and yield the second review and its application, both rows locked;
    raise NotFound for an unknown id."""
    return locked_with_application(
        QAReview, qa_review_id, object_name=_("second review"), related=("decision", "claimed_by")
    )


def _record(
    application: RefundApplication,
    review: QAReview,
    *,
    actor: Actor,
    action: str,
    from_state: str,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> None:
    """Append the second review's step to the application's audit chain (no webhook: the parties'
    decision has not changed), in the caller's transaction, under the lock."""
    audit.record(
        application,
        action=action,
        from_state=application.state,
        actor_kind=actor.kind,
        actor_label=actor.label,
        reason=reason,
        payload={"qa_review": str(review.public_id), "from": from_state, "to": review.state, **(payload or {})},
    )


def _invalid_state(review: QAReview) -> Conflict:
    if review.is_recorded:
        return Conflict(ErrorCode.QA_ALREADY_RECORDED, details={"state": review.state})
    return Conflict(ErrorCode.QA_INVALID_STATE, state=review.get_state_display(), details={"state": review.state})


def _made_the_decision(review: QAReview, user: User) -> bool:
    return review.decision.actor_id is not None and review.decision.actor_id == user.pk


def _handled_an_appeal(review: QAReview, user: User) -> bool:
    # The appeal's page shows the decision appealed: whoever claimed or decided the appeal has
    # seen it, and could not review it blind.
    return (
        Appeal.objects.filter(decision_id=review.decision_id)
        .filter(Q(claimed_by=user) | Q(appeal_decision__reviewer=user))
        .exists()
    )


def _may_review_blind(review: QAReview, user: User) -> bool:
    return not _made_the_decision(review, user) and not _handled_an_appeal(review, user)


def _require_second_reviewer(review: QAReview, reviewer: User) -> None:
    """Raise Forbidden when the reviewer made the decision under review or handled an appeal of it."""
    if _made_the_decision(review, reviewer):
        raise Forbidden(ErrorCode.QA_SAME_REVIEWER)
    if _handled_an_appeal(review, reviewer):
        raise Forbidden(ErrorCode.QA_HANDLED_THE_APPEAL)


@dataclass(frozen=True)
class QAReviewRights:
    """What a user may do with a second review now, and whether its page may show the decision:
    the admin page asks this instead of judging."""

    may_claim: bool
    may_record: bool
    may_resolve: bool
    # Blind until the second outcome is recorded; afterwards the comparison is what seniors judge.
    shows_decision: bool


def qa_review_rights(*, review: QAReview, user: User) -> QAReviewRights:
    """Return what the user may do with the second review now, by the rules the services apply."""
    second = _may_review_blind(review, user)
    holds = review.claimed_by_id == user.pk and not review.has_no_live_claim()
    return QAReviewRights(
        may_claim=user.has_perm(CLAIM) and second and can_proceed(review.claim),
        may_record=user.has_perm(DECIDE) and second and review.state == QAReviewState.CLAIMED and holds,
        may_resolve=(
            is_senior(user) and review.state == QAReviewState.DISAGREED and second and review.reviewer_id != user.pk
        ),
        shows_decision=review.is_recorded,
    )


def qa_review_claim(*, qa_review_id: UUID | str, reviewer: User) -> QAReview:
    """Claim an open second review for the reviewer (or extend the reviewer's own claim).

    Raise Forbidden for a reviewer without the permission or who made the decision; Conflict
    ``qa_claimed_by_other`` while another reviewer's claim is live, ``qa_already_recorded`` once
    it is recorded.
    """
    require_perm(reviewer, CLAIM)
    with locked_qa_review(qa_review_id) as (application, review):
        if not can_proceed(review.claim, check_conditions=False):
            raise _invalid_state(review)
        _require_second_reviewer(review, reviewer)
        until = timezone.now() + application.platform.policy.claim_timeout
        from_state = claim_or_renew(
            review,
            reviewer=reviewer,
            until=until,
            holds_it=review.claimed_by_id == reviewer.pk and not review.has_no_live_claim(),
            taken=ErrorCode.QA_CLAIMED_BY_OTHER,
        )
        if from_state is None:
            return review
        _record(
            application,
            review,
            actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
            action=AuditAction.QA_CLAIM,
            from_state=from_state,
            payload={"until": until.isoformat()},
        )
        return review


def qa_review_record(
    *,
    qa_review_id: UUID | str,
    reviewer: User,
    outcome: str,
    reason_codes: Sequence[str],
    note: str,
    approved_amount: Decimal | None = None,
) -> QAReview:
    """Record the second reviewer's own outcome; agreeing with the decision (same outcome and
    amount) closes the review, disagreeing sends it to a senior reviewer.

    Raise InvalidInput for a bad outcome, reason, note or amount; Forbidden for a reviewer
    without the permission or who made the decision; Conflict ``qa_already_recorded`` when
    another reviewer was first, ``qa_claim_required`` or ``qa_claimed_by_other`` when the
    reviewer does not hold the claim.
    """
    note = decision_input_check(reviewer, outcome, reason_codes, note)
    with locked_qa_review(qa_review_id) as (application, review):
        if review.state != QAReviewState.CLAIMED:
            raise _invalid_state(review) if review.is_recorded else Conflict(ErrorCode.QA_CLAIM_REQUIRED)
        _require_second_reviewer(review, reviewer)
        if review.claimed_by_id != reviewer.pk or review.has_no_live_claim():
            if not review.has_no_live_claim():
                raise claimed_by_other(ErrorCode.QA_CLAIMED_BY_OTHER, review)
            raise Conflict(ErrorCode.QA_CLAIM_REQUIRED)
        amount = decision_amount(application, outcome, approved_amount)
        decision = review.decision
        agrees = outcome == decision.outcome and amount == decision.approved_amount
        from_state = review.state
        (review.agree if agrees else review.disagree)(
            reviewer=reviewer, outcome=outcome, amount=amount, reason_codes=list(reason_codes), note=note
        )
        review.save()
        _record(
            application,
            review,
            actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
            action=AuditAction.QA_AGREE if agrees else AuditAction.QA_DISAGREE,
            from_state=from_state,
            reason=", ".join(reason_codes),
            payload={"outcome": outcome, "amount": str(amount), "note": note, "reason_codes": list(reason_codes)},
        )
        return review


def qa_review_resolve(*, qa_review_id: UUID | str, senior: User, resolution: str, note: str) -> QAReview:
    """Record, as a senior reviewer who was neither the decider nor the second reviewer, which of
    the two was right when they disagreed. The decision itself stays as it was.

    Raise InvalidInput for a bad resolution or an empty note; Forbidden for a reviewer who is not
    a senior or who took part; Conflict once resolved, or while the review has not disagreed.
    """
    if resolution not in QAResolution.values:
        raise InvalidInput(
            ErrorCode.INVALID_QA_RESOLUTION, details={"param": "resolution", "allowed": QAResolution.values}
        )
    note = (note or "").strip()
    if not note:
        raise InvalidInput(ErrorCode.NOTE_REQUIRED, details={"param": "note"})
    if not is_senior(senior):
        raise Forbidden(ErrorCode.QA_SENIOR_REQUIRED)
    with locked_qa_review(qa_review_id) as (application, review):
        if not can_proceed(review.resolve):
            raise Conflict(
                ErrorCode.QA_INVALID_STATE, state=review.get_state_display(), details={"state": review.state}
            )
        if _made_the_decision(review, senior) or review.reviewer_id == senior.pk:
            raise Forbidden(ErrorCode.QA_RESOLVER_INVOLVED)
        from_state = review.state
        review.resolve(senior=senior, resolution=resolution, note=note)
        review.save()
        _record(
            application,
            review,
            actor=Actor.of_user(ActorKind.REVIEWER, senior),
            action=AuditAction.QA_RESOLVE,
            from_state=from_state,
            reason=resolution,
            payload={"resolution": resolution, "note": note},
        )
        return review
