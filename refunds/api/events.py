"""GET /events: the webhook outbox as a feed, so a platform catches up after downtime without webhooks."""

from __future__ import annotations

import uuid

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from refunds import selectors
from refunds.api.pagination import CreatedCursorPagination, invalid_parameter
from refunds.api.schema import WEBHOOK_SCHEMA
from refunds.models import WebhookEvent


@extend_schema_field(WEBHOOK_SCHEMA["properties"]["data"])
class EventDataField(serializers.JSONField):
    pass


class EventSerializer(serializers.ModelSerializer):
    """The event as its webhook delivers it."""

    id = serializers.UUIDField(source="public_id", read_only=True, help_text="Event id; the same as the webhook's.")
    sequence = serializers.IntegerField(help_text="1, 2, 3… per application.")
    data = EventDataField(source="payload")

    class Meta:
        model = WebhookEvent
        fields = ["id", "type", "sequence", "created_at", "data"]


class EventCursor(CreatedCursorPagination):
    """Oldest first, so that following the pages (or resuming with ``after``) misses nothing."""

    ordering = ("created_at", "public_id")


class EventListView(GenericAPIView):
    serializer_class = EventSerializer
    pagination_class = EventCursor

    def get_queryset(self):  # noqa: ANN201
        if getattr(self, "swagger_fake_view", False):
            return WebhookEvent.objects.none()
        after = self.request.query_params.get("after")
        if after is not None:
            try:
                after = uuid.UUID(after)
            except ValueError:
                raise invalid_parameter("after", _("Give the id of an event.")) from None
        return selectors.event_list_for_platform(platform=self.request.auth.platform, after=after, now=timezone.now())

    @extend_schema(
        operation_id="events_list",
        responses={200: EventSerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "after", OpenApiTypes.UUID, description="Only events after this one (the last you processed)."
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        """List the platform's events, oldest first: the webhooks' events, for catching up without them.
        Each event appears a few seconds after it happened (`EVENTS_FEED_DELAY`), once it can no longer be
        overtaken by an older one."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(EventSerializer(page, many=True).data)
