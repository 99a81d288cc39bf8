"""Records only services write: audit events, decisions, webhook events and deliveries."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from refunds import selectors
from refunds.admin.base import ReadOnlyAdmin, json_block
from refunds.admin.timeline import describe
from refunds.models import AuditEvent, Decision, WebhookDelivery, WebhookEvent
from refunds.services import Actor
from refunds.services.platform import webhook_delivery_redeliver
from refunds.states import ActorKind, ApplicationState, DecisionReason, RebuttalReason


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["application", "seq", "what", "actor_label", "at", "short_hash"]
    list_filter = ["action", "actor_kind"]
    search_fields = ["=application__public_id"]
    list_select_related = ["application"]
    fields = ["application", "seq", "what", "action", "state_before", "state_after", "actor_kind", "actor_label", "at"]
    fields += ["reason_words", "payload_data", "payload_digest", "prev_hash", "hash"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return self.fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        # A decision's event names its outcome and decider: none for a possible blind second reviewer.
        return super().get_queryset(request).exclude(application__in=selectors.blind_application_ids(user=request.user))

    @admin.display(description=_("from"))
    def state_before(self, obj: AuditEvent) -> str:
        return str(dict(ApplicationState.choices).get(obj.from_state, obj.from_state)) or "—"

    @admin.display(description=_("to"))
    def state_after(self, obj: AuditEvent) -> str:
        return str(dict(ApplicationState.choices).get(obj.to_state, obj.to_state))

    @admin.display(description=_("reason"))
    def reason_words(self, obj: AuditEvent) -> str:
        """The reason as words: a decision's reason codes by their labels, other text as written."""
        labels = {**dict(DecisionReason.choices), **dict(RebuttalReason.choices)}
        parts = [part.strip() for part in obj.reason.split(",") if part.strip()]
        return "; ".join(str(labels.get(part, part)) for part in parts) or "—"

    @admin.display(description=_("payload"))
    def payload_data(self, obj: AuditEvent) -> str:
        return json_block(obj.payload)

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
    fields = ["application", "outcome", "approved_amount", "currency", "actor_kind", "actor", "reasons", "note"]
    fields += ["decided_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return self.fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Decision]:
        return super().get_queryset(request).exclude(application__in=selectors.blind_application_ids(user=request.user))

    @admin.display(description=_("reasons"))
    def reasons(self, obj: Decision) -> str:
        return "; ".join(obj.reasons_display)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["application", "sequence", "type", "created_at"]
    list_select_related = ["application"]
    fields = ["public_id", "platform", "application", "sequence", "type", "body", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return self.fields

    @admin.display(description=_("payload"))
    def body(self, obj: WebhookEvent) -> str:
        return json_block(obj.payload)


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
