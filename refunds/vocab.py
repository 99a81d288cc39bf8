"""The words of the record: what an audit event or a settings change says was done.

Each action is spelled here once. The services write these values; the admin's timeline,
the portal's history, the dossier and the webhooks read them, and none spells one.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    """What an event of an application's hash-chained audit log records (invariant 3)."""

    SUBMIT = "submit", _("Submitted")
    ADD_EVIDENCE = "add_evidence", _("Evidence added")
    SCREEN = "screen", _("Screened")
    RESCREEN = "rescreen", _("Screened again")
    UNSCREENED = "unscreened", _("Screening failed")
    FAST_TRACK = "fast_track", _("Approved by the fast track")
    OPEN_WINDOW = "open_window", _("Merchant window opened")
    MERCHANT_ACCEPT = "merchant_accept", _("Accepted by the merchant")
    MERCHANT_CONTEST = "merchant_contest", _("Contested by the merchant")
    WINDOW_EXPIRED_APPROVE = "window_expired_approve", _("Window closed, approved")
    WINDOW_EXPIRED_REVIEW = "window_expired_review", _("Window closed, sent to review")
    CLAIM = "claim", _("Claimed")
    RELEASE_CLAIM = "release_claim", _("Claim released")
    DECIDE = "decide", _("Decided")
    WITHDRAW = "withdraw", _("Withdrawn")
    DOSSIER_GENERATED = "dossier_generated", _("Evidence dossier downloaded")
    APPEAL_FILE = "appeal_file", _("Appeal filed")
    APPEAL_CLAIM = "appeal_claim", _("Appeal claimed")
    APPEAL_UPHOLD = "appeal_uphold", _("Appeal decided: decision upheld")
    APPEAL_OVERTURN = "appeal_overturn", _("Appeal decided: decision overturned")
    APPEAL_WITHDRAW = "appeal_withdraw", _("Appeal withdrawn")
    EVIDENCE_REQUEST_OPEN = "evidence_request_open", _("Another photo requested")
    EVIDENCE_REQUEST_ANSWER = "evidence_request_answer", _("Another photo received")
    EVIDENCE_REQUEST_EXPIRE = "evidence_request_expire", _("Request for another photo expired")
    EVIDENCE_REQUEST_CANCEL = "evidence_request_cancel", _("Request for another photo cancelled")
    EVIDENCE_REQUEST_COMPARE = "evidence_request_compare", _("Second photo compared with the first")
    QA_SAMPLE = "qa_sample", _("Sampled for a blind second review")
    QA_CLAIM = "qa_claim", _("Second review claimed")
    QA_AGREE = "qa_agree", _("Second review agreed with the decision")
    QA_DISAGREE = "qa_disagree", _("Second review disagreed; sent to a senior reviewer")
    QA_RESOLVE = "qa_resolve", _("Disagreement of the second review resolved")


# The reviewing service's own quality control: recorded in the application's chain like every
# step, but not the parties' business (the decision they were told stays as it was), so the
# merchant's history leaves these out.
STAFF_ONLY_ACTIONS = frozenset(
    {AuditAction.QA_SAMPLE, AuditAction.QA_CLAIM, AuditAction.QA_AGREE, AuditAction.QA_DISAGREE, AuditAction.QA_RESOLVE}
)


class SettingsAction(models.TextChoices):
    """What a record of a change to a platform's settings says was done."""

    PLATFORM_CREATED = "platform_created", _("Platform created")
    POLICY_CREATED = "policy_created", _("Policy created")
    POLICY_UPDATED = "policy_updated", _("Policy changed")
    REUSE_SHARING_UPDATED = "reuse_sharing_updated", _("Sharing of image hashes changed")
    API_KEY_ISSUED = "api_key_issued", _("API key issued")
    API_KEY_ROTATED = "api_key_rotated", _("API key rotated")
    API_KEY_REVOKED = "api_key_revoked", _("API key revoked")
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint_created", _("Webhook endpoint added")
    WEBHOOK_ENDPOINT_UPDATED = "webhook_endpoint_updated", _("Webhook endpoint changed")
    WEBHOOK_ENDPOINT_SECRET_ROTATED = "webhook_endpoint_secret_rotated", _("Webhook signing secret rotated")
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint_deleted", _("Webhook endpoint removed")
    WEBHOOK_DELIVERY_REDELIVERED = "webhook_delivery_redelivered", _("Webhook delivery sent again")


class ReviewLogMessage(models.TextChoices):
    """What the admin's History of an application says a reviewer did there. Stored as the code
    and its parameters, so that each reader sees it in their own language."""

    CLAIMED = "claimed", _("Claimed.")
    CLAIMED_NEXT = "claimed_next", _("Claimed (next in the queue).")
    CLAIM_RELEASED = "claim_released", _("Claim released.")
    DECIDED = "decided", _("Decided: %(outcome)s, %(amount)s %(currency)s; reasons: %(reasons)s.")


class WebhookEventType(models.TextChoices):
    """The kinds of event a platform's webhook endpoints receive (the API documents the codes)."""

    STATE_CHANGED = "application.state_changed", _("Application state changed")
    APPEAL_FILED = "application.appeal_filed", _("Appeal filed")
    APPEAL_IN_REVIEW = "application.appeal_in_review", _("Appeal taken up by a reviewer")
    APPEAL_DECIDED = "application.appeal_decided", _("Appeal decided")
    APPEAL_WITHDRAWN = "application.appeal_withdrawn", _("Appeal withdrawn")
    EVIDENCE_REQUESTED = "application.evidence_requested", _("Another photo requested from the buyer")
    EVIDENCE_REQUEST_ANSWERED = "application.evidence_request_answered", _("The buyer's second photo received")
    EVIDENCE_REQUEST_EXPIRED = "application.evidence_request_expired", _("Request for another photo expired")
    EVIDENCE_REQUEST_CANCELLED = "application.evidence_request_cancelled", _("Request for another photo cancelled")


class AppealReason(models.TextChoices):
    """Why a decision is appealed; the reviewer of the appeal sees these beside the statement."""

    EVIDENCE_MISREAD = "evidence_misread", _("The evidence was misread")
    NEW_EVIDENCE = "new_evidence", _("There is evidence the reviewer did not have")
    SCREENING_WRONG = "screening_wrong", _("The screening result was wrong")
    AMOUNT_WRONG = "amount_wrong", _("The amount refunded is wrong")
    POLICY_MISAPPLIED = "policy_misapplied", _("The platform's rules were applied wrongly")
    OTHER = "other", _("Other")


# The evidence-request expiry job's name in the record.
EVIDENCE_REQUEST_EXPIRY_ACTOR_LABEL = "evidence request expiry"
# The worker's name in the record when it compares a second photo with the first.
VIEW_PAIR_ACTOR_LABEL = "second photo comparison"
# The policy's name in the record when it asks for another photo of an uncertain screening.
EVIDENCE_REQUEST_POLICY_ACTOR_LABEL = "policy: second photo for uncertain screenings"

# The claim-expiry job's name in the record, and the reason it gives for a release: a
# reviewer told "your claim expired" is told so because the last release carries this label.
CLAIM_EXPIRY_ACTOR_LABEL = "claim expiry"
CLAIM_EXPIRED_REASON = "claim expired"
