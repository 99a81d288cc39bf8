"""Operators' pages: platforms with their policy and settings changes, shops, products, API keys
and webhook endpoints. Every change of a platform's settings goes through its service, which
validates it and records who changed what."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from refunds.admin.base import ReadOnlyAdmin, ReadOnlyInline, thumbnail
from refunds.errors import DomainError
from refunds.models import (
    ApiKey,
    Merchant,
    MerchantMember,
    Platform,
    Policy,
    Product,
    ReferenceImage,
    SettingsChange,
    WebhookEndpoint,
)
from refunds.services import Actor
from refunds.services import platform as platform_services
from screening.messages import label as finding_label


class PlatformAddForm(forms.ModelForm):
    class Meta:
        model = Platform
        fields = ["name", "slug"]


_TARGET_MODELS = {
    SettingsChange.Target.PLATFORM: Platform,
    SettingsChange.Target.POLICY: Policy,
    SettingsChange.Target.API_KEY: ApiKey,
    SettingsChange.Target.WEBHOOK_ENDPOINT: WebhookEndpoint,
}
# Values a record holds that are not fields of the changed object.
_EXTRA_LABELS = {"replaced_by": _("replaced by")}


def _setting_words(model: type[models.Model] | None, key: str, value: object) -> tuple[str, str]:
    """Return a recorded setting's name and value as a person reads them: the field's label,
    durations in days and hours, yes or no, scopes and finding codes by their names."""
    field = None
    if model is not None:
        try:
            field = model._meta.get_field(key)
        except FieldDoesNotExist:
            field = None
    label = str(field.verbose_name) if field is not None else str(_EXTRA_LABELS.get(key, key))
    if value is None or value == "":
        return label, "—"
    if isinstance(value, bool):
        return label, yes_no(value)
    if isinstance(field, models.DurationField) and isinstance(value, int | float):
        return label, duration_words(timedelta(seconds=value))
    if model is ApiKey and key == "scopes" and isinstance(value, list):
        scopes = dict(ApiKey.Scope.choices)
        return label, ", ".join(str(scopes.get(scope, scope)) for scope in value)
    if model is Policy and key == "finding_thresholds" and isinstance(value, dict):
        return label, "; ".join(f"{finding_label(code)}: {score}" for code, score in sorted(value.items())) or "—"
    if isinstance(field, models.DateTimeField) and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return label, value
        return label, formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")
    return label, str(value)


def _settings_values(values: dict | None, target: str = "") -> str:
    if not values:
        return "-"
    model = _TARGET_MODELS.get(target)  # type: ignore[call-overload]
    rows = sorted(_setting_words(model, key, value) for key, value in values.items())
    return format_html_join("", '<div style="overflow-wrap:anywhere">{}: {}</div>', rows)


class SettingsValuesColumns:
    """The before and after columns of a settings change, in words (the inline and the list share them)."""

    @admin.display(description=_("before"))
    def before_values(self, obj: SettingsChange) -> str:
        return _settings_values(obj.before, obj.target)

    @admin.display(description=_("after"))
    def after_values(self, obj: SettingsChange) -> str:
        return _settings_values(obj.after, obj.target)


class SettingsChangeInline(SettingsValuesColumns, ReadOnlyInline):
    model = SettingsChange
    fields = ["at", "action", "actor_label", "before_values", "after_values"]
    readonly_fields = fields
    ordering = ["-at", "-id"]
    verbose_name_plural = _("settings changes")


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    """Platforms are onboarded by a service that creates the policy with them; the policy and
    the record of every settings change are linked from here."""

    list_display = ["name", "slug", "public_id", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["public_id", "policy_link"]
    inlines = [SettingsChangeInline]

    def get_form(self, request: HttpRequest, obj: Platform | None = None, **kwargs: object) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = PlatformAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Platform | None = None) -> list[str]:
        return ["name", "slug"] if obj is None else ["public_id", "name", "slug", "shares_reuse_hashes", "policy_link"]

    def get_inlines(self, request: HttpRequest, obj: Platform | None) -> list:
        return [] if obj is None else self.inlines

    def save_model(self, request: HttpRequest, obj: Platform, form: forms.ModelForm, change: bool) -> None:
        if change:
            if "shares_reuse_hashes" in form.changed_data:
                platform_services.platform_reuse_sharing_set(
                    platform=obj,
                    shares=form.cleaned_data["shares_reuse_hashes"],
                    actor=platform_services.settings_actor_for_staff(request.user),
                )
            if set(form.changed_data) - {"shares_reuse_hashes"}:
                super().save_model(request, obj, form, change)
            return
        created = platform_services.platform_create(
            name=obj.name, slug=obj.slug, actor=platform_services.settings_actor_for_staff(request.user)
        )
        obj.pk, obj.public_id, obj.created_at = created.pk, created.public_id, created.created_at

    @admin.display(description=_("policy"))
    def policy_link(self, obj: Platform) -> str:
        policy = platform_services.policy_of(platform=obj)
        return format_html('<a href="{}">{}</a>', reverse("admin:refunds_policy_change", args=[policy.pk]), policy)


def yes_no(value: bool) -> str:
    return gettext("yes") if value else gettext("no")


def duration_words(value: timedelta) -> str:
    """A duration as a person says it: "2 days", "48 hours" stays "2 days", "90 minutes" is "1 h 30 min"."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [ngettext("%(n)d day", "%(n)d days", days) % {"n": days}] if days else []
    if hours:
        parts.append(gettext("%(n)d h") % {"n": hours})
    if minutes or not parts:
        parts.append(gettext("%(n)d min") % {"n": minutes})
    return " ".join(parts)


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    """The policy, validated by its one validator (the model's clean) and saved by the service,
    which records who changed what."""

    list_display = ["platform", "window", "fast_track", "fast_track_ceiling", "expiry_approves", "updated_at"]
    fields = ["platform", *Policy.SETTINGS, "updated_at"]
    readonly_fields = ["platform", "updated_at"]

    # Words rather than Django's "2 days, 0:00:00" and its icons whose alternative text is an
    # untranslated "True".
    @admin.display(description=_("merchant response window"), ordering="merchant_window")
    def window(self, obj: Policy) -> str:
        return duration_words(obj.merchant_window)

    @admin.display(description=_("fast-track enabled"), ordering="fast_track_enabled")
    def fast_track(self, obj: Policy) -> str:
        return yes_no(obj.fast_track_enabled)

    @admin.display(description=_("window expiry auto-approves clean applications"), ordering="expiry_auto_approves")
    def expiry_approves(self, obj: Policy) -> str:
        return yes_no(obj.expiry_auto_approves)

    # A reader without the right to change the policy sees each setting in words, not the
    # form's raw values (durations as "2 days, 0:00:00").
    def _read_only(self, request: HttpRequest, obj: object) -> bool:
        return obj is not None and not self.has_change_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        if self._read_only(request, obj):
            return ["platform", *(f"{name}_words" for name in Policy.SETTINGS), "updated_at"]
        return list(self.fields)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return self.get_fields(request, obj) if self._read_only(request, obj) else list(self.readonly_fields)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a policy comes with its platform

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Policy, form: forms.ModelForm, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in Policy.SETTINGS}
        platform_services.policy_update(
            platform=obj.platform, changes=changes, actor=platform_services.settings_actor_for_staff(request.user)
        )


