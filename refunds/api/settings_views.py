"""API for a platform's own settings: its policy and its webhook endpoints.

Every change goes through the settings services, which validate it and record it."""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from refunds.api.catalogue import _get
from refunds.api.limits import BoundedJSONParser
from refunds.api.pagination import EventCursorPagination, invalid_parameter
from refunds.api.serializers import (
    AmountOrZeroField,
    ClaimTimeoutField,
    MerchantWindowField,
    NoUnknownFieldsMixin,
    PatternDecimalField,
    SecondPhotoWindowField,
    StrictBooleanField,
    StrictFloatField,
    StrictIntegerField,
)
from refunds.errors import ErrorCode
from refunds.integration import url_guard
from refunds.integration.idempotency import SHOWN_ONCE, idempotent
from refunds.models import Policy, WebhookDelivery, WebhookEndpoint
from refunds.policy_bounds import (
    MAX_APPEAL_WINDOW_DAYS,
    MAX_CLAIM_TIMEOUT,
    MAX_MERCHANT_WINDOW,
    MAX_SECOND_PHOTO_WINDOW,
    MIN_APPEAL_WINDOW_DAYS,
    MIN_CLAIM_TIMEOUT,
    MIN_MERCHANT_WINDOW,
    MIN_SECOND_PHOTO_WINDOW,
    QA_SAMPLE_RATE_PATTERN,
    QA_SAMPLE_RATE_PLACES,
    duration_words,
)
from refunds.services import platform as settings_services
from screening.core import FindingCode

FINDING_CODES = [code.value for code in FindingCode]


@extend_schema_field(
    {
        "type": "object",
        "properties": {code: {"type": "number", "minimum": 0, "maximum": 1} for code in FINDING_CODES},
        "additionalProperties": False,
        "description": "Score from which a finding counts, per finding code.",
    }
)
class FindingThresholdsField(serializers.DictField):
    """Scores per finding code; a code the engine does not know is refused, naming it."""

    child = StrictFloatField(min_value=0, max_value=1)

    def to_internal_value(self, data: object) -> dict:
        value = super().to_internal_value(data)
        unknown = sorted(code for code in value if code not in FINDING_CODES)
        if unknown:
            raise serializers.ValidationError(_("Unknown finding codes: %(codes)s.") % {"codes": ", ".join(unknown)})
        return value


@extend_schema_field({"type": "string", "pattern": QA_SAMPLE_RATE_PATTERN, "example": "0.05"})
class SampleRateField(PatternDecimalField):
    """A share from 0 to 1 as a string of digits (never a JSON number), e.g. "0.05"."""

    pattern = QA_SAMPLE_RATE_PATTERN

    def __init__(self, **kwargs: object) -> None:
        super().__init__(max_digits=QA_SAMPLE_RATE_PLACES + 1, decimal_places=QA_SAMPLE_RATE_PLACES, **kwargs)


class PolicySerializer(NoUnknownFieldsMixin, serializers.ModelSerializer):
    merchant_window = MerchantWindowField(
        help_text=f"From {duration_words(MIN_MERCHANT_WINDOW)} to {duration_words(MAX_MERCHANT_WINDOW)}, "
        'as [D ]HH:MM:SS, e.g. "2 00:00:00" for 48 hours.'
    )
    claim_timeout = ClaimTimeoutField(
        help_text=f"From {duration_words(MIN_CLAIM_TIMEOUT)} to {duration_words(MAX_CLAIM_TIMEOUT)}, "
        'as [D ]HH:MM:SS, e.g. "00:30:00".'
    )
    fast_track_enabled = StrictBooleanField()
    expiry_auto_approves = StrictBooleanField()
    fast_track_ceiling = AmountOrZeroField()
    review_time_limit = MerchantWindowField(
        help_text=f"From {duration_words(MIN_MERCHANT_WINDOW)} to {duration_words(MAX_MERCHANT_WINDOW)}, "
        "as [D ]HH:MM:SS: reviewers decide within it."
    )
    senior_amount_ceiling = AmountOrZeroField(help_text="Approving more than this amount needs a senior reviewer.")
    default_threshold = StrictFloatField(min_value=0, max_value=1)
    finding_thresholds = FindingThresholdsField()
    buyer_alert_amount = AmountOrZeroField(
        help_text="Refunds on a buyer's applications judged forged that reach this "
        "amount (in buyer_alert_currency) flag the buyer to reviewers."
    )
    buyer_alert_currency = serializers.RegexField(r"^[A-Z]{3}$", help_text="ISO 4217 code, e.g. CNY.")
    buyer_risk_holds_for_review = StrictBooleanField(
        help_text="A buyer with a forged finding or at the alert amount is never approved automatically."
    )
    appeal_window_days = StrictIntegerField(
        min_value=MIN_APPEAL_WINDOW_DAYS,
        max_value=MAX_APPEAL_WINDOW_DAYS,
        help_text="Days after a decision during which the merchant or the buyer may appeal it.",
    )
    qa_sample_rate = SampleRateField(
        help_text="The share of reviewers' decisions another reviewer reviews again, blind, from "
        '"0" to "1" (default "0.05", one in twenty); the statistics report their agreement.'
    )
    second_photo_window = SecondPhotoWindowField(
        help_text=f"From {duration_words(MIN_SECOND_PHOTO_WINDOW)} to {duration_words(MAX_SECOND_PHOTO_WINDOW)}, "
        "as [D ]HH:MM:SS: how long the buyer has to send another photo when asked; the review clock pauses meanwhile."
    )
    second_photo_for_uncertain = StrictBooleanField(
        help_text="Ask the buyer for another photo of the damage from another angle as soon as an application "
        "screened `suspicious` enters review."
    )

    class Meta:
        model = Policy
        fields = [*Policy.SETTINGS, "updated_at"]
        read_only_fields = ["updated_at"]


