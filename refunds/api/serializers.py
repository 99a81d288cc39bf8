"""Request and response shapes of the API."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pycountry
from django.conf import settings
from django.urls import reverse
from django.utils.dateparse import parse_duration
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from refunds.models import (
    Appeal,
    AppealAttachment,
    AppealDecision,
    AuditEvent,
    Decision,
    Evidence,
    EvidenceRequest,
    EvidenceUpload,
    RefundApplication,
)
from refunds.policy_bounds import (
    MAX_CLAIM_TIMEOUT,
    MAX_MERCHANT_WINDOW,
    MAX_SECOND_PHOTO_WINDOW,
    MIN_CLAIM_TIMEOUT,
    MIN_MERCHANT_WINDOW,
    MIN_SECOND_PHOTO_WINDOW,
    duration_pattern,
)
from refunds.services.merchant import STATEMENT_MAX_LENGTH
from refunds.states import AppealSide, RebuttalReason, RefundReason
from refunds.vocab import AppealReason
from screening.messages import view_pair_words
from screening.models import Finding

# Codes that name no currency: the test code and "no currency".
NOT_CURRENCIES = frozenset({"XTS", "XXX"})
CURRENCIES = sorted(c.alpha_3 for c in pycountry.currencies if c.alpha_3 not in NOT_CURRENCIES)

# The schema's patterns are what the fields accept, so that a generated client (or a fuzzer)
# that keeps to the schema is never refused for the form of a value.
POSITIVE_AMOUNT = r"^(?:[1-9][0-9]{0,9}(?:\.[0-9]{1,2})?|0\.(?:[1-9][0-9]?|0[1-9]))$"
AMOUNT_OR_ZERO = r"^[0-9]{1,10}(?:\.[0-9]{1,2})?$"


class NoUnknownFieldsMixin:
    """Refuse fields the serializer does not know: a misspelt setting must not pass silently."""

    def validate(self, data: dict) -> dict:
        unknown = sorted(set(getattr(self, "initial_data", {}) or {}) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().validate(data)


class StrictCharField(serializers.CharField):
    """Text, and only text: a number or a boolean where text is expected is refused, not converted."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """``true`` or ``false`` (in a form: the words); 0, 1, "yes" and the like are refused."""

    TRUE_VALUES = {True, "true", "True"}
    FALSE_VALUES = {False, "false", "False"}
    NULL_VALUES: set = set()

    def to_internal_value(self, data: Any) -> bool:
        if isinstance(data, bool):
            return data
        if isinstance(data, str) and data in self.TRUE_VALUES | self.FALSE_VALUES:
            return data in self.TRUE_VALUES
        self.fail("invalid", input=data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer (``30``, or ``30.0``, which JSON Schema counts as one); a string, a
    fraction or a boolean is refused."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not (isinstance(data, int) or (isinstance(data, float) and data.is_integer())):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictFloatField(serializers.FloatField):
    """A JSON number; a string or a boolean is refused."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "enum": CURRENCIES, "example": "CNY"})
