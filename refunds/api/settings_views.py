"""API for a platform's own settings: its policy and its webhook endpoints."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from refunds import webhooks
from refunds.api.catalogue import _get
from refunds.api.pagination import CreatedCursorPagination
from refunds.idempotency import idempotent
from refunds.models import Policy, WebhookDelivery, WebhookEndpoint


class PolicySerializer(serializers.ModelSerializer):
    merchant_window = serializers.DurationField(help_text="e.g. \"2 00:00:00\" for 48 hours.")
    claim_timeout = serializers.DurationField()

    class Meta:
        model = Policy
        fields = ["merchant_window", "fast_track_enabled", "fast_track_ceiling", "expiry_auto_approves", "claim_timeout",
                  "finding_thresholds", "default_threshold", "updated_at"]
        read_only_fields = ["updated_at"]

    def validate(self, data: dict) -> dict:
        candidate = Policy(**{**{f: getattr(self.instance, f) for f in self.Meta.fields if f != "updated_at"}, **data})
        try:
            candidate.clean()
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        if candidate.merchant_window.total_seconds() < 3600 or candidate.claim_timeout.total_seconds() < 60:
            raise serializers.ValidationError(_("The merchant window must be at least an hour and claims at least a minute."))
        return data


class PolicyView(GenericAPIView):
    serializer_class = PolicySerializer
    required_scope = "policy"
    parser_classes = [JSONParser]

    def get(self, request: Request) -> Response:
        """Read the platform's policy."""
        return Response(PolicySerializer(request.auth.platform.policy).data)

    def patch(self, request: Request) -> Response:
        """Change some of the policy's fields."""
        form = PolicySerializer(request.auth.platform.policy, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        form.save()
        return Response(form.data)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "active", "created_at"]
        read_only_fields = ["created_at"]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = ["created_at", "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    event = serializers.UUIDField(source="event.public_id")
    application = serializers.UUIDField(source="event.application.public_id")
    sequence = serializers.IntegerField(source="event.sequence")
    endpoint = serializers.UUIDField(source="endpoint.public_id")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "event", "application", "sequence", "endpoint", "status", "attempts", "next_attempt_at",
                  "last_status_code", "last_error", "delivered_at"]


class _WebhookView(GenericAPIView):
    required_scope = "webhooks"
    parser_classes = [JSONParser]

    def endpoints(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.filter(platform=self.request.auth.platform)


class WebhookEndpointListView(_WebhookView):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(operation_id="webhook_endpoints_list", responses={200: WebhookEndpointSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """List the platform's webhook endpoints (without their secrets)."""
        return Response(WebhookEndpointSerializer(self.endpoints().order_by("created_at"), many=True).data)

    @extend_schema(responses={201: WebhookEndpointWithSecretSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        """Add an endpoint; the answer carries its signing secret, shown this once."""
        form = WebhookEndpointSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        endpoint = webhooks.endpoint_create(platform=request.auth.platform, url=form.validated_data["url"])
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(_WebhookView):
    serializer_class = WebhookEndpointSerializer

    def delete(self, request: Request, public_id: str) -> Response:
        """Remove an endpoint; its pending deliveries are dropped."""
        _get(self.endpoints(), public_id, "webhook_endpoint").delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookEndpointRotateView(_WebhookView):
    serializer_class = WebhookEndpointWithSecretSerializer

    @extend_schema(request=None, responses={200: WebhookEndpointWithSecretSerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Replace the endpoint's signing secret; the answer carries the new one."""
        endpoint = _get(self.endpoints(), public_id, "webhook_endpoint")
        endpoint.secret = webhooks.new_secret()
        endpoint.save(update_fields=["secret"])
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)


class WebhookDeliveryListView(_WebhookView):
    serializer_class = WebhookDeliverySerializer
    pagination_class = CreatedCursorPagination

    def get_queryset(self) -> QuerySet[WebhookDelivery]:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        deliveries = WebhookDelivery.objects.filter(endpoint__platform=self.request.auth.platform).select_related(
            "event__application", "endpoint")
        wanted = self.request.query_params.get("status")
        return deliveries.filter(status=wanted) if wanted else deliveries

    @extend_schema(operation_id="webhook_deliveries_list", responses={200: WebhookDeliverySerializer(many=True)})
    def get(self, request: Request) -> Response:
        """List deliveries, newest event first; `?status=failed` shows what needs attention."""
        self.paginator.ordering = ("-event__created_at", "-id")
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class WebhookDeliveryRedeliverView(_WebhookView):
    serializer_class = WebhookDeliverySerializer

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Send a delivery again."""
        delivery = _get(WebhookDelivery.objects.filter(endpoint__platform=request.auth.platform).select_related(
            "event__application", "endpoint"), public_id, "webhook_delivery")
        webhooks.delivery_redeliver(delivery=delivery)
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
