"""What the admin's pages share: read-only records and image previews."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by services: visible to staff with the view permission, never
    added, edited or deleted here, by a superuser neither."""

    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def file_url(kind: str, obj: object) -> str:
    return reverse("stored-file", args=[kind, obj.public_id])


def thumbnail(kind: str, obj: object) -> str:
    if not getattr(obj, "pk", None) or not (obj.content_type or "").startswith("image/"):
        return "-"
    url = file_url(kind, obj)
    return format_html('<a href="{}" target="_blank"><img src="{}" class="rh-thumb" alt=""></a>', url, url)
