"""Records only services write: audit events, decisions, webhook events and deliveries."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from refunds.admin.base import ReadOnlyAdmin
from refunds.admin.timeline import describe
from refunds.models import AuditEvent, Decision, WebhookDelivery, WebhookEvent
from refunds.services import Actor
from refunds.services.platform import webhook_delivery_redeliver
from refunds.states import ActorKind


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["application", "seq", "what", "actor_label", "at", "short_hash"]
    list_filter = ["action", "actor_kind"]
    search_fields = ["=application__public_id"]
    list_select_related = ["application"]

    @admin.display(description=_("what happened"))
    def what(self, obj: AuditEvent) -> str:
        return describe(obj)

    @admin.display(description=_("hash"))
    def short_hash(self, obj: AuditEvent) -> str:
        return obj.hash[:12] + "…"


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = ["application", "outcome", "approved_amount", "currency", "actor_kind", "actor", "decided_at"]
    list_filter = ["outcome", "actor_kind"]
    search_fields = ["=application__public_id"]
    list_select_related = ["application", "actor"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["application", "sequence", "type", "created_at"]
    list_select_related = ["application"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "next_attempt_at", "delivered_at"]
    list_filter = ["status"]
    list_select_related = ["event", "endpoint"]
    actions = ["redeliver"]

    @admin.action(description=_("Deliver again"), permissions=["view"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        actor = Actor.of_user(ActorKind.STAFF, request.user)
        for delivery in queryset.select_related("event", "endpoint__platform"):
            webhook_delivery_redeliver(delivery=delivery, actor=actor)
        self.message_user(request, _("%(count)d delivery(ies) queued.") % {"count": queryset.count()}, messages.SUCCESS)