class CurrencyField(StrictCharField):
    """An ISO 4217 currency code in capitals, e.g. CNY."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_length=3, max_length=3, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = super().to_internal_value(data)
        if code not in CURRENCIES:
            raise serializers.ValidationError(_("Use a three-letter ISO 4217 currency code, e.g. CNY."))
        return code


class PatternDecimalField(serializers.DecimalField):
    """An amount written as a string of digits with at most two decimals (never a JSON number,
    whose binary value may not be the decimal the client meant)."""

    pattern = AMOUNT_OR_ZERO

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        super().__init__(coerce_to_string=True, **kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str) or not re.fullmatch(self.pattern, data):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "pattern": POSITIVE_AMOUNT, "example": "39.90"})
class AmountField(PatternDecimalField):
    pattern = POSITIVE_AMOUNT


@extend_schema_field({"type": "string", "pattern": AMOUNT_OR_ZERO, "example": "20.00"})
class AmountOrZeroField(PatternDecimalField):
    pattern = AMOUNT_OR_ZERO


class PatternDurationField(serializers.DurationField):
    """A duration as ``[D ]HH:MM:SS`` within the bounds its pattern states."""

    pattern = ""

    def to_internal_value(self, data: Any) -> timedelta:
        if not isinstance(data, str) or not re.fullmatch(self.pattern, data):
            self.fail("invalid", format="[D ]HH:MM:SS")
        return parse_duration(data)


# The policy's own bounds, so that the API takes exactly what the policy accepts.
MERCHANT_WINDOW = duration_pattern(MIN_MERCHANT_WINDOW, MAX_MERCHANT_WINDOW)
CLAIM_TIMEOUT = duration_pattern(MIN_CLAIM_TIMEOUT, MAX_CLAIM_TIMEOUT)
SECOND_PHOTO_WINDOW = duration_pattern(MIN_SECOND_PHOTO_WINDOW, MAX_SECOND_PHOTO_WINDOW)


@extend_schema_field({"type": "string", "pattern": MERCHANT_WINDOW, "example": "2 00:00:00"})
class MerchantWindowField(PatternDurationField):
    pattern = MERCHANT_WINDOW


@extend_schema_field({"type": "string", "pattern": CLAIM_TIMEOUT, "example": "00:30:00"})
class ClaimTimeoutField(PatternDurationField):
    pattern = CLAIM_TIMEOUT


@extend_schema_field({"type": "string", "pattern": SECOND_PHOTO_WINDOW, "example": "3 00:00:00"})
class SecondPhotoWindowField(PatternDurationField):
    pattern = SECOND_PHOTO_WINDOW


# A rule no JSON Schema keyword states, so the schema says it in words (400 invalid_delivered_at).
DELIVERED_AT_HELP = "When the order was delivered: a time in the past, with its offset from UTC."


class ApplicationFieldsSerializer(serializers.Serializer):
    """What every new application states, whichever way its evidence comes."""

    merchant = serializers.UUIDField(help_text="Public id of the merchant (shop).")
    product = serializers.UUIDField(help_text="Public id of the product.")
    buyer_ref = StrictCharField(max_length=100)
    order_ref = StrictCharField(max_length=100)
    delivered_at = serializers.DateTimeField(required=False, allow_null=True, help_text=DELIVERED_AT_HELP)
    amount = AmountField()
    currency = CurrencyField()
    reason_code = serializers.ChoiceField(choices=RefundReason.choices)
    description = StrictCharField(max_length=5000, required=False, allow_blank=True, default="")


EVIDENCE_IDS_HELP = "Ids of evidence uploaded before with POST /evidence-uploads."


class ApplicationCreateJsonSerializer(ApplicationFieldsSerializer):
    """An application whose evidence was uploaded first (POST /evidence-uploads): plain JSON."""

    evidence_ids = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=settings.UPLOAD_MAX_FILES, help_text=EVIDENCE_IDS_HELP
    )

    def validate(self, data: dict) -> dict:
        data.setdefault("evidence", [])
        return data


class ApplicationCreateSerializer(ApplicationFieldsSerializer):
    """An application with its evidence images as multipart parts."""

    # A form has no null: leave the field out when the delivery time is unknown.
    delivered_at = serializers.DateTimeField(required=False, help_text=DELIVERED_AT_HELP)

    evidence = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        max_length=settings.UPLOAD_MAX_FILES,
        help_text="Evidence images (JPEG, PNG, WebP, HEIC), as repeated multipart parts.",
    )


class ApplicationCreateFormSerializer(ApplicationCreateSerializer):
    """What the API reads from a multipart body: the schema's (ApplicationCreateSerializer), and
    for forms written before the JSON body existed, ids of uploads in ``evidence_ids`` beside or
    instead of the files (at most UPLOAD_MAX_FILES in all, 400 too_many_files beyond). The schema
    leaves them out: the two lists' shared limit is no JSON Schema keyword, and new clients send
    uploaded evidence as JSON."""

    evidence = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        max_length=settings.UPLOAD_MAX_FILES,
    )
    evidence_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list, max_length=settings.UPLOAD_MAX_FILES
    )

    def validate(self, data: dict) -> dict:
        if not data["evidence"] and not data["evidence_ids"]:
            raise serializers.ValidationError({"evidence": _("Attach evidence images or give evidence_ids.")})
        return data


STORED_IMAGE_FIELDS = ["sha256", "content_type", "byte_size", "width", "height", "created_at"]


class StoredImageSerializer(serializers.ModelSerializer):
    """What every stored upload shows; the file itself is write-only."""

    id = serializers.UUIDField(source="public_id", read_only=True)


class EvidenceUploadSerializer(StoredImageSerializer):
    file = serializers.FileField(write_only=True, allow_empty_file=True, help_text="JPEG, PNG, WebP or HEIC.")

    class Meta:
        model = EvidenceUpload
        fields = ["id", "file", *STORED_IMAGE_FIELDS, "used_at"]
        read_only_fields = [*STORED_IMAGE_FIELDS, "used_at"]


class FindingSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    explanation = serializers.CharField(help_text="The detail in the request's language (Accept-Language).")
    heatmap_url = serializers.SerializerMethodField(help_text="PNG for reviewers: the evidence with edits outlined.")

    class Meta:
        model = Finding
        fields = ["id", "code", "score", "detail", "explanation", "params", "regions", "heatmap_url"]

    def get_heatmap_url(self, obj: Finding) -> str | None:
        return reverse("api:finding-heatmap", args=[obj.public_id]) if obj.artifact else None


class EvidenceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    verdict = serializers.SerializerMethodField()
    risk = serializers.SerializerMethodField()
    findings = serializers.SerializerMethodField()

    class Meta:
        model = Evidence
        fields = ["id", "sha256", "content_type", "byte_size", "width", "height", "verdict", "risk", "findings"]

    def _result(self, obj: Evidence):  # noqa: ANN202
        # An application answered right after its submission has no screening yet: no lookups.
        return None if self.context.get("just_submitted") else getattr(obj, "screening", None)

    def get_verdict(self, obj: Evidence) -> str | None:
        result = self._result(obj)
        return result.verdict if result else None

    def get_risk(self, obj: Evidence) -> float | None:
        result = self._result(obj)
        return result.risk if result else None

    def get_findings(self, obj: Evidence) -> list[dict]:
        result = self._result(obj)
        return FindingSerializer(result.findings.all(), many=True).data if result else []


class ReplacingDecisionSerializer(serializers.ModelSerializer):
    """The decision an appeal put in the place of the one it overturned."""

    appeal = serializers.UUIDField(
        source="appeal.public_id", read_only=True, help_text="The appeal that overturned the decision."
    )
    explanation = serializers.CharField(source="note", read_only=True, help_text="The reviewer's note to the parties.")

    class Meta:
        model = AppealDecision
        fields = ["appeal", "outcome", "approved_amount", "currency", "reason_codes", "explanation", "decided_at"]
        extra_kwargs = {
            "outcome": {"help_text": "The outcome that now applies."},
            "approved_amount": {"help_text": "What is refunded now."},
        }


class DecisionSerializer(serializers.ModelSerializer):
    explanation = serializers.CharField(
        source="explanation_for_parties",
        read_only=True,
        help_text="The reviewer's note when the reasons include `other`; empty otherwise.",
    )
    overturned = serializers.SerializerMethodField(
        help_text="Whether an appeal overturned this decision. It stays as it was made; `replaced_by` applies."
    )
    replaced_by = serializers.SerializerMethodField(
        help_text="The decision that replaced this one on appeal, with its own outcome and amount; null "
        "unless `overturned`."
    )

    class Meta:
        model = Decision
        fields = [
            "outcome",
            "approved_amount",
            "currency",
            "actor_kind",
            "reason_codes",
            "explanation",
            "decided_at",
            "overturned",
            "replaced_by",
        ]

    @staticmethod
    def _replacement(obj: Decision) -> AppealDecision | None:
        # Through .all(), so that a prefetched list serves every row of a page.
        rulings = list(obj.overturned_by.all())
        return rulings[0] if rulings else None

    def get_overturned(self, obj: Decision) -> bool:
        return self._replacement(obj) is not None

    @extend_schema_field(ReplacingDecisionSerializer(allow_null=True))
    def get_replaced_by(self, obj: Decision) -> dict | None:
        ruling = self._replacement(obj)
        return ReplacingDecisionSerializer(ruling).data if ruling else None


class EvidenceRequestSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    application = serializers.UUIDField(source="application.public_id", read_only=True)
    first_evidence = serializers.UUIDField(
        source="first_evidence.public_id",
        read_only=True,
        help_text="The buyer's photo whose damage the second photo must show from another angle.",
    )
    answer_evidence = serializers.SerializerMethodField(
        help_text="The second photo once answered: one of the application's `evidence`, screened like any other."
    )
    answer_url = serializers.SerializerMethodField(help_text="Where the platform sends the buyer's photo.")
    view_pair = serializers.SerializerMethodField(
        help_text="The second photo compared with the first, once screened: `verdict` (`consistent_3d`, `flat`, "
        "`unrelated`, `unreadable`), `matches`, `homography_inlier_share`, `parallax_px`, `damage_in_both`, the "
        "engine's `explanation` and the result in `words` of the request's language (Accept-Language). Null before."
    )

    class Meta:
        model = EvidenceRequest
        fields = [
            "id",
            "application",
            "state",
            "instructions",
            "language",
            "first_evidence",
            "requested_at",
            "deadline",
            "answer_url",
            "answer_evidence",
            "view_pair",
            "closed_at",
        ]
        extra_kwargs = {
            "instructions": {"help_text": "What to ask the buyer, in the buyer's `language`."},
            "language": {"help_text": "The language of the instructions: `zh-hans` or `en`."},
            "deadline": {"help_text": "The answer is refused after this time; the request then expires."},
        }

    @extend_schema_field({"type": "string", "format": "uuid", "nullable": True})
    def get_answer_evidence(self, obj: EvidenceRequest) -> str | None:
        return str(obj.answer.public_id) if obj.answer_id else None

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_view_pair(self, obj: EvidenceRequest) -> dict[str, Any] | None:
        return {**obj.view_pair, "words": view_pair_words(obj.view_pair)} if obj.view_pair else None

    def get_answer_url(self, obj: EvidenceRequest) -> str:
        return reverse("api:application-evidence-request-answer", args=[obj.application.public_id, obj.public_id])


class EvidenceRequestAnswerJsonSerializer(serializers.Serializer):
    """The buyer's second photo uploaded first (POST /evidence-uploads): plain JSON."""

    evidence_ids = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=1,
        help_text="The id of the second photo, uploaded before with POST /evidence-uploads.",
    )

    def validate(self, data: dict) -> dict:
        data.setdefault("evidence", [])
        return data


