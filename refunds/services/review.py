"""Human review: claims and decisions."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from refunds.errors import Conflict, Forbidden, InvalidInput
from refunds.models import RefundApplication
from refunds.services._base import Actor, DecisionSpec, apply, ensure_can, locked_application
from refunds.states import ActorKind, ApplicationState, DecisionReason, Outcome


def _require_perm(user: AbstractBaseUser, perm: str) -> None:
    if not user.has_perm(perm):
        raise Forbidden("permission_denied", _("You do not have permission to do this."), details={"permission": perm})


def _claimed_by_other() -> Conflict:
    return Conflict("claimed_by_other", _("Another reviewer has claimed this application."))


def application_claim(*, application_id: UUID | str, reviewer: AbstractBaseUser) -> RefundApplication:
    """Claim an application in review for the reviewer (or extend the reviewer's own claim)."""
    _require_perm(reviewer, "refunds.claim_refundapplication")
    with locked_application(application_id) as application:
        if application.state == ApplicationState.IN_REVIEW and application.claimed_by_id == reviewer.pk:
            application.claim_expires_at = timezone.now() + application.platform.policy.claim_timeout
            application.save(update_fields=["claim_expires_at", "updated_at"])
            return application
        ensure_can(application, application.claim, refusal=_claimed_by_other())
        until = timezone.now() + application.platform.policy.claim_timeout
        apply(application, application.claim, actor=Actor.of_user(ActorKind.REVIEWER, reviewer), action="claim",
              payload={"until": until.isoformat()}, reviewer=reviewer, until=until)
        return application


def application_release_claim(*, application_id: UUID | str, actor: Actor, reason: str = "") -> RefundApplication | None:
    """Give the application back to the queue; None if it holds no claim."""
    with locked_application(application_id) as application:
        if application.state != ApplicationState.IN_REVIEW or application.claimed_by_id is None:
            return None
        if actor.kind == ActorKind.REVIEWER and actor.user is not None and application.claimed_by_id != actor.user.pk:
            raise _claimed_by_other()
        apply(application, application.release_claim, actor=actor, action="release_claim", reason=reason)
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
            if (application.state != ApplicationState.IN_REVIEW or application.claim_expires_at is None
                    or application.claim_expires_at > timezone.now()):
                continue
            apply(application, application.release_claim, actor=Actor.system("claim expiry"), action="release_claim",
                  reason="claim expired")
            released += 1
    return released


def application_decide(
    *,
    application_id: UUID | str,
    reviewer: AbstractBaseUser,
    outcome: str,
    reason_codes: Sequence[str],
    approved_amount: Decimal | None = None,
    note: str = "",
) -> RefundApplication:
    """Decide an application in review. The loser of a race gets Conflict (``invalid_state``)."""
    _require_perm(reviewer, "refunds.decide_refundapplication")
    if outcome not in Outcome.values:
        raise InvalidInput("invalid_outcome", _("Unknown outcome."), details={"field": "outcome", "allowed": Outcome.values})
    if not reason_codes or any(code not in DecisionReason.values for code in reason_codes):
        raise InvalidInput("invalid_reason_codes", _("Give one or more known reason codes."),
                           details={"field": "reason_codes", "allowed": DecisionReason.values})
    with locked_application(application_id) as application:
        ensure_can(application, application.decide_by_reviewer)
        if application.claimed_by_id not in (None, reviewer.pk) and not application.has_no_live_claim():
            raise _claimed_by_other()
        amount = _approved_amount(application, outcome, approved_amount)
        apply(application, application.decide_by_reviewer, actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
              action="decide", reason=", ".join(reason_codes),
              payload={"outcome": outcome, "amount": str(amount), "note": note},
              decision=DecisionSpec(outcome, amount, reason_codes, note))
        return application


def _approved_amount(application: RefundApplication, outcome: str, amount: Decimal | None) -> Decimal:
    if outcome == Outcome.APPROVED:
        return application.amount
    if outcome == Outcome.REJECTED:
        return Decimal("0.00")
    if amount is None or not (Decimal("0") < amount < application.amount) or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput("invalid_amount", _("A partial approval needs an amount between zero and the amount claimed."),
                           details={"field": "approved_amount"})
    return amount