def _policy_setting_words(name: str) -> object:
    @admin.display(description=Policy._meta.get_field(name).verbose_name)
    def show(admin_: PolicyAdmin, obj: Policy) -> str:
        value = obj.settings_values()[name]
        return _setting_words(Policy, name, value)[1]

    return show


for _name in Policy.SETTINGS:
    setattr(PolicyAdmin, f"{_name}_words", _policy_setting_words(_name))


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "external_ref", "public_id"]
    list_filter = ["platform"]
    search_fields = ["name", "external_ref"]
    readonly_fields = ["public_id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Merchant | None = None) -> list[str]:
        # A shop's applications, keys and members belong to its platform: it never moves.
        return [*self.readonly_fields, "platform"] if obj is not None else list(self.readonly_fields)


@admin.register(MerchantMember)
class MerchantMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "merchant", "role"]
    list_filter = ["role"]
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

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None) -> list[str]:
        # A product's claims belong to its shop: moving the product would hand them to another.
        return [*self.readonly_fields, "merchant"] if obj is not None else list(self.readonly_fields)


class ApiKeyIssueForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple, initial=["read", "write"]
    )

    class Meta:
        model = ApiKey
        fields = ["platform", "name", "expires_at"]

    def clean_expires_at(self) -> object:
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise ValidationError(_("The expiry must be in the future."))
        return expires_at


