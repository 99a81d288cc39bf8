"""The one domain error type and the registry of its codes.

Every refusal has a stable machine-readable code (``ErrorCode``) with its one message,
formatted with the error's parameters; no other module spells a code or writes a refusal's
message. Every surface maps the error once: API → JSON + status, admin and portal → a
message on the form, CLI → stderr + exit code 2.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class ErrorCode(StrEnum):
    """A refusal's code, and its message (``%(name)s`` placeholders filled from the error's params)."""

    message: Promise

    def __new__(cls, code: str, message: Promise) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.message = message
        return member

    def text(self, **params: Any) -> str | Promise:
        """Return the message filled with ``params``; raise TypeError if it needs some and got none."""
        if not params and "%(" in str(self.message):
            raise TypeError(f"the message of {self} needs its parameters")
        return self.message % params if params else self.message

    # The request as a whole (the API's transport and framework).
    BAD_REQUEST = "bad_request", _("The request is malformed.")
    INVALID = "invalid", _("The request is invalid.")
    INVALID_PARAMETER = "invalid_parameter", _("Invalid %(param)s: %(hint)s")
    REQUEST_TOO_LARGE = "request_too_large", _("The request is larger than %(limit)d bytes.")
    TOO_MANY_FIELDS = "too_many_fields", _("The request has too many fields or files.")
    NOT_AUTHENTICATED = "not_authenticated", _("Authentication credentials were not provided.")
    PERMISSION_DENIED = "permission_denied", _("You do not have permission to do this.")
    NOT_FOUND = "not_found", _("No such %(object)s.")
    REFUSED = "error", _("The request was refused.")
    SERVICE_UNAVAILABLE = (
        "service_unavailable",
        _("The service is briefly unavailable; nothing was changed. Try again shortly."),
    )
    SERVER_ERROR = "server_error", _("Internal error.")
    INVALID_CURSOR = "invalid_cursor", _("No such page: the cursor is invalid; use the links of a previous page.")
    ORDERING_NOT_WALKABLE = (
        "ordering_not_walkable",
        _(
            "Walk changes oldest first (ordering=updated_at) and resume with updated_after: "
            "a row changed during a newest-first walk would be missed."
        ),
    )
    INVALID_IDEMPOTENCY_KEY = "invalid_idempotency_key", _("The Idempotency-Key must have 1 to 255 characters.")
    IDEMPOTENCY_IN_PROGRESS = (
        "idempotency_in_progress",
        _("A request with this Idempotency-Key is still being processed."),
    )
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused", _("This Idempotency-Key was used with a different request.")
    IDEMPOTENCY_KEY_EXPIRED = (
        "idempotency_key_expired",
        _(
            "This Idempotency-Key already created an application, whose kept answer has expired. "
            "Read that application, or use a new key for a new one."
        ),
    )
    EVENT_NOT_FOUND = "event_not_found", _("No such event.")
    NO_HEATMAP = "no_heatmap", _("This finding has no heat-map.")

    # Uploads (invariant 7).
    FILE_TOO_LARGE = "file_too_large", _("The file is larger than %(limit)d bytes.")
    EMPTY_FILE = "empty_file", _("The file is empty.")
    UNSUPPORTED_MEDIA_TYPE = (
        "unsupported_media_type",
        _("The file is not an image of a supported type: JPEG, PNG, WebP or HEIC."),
    )
    TOO_MANY_PIXELS = "too_many_pixels", _("The image has more than %(limit)d pixels.")
    METADATA_TOO_LARGE = "metadata_too_large", _("The image's metadata is larger than %(limit)d bytes.")
    CORRUPT_IMAGE = "corrupt_image", _("The image is damaged or incomplete.")
    CORRUPT_VIDEO = "corrupt_video", _("The video is damaged or incomplete.")
    UNPLAYABLE_VIDEO = (
        "unplayable_video",
        _("The video cannot be decoded: it has no picture, or its picture is in a format we cannot read."),
    )
    VIDEO_TOO_LONG = "video_too_long", _("The video is longer than %(limit)d seconds.")
    VIDEO_TOO_LARGE = "video_too_large", _("The video's picture has more than %(limit)d pixels.")
    VIDEO_NOT_PREPARED = (
        "video_not_prepared",
        _("The video could not be converted for playing in a browser; download the original to watch it."),
    )
    TOO_MANY_FILES = "too_many_files", _("Attach at most %(limit)d files.")

    # Submission.
    INVALID_AMOUNT = "invalid_amount", _("The amount must be positive, with at most two decimal places.")
    INVALID_CURRENCY = "invalid_currency", _("Use a three-letter ISO 4217 currency code, e.g. CNY.")
    INVALID_REASON = "invalid_reason", _("Unknown refund reason.")
    INVALID_REFERENCE = "invalid_reference", _("Give a reference of 1 to 100 characters.")
    INVALID_DELIVERED_AT = "invalid_delivered_at", _("The delivery time must be a past time with a time zone.")
    EVIDENCE_REQUIRED = "evidence_required", _("Attach at least one evidence image.")
    EVIDENCE_LIMIT_REACHED = (
        "evidence_limit_reached",
        _("This application holds %(count)d evidence images, and may hold at most %(limit)d."),
    )
    INVALID_EVIDENCE_IDS = "invalid_evidence_ids", _("Give each uploaded evidence id once.")
    EVIDENCE_UPLOAD_NOT_FOUND = "evidence_upload_not_found", _("No such evidence upload.")
    EVIDENCE_UPLOAD_USED = "evidence_upload_used", _("An uploaded evidence image can be used by one application only.")
    MERCHANT_NOT_FOUND = "merchant_not_found", _("No such merchant on this platform.")
    PRODUCT_NOT_FOUND = "product_not_found", _("No such product of this merchant.")
    REFERENCE_IMAGE_NOT_FOUND = "reference_image_not_found", _("No such reference image.")

    # The lifecycle.
    INVALID_STATE = "invalid_state", _("This is not possible while the application is %(state)s.")
    NOT_ALLOWED = "not_allowed", _("The policy does not allow this now.")
    DEADLINE_PASSED = "deadline_passed", _("The merchant response window closed at %(deadline)s.")
    NOT_DECIDED = "not_decided", _("The evidence dossier exists only once the application is decided.")

    # The merchant's rebuttal.
    INVALID_REASON_CODE = "invalid_reason_code", _("Unknown reason code: %(codes)s.")
    STATEMENT_REQUIRED = "statement_required", _("Explain why you contest the refund.")
    STATEMENT_TOO_LONG = "statement_too_long", _("Keep the statement under %(limit)d characters.")

    # Review.
    CLAIMED_BY_OTHER = "claimed_by_other", _("%(holder)s has claimed this application until %(until)s.")
    CLAIM_REQUIRED = "claim_required", _("Claim the application before deciding it.")
    CLAIM_EXPIRED = "claim_expired", _("Your claim expired; claim the application again before deciding.")
    ALREADY_DECIDED = (
        "already_decided",
        _("Someone else decided this application first; your decision was not recorded."),
    )
    INVALID_OUTCOME = "invalid_outcome", _("Unknown outcome.")
    INVALID_REASON_CODES = "invalid_reason_codes", _("Give one or more reasons that fit the outcome.")
    NOTE_REQUIRED = "note_required", _("Write a note explaining the decision.")
    INVALID_APPROVED_AMOUNT = (
        "invalid_approved_amount",
        _("A partial approval needs an amount between zero and the amount claimed."),
    )
    SENIOR_REQUIRED = "senior_required", _("Only a senior reviewer may approve an application screened as forged.")
    SENIOR_REQUIRED_ABOVE_CEILING = (
        "senior_required_above_ceiling",
        _("Only a senior reviewer may approve more than %(ceiling)s %(currency)s."),
    )

    # Appeals.
    APPEAL_WINDOW_CLOSED = "appeal_window_closed", _("The appeal window closed at %(deadline)s.")
    APPEAL_NOT_DECIDED = "appeal_not_decided", _("Only a decided application can be appealed.")
    APPEAL_OPEN_EXISTS = "appeal_open_exists", _("This decision has an open appeal already.")
    APPEAL_ALREADY_FILED = "appeal_already_filed", _("The %(side)s has appealed this decision already.")
    APPEAL_NOTHING_TO_APPEAL = (
        "appeal_nothing_to_appeal",
        _("The decision gave the %(side)s everything asked for; there is nothing to appeal."),
    )
    APPEAL_FINAL = "appeal_final", _("An appeal overturned this decision; the decision on appeal is final.")
    APPEAL_STATEMENT_REQUIRED = "appeal_statement_required", _("Explain why you appeal the decision.")
    INVALID_APPEAL_SIDE = "invalid_appeal_side", _("Appeal for the merchant or for the buyer.")
    APPEAL_INVALID_STATE = "appeal_invalid_state", _("This is not possible while the appeal is %(state)s.")
    APPEAL_ALREADY_DECIDED = (
        "appeal_already_decided",
        _("Someone else decided this appeal first; your decision was not recorded."),
    )
    APPEAL_SAME_REVIEWER = (
        "appeal_same_reviewer",
        _("You decided this application; another reviewer must decide its appeal."),
    )
    APPEAL_CLAIMED_BY_OTHER = "appeal_claimed_by_other", _("%(holder)s has claimed this appeal until %(until)s.")
    APPEAL_CLAIM_REQUIRED = "appeal_claim_required", _("Claim the appeal before deciding it.")
    INVALID_APPEAL_VERDICT = "invalid_appeal_verdict", _("Uphold or overturn the decision.")
    OVERTURN_CHANGES_NOTHING = (
        "overturn_changes_nothing",
        _("An overturn must change the outcome or the amount; uphold the decision instead."),
    )
    APPEAL_WINDOW_OUT_OF_BOUNDS = (
        "appeal_window_out_of_bounds",
        _("The appeal window must be from %(minimum)s to %(maximum)s days."),
    )

    # Blind second reviews (quality control).
    QA_SAME_REVIEWER = (
        "qa_same_reviewer",
        _("You made this decision; another reviewer must review it a second time."),
    )
    APPEAL_SECOND_REVIEW_PENDING = (
        "appeal_second_review_pending",
        _("You are reviewing this decision a second time; record that review before taking its appeal."),
    )
    QA_HANDLED_THE_APPEAL = (
        "qa_handled_the_appeal",
        _("You handled an appeal of this decision; another reviewer must review it a second time."),
    )
    QA_CLAIMED_BY_OTHER = "qa_claimed_by_other", _("%(holder)s has claimed this second review until %(until)s.")
    QA_CLAIM_REQUIRED = "qa_claim_required", _("Claim the second review before recording it.")
    QA_INVALID_STATE = "qa_invalid_state", _("This is not possible while the second review is: %(state)s.")
    QA_ALREADY_RECORDED = (
        "qa_already_recorded",
        _("Someone else recorded this second review first; yours was not recorded."),
    )
    QA_SENIOR_REQUIRED = "qa_senior_required", _("Only a senior reviewer resolves a disagreement.")
    QA_RESOLVER_INVOLVED = (
        "qa_resolver_involved",
        _("You made the decision or its second review; another senior reviewer must resolve the disagreement."),
    )
    INVALID_QA_RESOLUTION = "invalid_qa_resolution", _("Say whether the decision or the second review was right.")
    QA_SAMPLE_RATE_OUT_OF_BOUNDS = (
        "qa_sample_rate_out_of_bounds",
        _("The share of decisions reviewed again must be from %(minimum)s to %(maximum)s."),
    )

    # Requests for another photo of the damage.
    EVIDENCE_REQUEST_OPEN_EXISTS = (
        "evidence_request_open_exists",
        _("This application already waits for the buyer's second photo."),
    )
    EVIDENCE_REQUEST_NOT_OPEN = (
        "evidence_request_not_open",
        _("This request for another photo is %(state)s; it takes no answer."),
    )
    EVIDENCE_REQUEST_DEADLINE_PASSED = (
        "evidence_request_deadline_passed",
        _("The request for another photo closed at %(deadline)s."),
    )
    EVIDENCE_REQUEST_ONE_PHOTO = "evidence_request_one_photo", _("Answer with exactly one photo.")
    EVIDENCE_REQUEST_INSTRUCTIONS_TOO_LONG = (
        "evidence_request_instructions_too_long",
        _("Keep the instructions under %(limit)d characters."),
    )
    INVALID_LANGUAGE = "invalid_language", _("Choose the buyer's language among: %(languages)s.")
    EVIDENCE_NOT_OF_APPLICATION = "evidence_not_of_application", _("Choose one of this application's photos.")
    AWAITING_SECOND_PHOTO = (
        "awaiting_second_photo",
        _(
            "This application waits for the buyer's second photo until %(deadline)s; "
            "cancel the request to claim or decide it before then."
        ),
    )
    SECOND_PHOTO_WINDOW_OUT_OF_BOUNDS = (
        "second_photo_window_out_of_bounds",
        _("The time to send a second photo must be between %(minimum)s and %(maximum)s."),
    )

    # A platform's settings and catalogue.
    PLATFORM_EXISTS = "platform_exists", _("A platform with this slug exists already.")
    MERCHANT_EXISTS = "merchant_exists", _("A merchant with this reference exists already.")
    PRODUCT_EXISTS = "product_exists", _("A product with this reference exists already.")
    INVALID_POLICY = "invalid_policy", _("The policy is invalid.")
    # One field of a policy; each bound comes from refunds/policy_bounds.py.
    MERCHANT_WINDOW_OUT_OF_BOUNDS = (
        "merchant_window_out_of_bounds",
        _("The merchant window must be between %(minimum)s and %(maximum)s."),
    )
    CLAIM_TIMEOUT_OUT_OF_BOUNDS = (
        "claim_timeout_out_of_bounds",
        _("The claim timeout must be between %(minimum)s and %(maximum)s."),
    )
    REVIEW_TIME_LIMIT_OUT_OF_BOUNDS = (
        "review_time_limit_out_of_bounds",
        _("The review time limit must be between %(minimum)s and %(maximum)s."),
    )
    POLICY_AMOUNT_OUT_OF_BOUNDS = "policy_amount_out_of_bounds", _("Give an amount from %(minimum)s to %(maximum)s.")
    POLICY_SCORE_OUT_OF_BOUNDS = "policy_score_out_of_bounds", _("Give a score between %(minimum)s and %(maximum)s.")
    INVALID_FINDING_THRESHOLDS = (
        "invalid_finding_thresholds",
        _(
            "Give an object of known finding codes and scores between %(minimum)s and %(maximum)s, "
            'e.g. {"editing_software": 0.7}.'
        ),
    )
    UNKNOWN_POLICY_SETTING = "unknown_policy_setting", _("Unknown policy settings: %(names)s.")
    INVALID_EXPIRY = "invalid_expiry", _("The expiry must be in the future.")
    INVALID_SCOPES = "invalid_scopes", _("Choose scopes among: %(scopes)s.")
    API_KEY_NOT_FOUND = "api_key_not_found", _("No such API key.")
    API_KEY_NOT_LIVE = "api_key_not_live", _("This key is revoked or expired; issue a new one instead.")
    INVALID_OVERLAP = "invalid_overlap", _("The overlap must be from 0 to %(max)d seconds.")
    NEGATIVE_OVERLAP = "negative_overlap", _("The overlap cannot be negative.")
    INVALID_URL = "invalid_url", _("Give a valid http(s) URL without a user name or password.")
    WEBHOOK_URL_NOT_HTTPS = "webhook_url_not_https", _("Webhook URLs must use https.")
    WEBHOOK_URL_UNRESOLVABLE = "webhook_url_unresolvable", _("The webhook host name does not resolve.")
    WEBHOOK_URL_NOT_PUBLIC = (
        "webhook_url_not_public",
        _("Webhook URLs must lead to a public address, not a loopback, private or link-local one."),
    )
    WEBHOOK_ENDPOINT_EXISTS = "webhook_endpoint_exists", _("This platform has an endpoint with this URL already.")
    WEBHOOK_ENDPOINT_LIMIT = "webhook_endpoint_limit", _("A platform has at most %(limit)d webhook endpoints.")
    WEBHOOK_ENDPOINT_NOT_FOUND = "webhook_endpoint_not_found", _("No such webhook endpoint.")
    WEBHOOK_DELIVERY_NOT_FOUND = "webhook_delivery_not_found", _("No such webhook delivery.")

    # Notifications.
    INVALID_TOKEN = "invalid_token", _("This unsubscribe link is not valid.")


class DomainError(Exception):
    """A refused request: its code, the code's message filled with ``params``, and ``details``
    for machines (``details["param"]`` names the offending input)."""

    status = 400

    def __init__(
        self,
        code: ErrorCode,
        *,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        **params: Any,
    ):
        self.code = code
        self.params = params
        self.message: str | Promise = code.text(**params)
        super().__init__(str(self.message))
        self.details = details or {}
        if status is not None:
            self.status = status

    def add_to_form(self, form: Any) -> None:
        """Show the refusal on a form: on the field ``details["param"]`` names, else above it."""
        field = self.details.get("param")
        form.add_error(field if field in form.fields else None, str(self.message))

    def for_file(self, name: str, index: int) -> DomainError:
        """Return the same refusal naming the file of a batch it is about."""
        named = type(self)(self.code, details={**self.details, "file": name, "index": index}, **self.params)
        named.status = self.status
        named.message = _FILE_MESSAGE % {"name": name, "message": self.message}
        return named


_FILE_MESSAGE = _("“%(name)s”: %(message)s")


class Conflict(DomainError):
    """The application is not (or no longer) in a state that allows this; a lost race ends here."""

    status = 409


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class InvalidInput(DomainError):
    status = 400


class UploadRejected(DomainError):
    status = 400
