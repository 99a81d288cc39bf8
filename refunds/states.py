"""The vocabulary of an application's lifecycle (docs/design.md §2)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ApplicationState(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    AUTO_SCREENED = "auto_screened", _("Auto-screened")
    AWAITING_MERCHANT = "awaiting_merchant", _("Awaiting merchant")
    IN_REVIEW = "in_review", _("In human review")
    DECIDED = "decided", _("Decided")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_STATES = (
    ApplicationState.SUBMITTED,
    ApplicationState.AUTO_SCREENED,
    ApplicationState.AWAITING_MERCHANT,
    ApplicationState.IN_REVIEW,
)
TERMINAL_STATES = (ApplicationState.DECIDED, ApplicationState.WITHDRAWN)


class AppealState(models.TextChoices):
    """Where an appeal of a decision stands; the application itself stays ``decided`` throughout."""

    FILED = "filed", _("Filed")
    IN_REVIEW = "in_review", _("In review")
    UPHELD = "upheld", _("Upheld")
    OVERTURNED = "overturned", _("Overturned")
    WITHDRAWN = "withdrawn", _("Withdrawn")


OPEN_APPEAL_STATES = (AppealState.FILED, AppealState.IN_REVIEW)


class AppealVerdict(models.TextChoices):
    """What the reviewer of an appeal decided (the appeal's final state has the same name)."""

    UPHELD = AppealState.UPHELD.value, _("Decision upheld")
    OVERTURNED = AppealState.OVERTURNED.value, _("Decision overturned")


class QAReviewState(models.TextChoices):
    """Where a blind second review of a decision stands. Neither it nor its resolution ever
    changes the decision the parties were told: only an appeal does."""

    OPEN = "open", _("Waiting for a second reviewer")
    CLAIMED = "claimed", _("Claimed by a second reviewer")
    AGREED = "agreed", _("Second review agreed")
    DISAGREED = "disagreed", _("Second review disagreed; with a senior reviewer")
    RESOLVED = "resolved", _("Disagreement resolved by a senior reviewer")


# A second review whose reviewer has recorded an outcome (the agreement rate's denominator).
QA_REVIEWED_STATES = (QAReviewState.AGREED, QAReviewState.DISAGREED, QAReviewState.RESOLVED)


class QAResolution(models.TextChoices):
    """What a senior reviewer found when the second review disagreed with the decision."""

    DECISION_STANDS = "decision_stands", _("The decision was right")
    SECOND_REVIEW_STANDS = "second_review_stands", _("The second review was right")


class AppealSide(models.TextChoices):
    """Who appeals: the merchant (portal or API), or the platform on the buyer's behalf (API)."""

    MERCHANT = "merchant", _("Merchant")
    BUYER = "buyer", _("Buyer")


class EvidenceRequestState(models.TextChoices):
    """Where a request for another photo of the damage stands; the application stays ``in_review``."""

    OPEN = "open", _("Waiting for the buyer's second photo")
    ANSWERED = "answered", _("Answered")
    EXPIRED = "expired", _("Expired without an answer")
    CANCELLED = "cancelled", _("Cancelled")


class RiskLevel(models.TextChoices):
    CLEAN = "clean", _("Clean")
    SUSPICIOUS = "suspicious", _("Suspicious")
    FORGED = "forged", _("Forged")


class Outcome(models.TextChoices):
    APPROVED = "approved", _("Approved")
    PARTIALLY_APPROVED = "partially_approved", _("Partially approved")
    REJECTED = "rejected", _("Rejected")


class ActorKind(models.TextChoices):
    SYSTEM = "system", _("System")
    PLATFORM = "platform", _("Platform")
    MERCHANT = "merchant", _("Merchant")
    REVIEWER = "reviewer", _("Reviewer")
    # An operator changing a platform's settings in the admin.
    STAFF = "staff", _("Operator")


class RefundReason(models.TextChoices):
    DAMAGED = "damaged", _("Arrived damaged")
    DEFECTIVE = "defective", _("Defective")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    WRONG_ITEM = "wrong_item", _("Wrong item")
    MISSING_PARTS = "missing_parts", _("Missing parts")


class DecisionReason(models.TextChoices):
    MERCHANT_ACCEPTED = "merchant_accepted", _("The merchant accepted the refund")
    FAST_TRACK_CLEAN = "fast_track_clean", _("Clean screening below the fast-track ceiling")
    WINDOW_EXPIRED_CLEAN = "window_expired_clean", _("Merchant window closed; screening clean")
    EVIDENCE_CONSISTENT = "evidence_consistent", _("The evidence supports the claim")
    EVIDENCE_DERIVED = "evidence_derived", _("The evidence was derived from a reference image")
    EVIDENCE_REUSED = "evidence_reused", _("The evidence was reused from another claim")
    AI_GENERATED = "ai_generated", _("The evidence is labelled as AI-generated")
    INSUFFICIENT_EVIDENCE = "insufficient_evidence", _("The evidence does not show the claimed problem")
    REBUTTAL_UPHELD = "rebuttal_upheld", _("The merchant's rebuttal was upheld")
    PARTIAL_DAMAGE = "partial_damage", _("Only part of the order is affected")
    OTHER = "other", _("Other")


# The reasons a reviewer may give for each outcome; the system's own reasons (merchant
# accepted, fast track, window expiry) are never a reviewer's.
REVIEWER_REASONS: dict[str, tuple[str, ...]] = {
    Outcome.APPROVED: (DecisionReason.EVIDENCE_CONSISTENT, DecisionReason.OTHER),
    Outcome.PARTIALLY_APPROVED: (
        DecisionReason.PARTIAL_DAMAGE,
        DecisionReason.EVIDENCE_CONSISTENT,
        DecisionReason.OTHER,
    ),
    Outcome.REJECTED: (
        DecisionReason.EVIDENCE_DERIVED,
        DecisionReason.EVIDENCE_REUSED,
        DecisionReason.AI_GENERATED,
        DecisionReason.INSUFFICIENT_EVIDENCE,
        DecisionReason.REBUTTAL_UPHELD,
        DecisionReason.OTHER,
    ),
}


class RebuttalReason(models.TextChoices):
    """Why a merchant contests a refund; reviewers see these beside the statement."""

    SHIPPED_INTACT = "shipped_intact", _("The item was intact when shipped (packing photos or video)")
    DELIVERED_INTACT = "delivered_intact", _("The delivery was signed for without complaint")
    EVIDENCE_EDITED = "evidence_edited", _("The buyer's photo is edited or copied from my catalogue")
    NOT_OUR_ITEM = "not_our_item", _("The photo does not show the item I sold")
    AS_DESCRIBED = "as_described", _("The item matches its description")
    OTHER = "other", _("Other")


class VideoState(models.TextChoices):
    """Where a packing video's playable copy stands (the original is kept as sent, whatever happens)."""

    PREPARING = "preparing", _("Being prepared for playing")
    READY = "ready", _("Ready to play")
    FAILED = "failed", _("Could not be prepared for playing")


class BuyerRiskReason(models.TextChoices):
    """Why a buyer's history asks for a person; each is shown with its figures, never as a bare score."""

    FORGED_BEFORE = "forged_before", _("Earlier applications were screened as forged")
    REFUNDED_ON_FORGED_OVER_ALERT = (
        "refunded_on_forged_over_alert",
        _("Refunds on applications judged forged reached the alert amount"),
    )
    REJECTED_BEFORE = "rejected_before", _("Earlier applications were rejected")
    LINKED_CLAIMS = "linked_claims", _("Earlier applications share images with other claims")