class EvidenceRequestAnswerSerializer(serializers.Serializer):
    """The buyer's second photo as one multipart part (an image uploaded first is answered by its id, in JSON)."""

    evidence = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        max_length=1,
        help_text="The second photo (JPEG, PNG, WebP, HEIC), as one multipart part.",
    )

    def validate(self, data: dict) -> dict:
        data.setdefault("evidence_ids", [])
        return data


class ApplicationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    merchant = serializers.UUIDField(source="merchant.public_id")
    product = serializers.UUIDField(source="product.public_id")
    evidence = EvidenceSerializer(many=True)
    decision = serializers.SerializerMethodField()
    linked_claims = serializers.SerializerMethodField(
        help_text="The group of linked claims (applications sharing images) this one belongs to: "
        "`GET /claim-groups/{id}`; null when it shares no image."
    )
    evidence_requests = serializers.SerializerMethodField(
        help_text="Requests for another photo of the damage, oldest first; while one is `open` the review "
        "waits for the buyer's answer."
    )

    class Meta:
        model = RefundApplication
        fields = [
            "id",
            "merchant",
            "product",
            "buyer_ref",
            "order_ref",
            "delivered_at",
            "amount",
            "currency",
            "reason_code",
            "description",
            "state",
            "risk_level",
            "risk_score",
            "unscreened",
            "merchant_deadline",
            "evidence",
            "decision",
            "linked_claims",
            "evidence_requests",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(EvidenceRequestSerializer(many=True))
    def get_evidence_requests(self, obj: RefundApplication) -> list[dict]:
        if self.context.get("just_submitted"):
            return []
        return EvidenceRequestSerializer(obj.evidence_requests.all(), many=True).data

    def get_linked_claims(self, obj: RefundApplication) -> uuid.UUID | None:
        member = getattr(obj, "claim_group_member", None)
        return member.group.public_id if member is not None else None

    def get_decision(self, obj: RefundApplication) -> dict | None:
        decision = None if self.context.get("just_submitted") else getattr(obj, "decision", None)
        return DecisionSerializer(decision).data if decision else None


class WithdrawSerializer(serializers.Serializer):
    reason = StrictCharField(max_length=500, required=False, allow_blank=True, default="")


def _attachments(help_text: str) -> serializers.ListField:
    """The optional files of a contest or an appeal, as repeated multipart parts: at most
    UPLOAD_MAX_FILES, which the schema states (maxItems) as the services enforce it."""
    return serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        required=False,
        default=list,
        max_length=settings.UPLOAD_MAX_FILES,
        help_text=help_text,
    )