class PolicyView(GenericAPIView):
    serializer_class = PolicySerializer
    required_scope = "policy"
    parser_classes = [BoundedJSONParser]

    def get(self, request: Request) -> Response:
        """Read the platform's policy."""
        return Response(PolicySerializer(settings_services.policy_of(platform=request.auth.platform)).data)

    def patch(self, request: Request) -> Response:
        """Change some of the policy's fields; the change is recorded with the key that made it."""
        form = PolicySerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        policy = settings_services.policy_update(
            platform=request.auth.platform,
            changes=form.validated_data,
            actor=settings_services.settings_actor_for_key(request.auth),
        )
        return Response(PolicySerializer(policy).data)


@extend_schema_field(
    {
        "type": "string",
        "format": "uri",
        "maxLength": 500,
        "pattern": url_guard.URL_PATTERN,
        "example": "https://hooks.example.com/reviewhub",
    }
)
class WebhookUrlField(serializers.URLField):
    def to_internal_value(self, data: object) -> str:
        url = super().to_internal_value(data)
        if not re.fullmatch(url_guard.URL_PATTERN, url):
            self.fail("invalid")
        return url


class WebhookEndpointSerializer(NoUnknownFieldsMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    url = WebhookUrlField(
        max_length=500,
        help_text="http(s) with a host name or an IPv4 address (IPv6 literals such as https://[2001:db8::1]/ are "
        "refused: use a host name); https and a public address in production.",
    )
    active = StrictBooleanField(required=False, default=True, help_text="An inactive endpoint gets no new events.")

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "active", "created_at", "previous_secret_expires_at"]
        read_only_fields = ["created_at", "previous_secret_expires_at"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The signing secret, shown in this answer only: null when the answer is an "
        "Idempotency-Key replay (rotate the secret to get a new one).",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = ["created_at", "previous_secret_expires_at", "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    event = serializers.UUIDField(source="event.public_id")
    application = serializers.UUIDField(source="event.application.public_id")
    sequence = serializers.IntegerField(source="event.sequence")
    endpoint = serializers.UUIDField(source="endpoint.public_id")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "application",
            "sequence",
            "endpoint",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "delivered_at",
            "request_id",
        ]


class _WebhookView(GenericAPIView):
    required_scope = "webhooks"
    parser_classes = [BoundedJSONParser]

    def endpoints(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.filter(platform=self.request.auth.platform)

    def actor(self):  # noqa: ANN201
        return settings_services.settings_actor_for_key(self.request.auth)


class WebhookEndpointListView(_WebhookView):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(operation_id="webhook_endpoints_list", responses={200: WebhookEndpointSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """List the platform's webhook endpoints (without their secrets)."""
        return Response(WebhookEndpointSerializer(self.endpoints().order_by("created_at"), many=True).data)

    @extend_schema(responses={201: WebhookEndpointWithSecretSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        """Add an endpoint; the answer carries its signing secret, shown this once. 409 for a URL the
        platform has already or past the endpoint limit."""
        form = WebhookEndpointSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        endpoint = settings_services.webhook_endpoint_create(
            platform=request.auth.platform,
            url=form.validated_data["url"],
            active=form.validated_data["active"],
            actor=self.actor(),
        )
        return _secret_shown_once(
            Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)
        )


class WebhookEndpointDetailView(_WebhookView):
    serializer_class = WebhookEndpointSerializer

    def get(self, request: Request, public_id: str) -> Response:
        """Read an endpoint (without its secret)."""
        return Response(
            WebhookEndpointSerializer(_get(self.endpoints(), public_id, ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND)).data
        )

    def patch(self, request: Request, public_id: str) -> Response:
        """Change an endpoint's URL, or switch it off (`"active": false`) and on again."""
        endpoint = _get(self.endpoints(), public_id, ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND)
        form = WebhookEndpointSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        endpoint = settings_services.webhook_endpoint_update(
            endpoint=endpoint,
            actor=self.actor(),
            url=form.validated_data.get("url"),
            active=form.validated_data.get("active"),
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    def delete(self, request: Request, public_id: str) -> Response:
        """Remove an endpoint; its pending deliveries are dropped."""
        settings_services.webhook_endpoint_delete(
            endpoint=_get(self.endpoints(), public_id, ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND), actor=self.actor()
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number (``3600.0`` too: JSON Schema counts it as an integer); a string, a
    fraction or a boolean is refused."""

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, float) and data.is_integer():
            data = int(data)
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class RotateSecretSerializer(NoUnknownFieldsMixin, serializers.Serializer):
    overlap_seconds = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=int(settings.WEBHOOK_SECRET_ROTATION_MAX_OVERLAP.total_seconds()),
        help_text="How long the old secret keeps signing beside the new one (default "
        f"{int(settings.WEBHOOK_SECRET_ROTATION_OVERLAP.total_seconds())}; 0 ends it now).",
    )


class WebhookEndpointRotateView(_WebhookView):
    serializer_class = WebhookEndpointWithSecretSerializer

    @extend_schema(request=RotateSecretSerializer, responses={200: WebhookEndpointWithSecretSerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Replace the endpoint's signing secret; the answer carries the new one. The old secret keeps
        signing beside it (a second `v1=` in the signature header) until `previous_secret_expires_at`."""
        form = RotateSecretSerializer(data=request.data or {})
        form.is_valid(raise_exception=True)
        seconds = form.validated_data.get("overlap_seconds")
        endpoint = settings_services.webhook_endpoint_rotate_secret(
            endpoint=_get(self.endpoints(), public_id, ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND),
            actor=self.actor(),
            overlap=None if seconds is None else timedelta(seconds=seconds),
        )
        return _secret_shown_once(Response(WebhookEndpointWithSecretSerializer(endpoint).data))


def _secret_shown_once(response: Response) -> Response:
    setattr(response, SHOWN_ONCE, ("secret",))
    return response


class WebhookDeliveryListView(_WebhookView):
    serializer_class = WebhookDeliverySerializer
    pagination_class = EventCursorPagination

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        deliveries = (
            WebhookDelivery.objects.filter(endpoint__platform=self.request.auth.platform)
            .select_related("event__application", "endpoint")
            # The cursor reads its position from an attribute of the row, so the event's
            # time is copied onto it rather than ordered through the relation.
            .annotate(event_created_at=F("event__created_at"))
        )
        wanted = self.request.query_params.get("status")
        if wanted is None:
            return deliveries
        if wanted not in WebhookDelivery.Status.values:
            raise invalid_parameter(
                "status",
                _("Give one of: %(values)s.") % {"values": ", ".join(WebhookDelivery.Status.values)},
                allowed=WebhookDelivery.Status.values,
            )
        return deliveries.filter(status=wanted)

    @extend_schema(
        operation_id="webhook_deliveries_list",
        responses={200: WebhookDeliverySerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=WebhookDelivery.Status.values,
                description="Only deliveries in this status.",
            )
        ],
    )
    def get(self, request: Request) -> Response:
        """List deliveries, newest event first; `?status=failed` shows what needs attention."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryRedeliverView(_WebhookView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Send a delivery again."""
        delivery = _get(
            WebhookDelivery.objects.filter(endpoint__platform=request.auth.platform).select_related(
                "event__application", "endpoint"
            ),
            public_id,
            ErrorCode.WEBHOOK_DELIVERY_NOT_FOUND,
        )
        delivery = settings_services.webhook_delivery_redeliver(delivery=delivery, actor=self.actor())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