def _staff(request: HttpRequest) -> Actor:
    return platform_services.settings_actor_for_staff(request.user)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "prefix", "scopes", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["platform"]
    actions = ["rotate", "rotate_now", "revoke"]

    def get_form(self, request: HttpRequest, obj: ApiKey | None = None, **kwargs: object) -> type[forms.ModelForm]:
        if obj is None:
            kwargs["form"] = ApiKeyIssueForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        if obj is None:
            return ["platform", "name", "scopes", "expires_at"]
        return [
            "public_id",
            "platform",
            "name",
            "prefix",
            "scopes",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
            "replaced_by",
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> list[str]:
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: forms.ModelForm, change: bool) -> None:
        if change:
            return  # keys are never edited: rotate or revoke them
        key, text = platform_services.api_key_issue(
            platform=obj.platform,
            name=obj.name,
            scopes=form.cleaned_data["scopes"],
            expires_at=form.cleaned_data.get("expires_at"),
            actor=_staff(request),
        )
        obj.pk, obj.prefix, obj.scopes = key.pk, key.prefix, key.scopes
        self.message_user(request, _("The new key, shown this once: %(key)s") % {"key": text}, messages.WARNING)

    def _rotate(self, request: HttpRequest, queryset: QuerySet[ApiKey], overlap: timedelta | None) -> None:
        for key in queryset.filter(revoked_at__isnull=True):
            try:
                text = platform_services.api_key_rotate(key=key, actor=_staff(request), overlap=overlap)[1]
            except DomainError as exc:
                self.message_user(request, f"{key.name}: {exc.message}", messages.ERROR)
                continue
            self.message_user(
                request,
                _("%(name)s: the new key, shown this once: %(key)s") % {"name": key.name, "key": text},
                messages.WARNING,
            )

    @admin.action(
        description=_("Rotate: issue a new key with the same scopes; the old one works for the overlap period"),
        permissions=["add"],
    )
    def rotate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._rotate(request, queryset, None)

    @admin.action(description=_("Rotate now: issue a new key and revoke the old one at once"), permissions=["add"])
    def rotate_now(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        self._rotate(request, queryset, timedelta(0))

    @admin.action(description=_("Revoke selected keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        keys = list(queryset.filter(revoked_at__isnull=True))
        for key in keys:
            platform_services.api_key_revoke(key=key, actor=_staff(request))
        self.message_user(request, _("%(count)d key(s) revoked.") % {"count": len(keys)}, messages.SUCCESS)


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["platform", "url", "active"]

    def clean(self) -> dict:
        data = super().clean()
        platform, url = data.get("platform") or getattr(self.instance, "platform", None), data.get("url")
        if platform is not None and url:
            try:
                platform_services.webhook_endpoint_check(
                    platform=platform, url=url, endpoint=self.instance if self.instance.pk else None
                )
            except DomainError as error:
                error.add_to_form(self)
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "platform", "active", "created_at"]
    list_filter = ["platform", "active"]
    readonly_fields = ["public_id", "created_at"]
    actions = ["rotate_secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: WebhookEndpoint | None = None) -> list[str]:
        # The platform of an endpoint never changes; the secret is shown once, when rotated.
        return [*self.readonly_fields, "platform"] if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: forms.ModelForm, change: bool) -> None:
        if change:
            platform_services.webhook_endpoint_update(
                endpoint=obj, actor=_staff(request), url=form.cleaned_data["url"], active=form.cleaned_data["active"]
            )
            return
        created = platform_services.webhook_endpoint_create(
            platform=obj.platform, url=obj.url, active=obj.active, actor=_staff(request)
        )
        obj.pk, obj.public_id, obj.secret = created.pk, created.public_id, created.secret
        self.message_user(
            request, _("The signing secret, shown this once: %(secret)s") % {"secret": created.secret}, messages.WARNING
        )

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        platform_services.webhook_endpoint_delete(endpoint=obj, actor=_staff(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            platform_services.webhook_endpoint_delete(endpoint=endpoint, actor=_staff(request))

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            rotated = platform_services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=_staff(request))
            self.message_user(
                request,
                _(
                    "%(url)s: the new signing secret, shown this once: %(secret)s. "
                    "The old one also signs until %(until)s."
                )
                % {"url": rotated.url, "secret": rotated.secret, "until": rotated.previous_secret_expires_at},
                messages.WARNING,
            )


@admin.register(SettingsChange)
class SettingsChangeAdmin(SettingsValuesColumns, ReadOnlyAdmin):
    list_display = ["at", "platform", "target", "target_id", "action", "actor_kind", "actor_label"]
    ordering = ["-at", "-id"]
    list_filter = ["platform", "target", "action", "actor_kind"]
    search_fields = ["target_id", "actor_label"]
    # The values before and after in words, not the stored JSON with its field names.
    fields = ["at", "platform", "target", "target_id", "action", "actor_kind", "actor_label", "actor_user"]
    fields += ["before_values", "after_values"]

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return self.fields
