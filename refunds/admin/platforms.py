"""Operators' pages: platforms with their policy, shops, products, API keys and webhook endpoints."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from refunds import webhooks
from refunds.admin.base import ReadOnlyInline, thumbnail
from refunds.apikeys import api_key_issue
from refunds.models import ApiKey, Merchant, MerchantMember, Platform, Policy, Product, ReferenceImage, WebhookEndpoint


class PolicyInline(admin.StackedInline):
    model = Policy
    can_delete = False


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "public_id", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_id"]
    inlines = [PolicyInline]


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "external_ref", "public_id"]
    list_filter = ["platform"]
    search_fields = ["name", "external_ref"]
    readonly_fields = ["public_id"]


@admin.register(MerchantMember)
class MerchantMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant"]
    autocomplete_fields = ["merchant"]


class ReferenceImageInline(ReadOnlyInline):
    model = ReferenceImage
    fields = ["preview", "kind", "sha256", "width", "height", "created_at"]
    readonly_fields = fields

    @admin.display(description=_("image"))
    def preview(self, obj: ReferenceImage) -> str:
        return thumbnail("reference", obj)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["title", "merchant", "external_ref", "public_id"]
    list_filter = ["merchant__platform"]
    search_fields = ["title", "external_ref"]
    readonly_fields = ["public_id"]
    inlines = [ReferenceImageInline]


class ApiKeyIssueForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(label=_("scopes"), choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple,
                                       initial=["read", "write"])

    class Meta:
        model = ApiKey
        fields = ["platform", "name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["platform"]
    actions = ["rotate", "revoke"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: object) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = ApiKeyIssueForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["platform", "name", "scopes"]
        return ["public_id", "platform", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            return  # keys are never edited: rotate or revoke them
        key, text = api_key_issue(platform=obj.platform, name=obj.name, scopes=form.cleaned_data["scopes"])
        obj.pk, obj.prefix, obj.scopes = key.pk, key.prefix, key.scopes
        self.message_user(request, _("The new key, shown this once: %(key)s") % {"key": text}, messages.WARNING)

    @admin.action(description=_("Rotate: issue a new key with the same scopes, revoke this one"), permissions=["add"])
    def rotate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            text = api_key_issue(platform=key.platform, name=key.name, scopes=key.scopes)[1]
            ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
            self.message_user(request, _("%(name)s: the new key, shown this once: %(key)s") % {"name": key.name, "key": text},
                              messages.WARNING)

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, _("%(count)d key(s) revoked.") % {"count": count}, messages.SUCCESS)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "platform", "active", "created_at"]
    list_filter = ["platform", "active"]
    readonly_fields = ["public_id", "secret", "created_at"]

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: object, change: bool) -> None:
        if not obj.secret:
            obj.secret = webhooks.new_secret()
        super().save_model(request, obj, form, change)