class _WithoutFiles(serializers.Serializer):
    """A statement sent as JSON, which carries no files: the service still receives an empty list."""

    def validate(self, data: dict) -> dict:
        data.setdefault("attachments", [])
        return data


class ContestJsonSerializer(_WithoutFiles):
    """A contest with a statement and its reasons, as the portal takes it: plain JSON."""

    statement = StrictCharField(max_length=STATEMENT_MAX_LENGTH)
    reason_codes = serializers.ListField(
        child=serializers.ChoiceField(choices=RebuttalReason.choices),
        required=False,
        default=list,
        help_text="Why the merchant contests: reviewers see these beside the statement.",
    )


class ContestSerializer(ContestJsonSerializer):
    attachments = _attachments("Packing photos (JPEG, PNG, WebP, HEIC) or videos (MP4).")


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "seq",
            "action",
            "from_state",
            "to_state",
            "actor_kind",
            "actor_label",
            "at",
            "reason",
            "payload_digest",
            "prev_hash",
            "hash",
        ]


class EvidenceAddSerializer(serializers.Serializer):
    evidence = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        help_text="Evidence images (JPEG, PNG, WebP, HEIC), as repeated multipart parts.",
    )


class AppealCreateJsonSerializer(_WithoutFiles):
    """An appeal with a statement and its reasons: plain JSON."""

    side = serializers.ChoiceField(
        choices=AppealSide.choices,
        help_text="Whose appeal: `merchant` (of a refund granted) or `buyer` (of a refund refused or cut), "
        "filed by the platform on the buyer's behalf.",
    )
    statement = StrictCharField(max_length=STATEMENT_MAX_LENGTH)
    reason_codes = serializers.ListField(
        child=serializers.ChoiceField(choices=AppealReason.choices),
        required=False,
        default=list,
        help_text="Why the decision is appealed: the reviewer of the appeal sees these beside the statement.",
    )


