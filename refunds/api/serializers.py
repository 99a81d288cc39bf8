"""Request and response shapes of the API."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse
from rest_framework import serializers

from refunds.models import AuditEvent, Decision, Evidence, EvidenceUpload, RefundApplication
from refunds.states import RefundReason
from screening.models import Finding


class ApplicationCreateSerializer(serializers.Serializer):
    merchant = serializers.UUIDField(help_text="Public id of the merchant (shop).")
    product = serializers.UUIDField(help_text="Public id of the product.")
    buyer_ref = serializers.CharField(max_length=100)
    order_ref = serializers.CharField(max_length=100)
    delivered_at = serializers.DateTimeField(required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), coerce_to_string=True)
    currency = serializers.RegexField(r"^[A-Z]{3}$", max_length=3)
    reason_code = serializers.ChoiceField(choices=RefundReason.choices)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    evidence = serializers.ListField(child=serializers.FileField(allow_empty_file=True), required=False, default=list,
                                     help_text="Evidence images (JPEG, PNG, WebP, HEIC), as repeated multipart parts.")
    evidence_ids = serializers.ListField(child=serializers.UUIDField(), required=False, default=list,
                                         help_text="Ids of evidence uploaded before with POST /evidence-uploads.")

    def validate(self, data: dict) -> dict:
        if not data["evidence"] and not data["evidence_ids"]:
            raise serializers.ValidationError({"evidence": "Attach evidence images or give evidence_ids."})
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


class DecisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Decision
        fields = ["outcome", "approved_amount", "currency", "actor_kind", "reason_codes", "decided_at"]


class ApplicationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    merchant = serializers.UUIDField(source="merchant.public_id")
    product = serializers.UUIDField(source="product.public_id")
    evidence = EvidenceSerializer(many=True)
    decision = serializers.SerializerMethodField()

    class Meta:
        model = RefundApplication
        fields = [
            "id", "merchant", "product", "buyer_ref", "order_ref", "delivered_at", "amount", "currency",
            "reason_code", "description", "state", "risk_level", "risk_score", "unscreened", "merchant_deadline",
            "evidence", "decision", "created_at", "updated_at",
        ]

    def get_decision(self, obj: RefundApplication) -> dict | None:
        decision = None if self.context.get("just_submitted") else getattr(obj, "decision", None)
        return DecisionSerializer(decision).data if decision else None


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ContestSerializer(serializers.Serializer):
    statement = serializers.CharField(max_length=5000)
    attachments = serializers.ListField(child=serializers.FileField(allow_empty_file=True), required=False, default=list,
                                        help_text="Packing photos (JPEG, PNG, WebP, HEIC) or videos (MP4).")


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["seq", "action", "from_state", "to_state", "actor_kind", "actor_label", "at", "reason",
                  "payload_digest", "prev_hash", "hash"]


class EvidenceAddSerializer(serializers.Serializer):
    evidence = serializers.ListField(child=serializers.FileField(allow_empty_file=True), min_length=1,
                                     help_text="Evidence images (JPEG, PNG, WebP, HEIC), as repeated multipart parts.")