class AppealCreateSerializer(AppealCreateJsonSerializer):
    attachments = _attachments("Supporting photos (JPEG, PNG, WebP, HEIC) or videos (MP4).")


class AppealAttachmentSerializer(StoredImageSerializer):
    class Meta:
        model = AppealAttachment
        fields = ["id", "original_name", *STORED_IMAGE_FIELDS]


class AppealDecisionSerializer(serializers.ModelSerializer):
    explanation = serializers.CharField(source="note", read_only=True, help_text="The reviewer's note to the parties.")

    class Meta:
        model = AppealDecision
        fields = ["verdict", "outcome", "approved_amount", "currency", "reason_codes", "explanation", "decided_at"]
        extra_kwargs = {
            "outcome": {"help_text": "The new outcome of an overturn; empty when the decision was upheld."},
            "approved_amount": {"help_text": "What the overturn refunds; null when the decision was upheld."},
        }


class AppealSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    application = serializers.UUIDField(source="application.public_id", read_only=True)
    attachments = AppealAttachmentSerializer(many=True, read_only=True)
    appealed_decision = DecisionSerializer(
        source="decision", read_only=True, help_text="The decision appealed; an overturn never changes it."
    )
    appeal_decision = serializers.SerializerMethodField(
        help_text="The appeal's one decision once upheld or overturned; an overturn is a new decision "
        "that overturns `appealed_decision`. Null while the appeal is open or after its withdrawal."
    )

    class Meta:
        model = Appeal
        fields = [
            "id",
            "application",
            "side",
            "state",
            "statement",
            "reason_codes",
            "attachments",
            "appealed_decision",
            "appeal_decision",
            "filed_at",
            "closed_at",
        ]

    @extend_schema_field(AppealDecisionSerializer(allow_null=True))
    def get_appeal_decision(self, obj: Appeal) -> dict | None:
        ruling = getattr(obj, "appeal_decision", None)
        return AppealDecisionSerializer(ruling).data if ruling else None
