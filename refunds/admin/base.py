"""What the admin's pages share: read-only records and image previews."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin.templatetags import admin_list
from django.contrib.auth.models import Group, Permission
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _lazy

from refunds.roles import ROLE_LABELS
from refunds.views import file_url


def _boolean_icon(value: bool | None) -> str:
    """Django's yes/no/unknown icon, with its alternative text in the reader's language (Django
    writes alt="True" whatever the language)."""
    name, label = {True: ("yes", gettext("Yes")), False: ("no", gettext("No")), None: ("unknown", gettext("Unknown"))}[
        value
    ]
    return format_html('<img src="{}" alt="{}">', static(f"admin/img/icon-{name}.svg"), label)


# Every admin page draws the icon through this one function, looked up when drawn.
admin_list._boolean_icon = _boolean_icon

_DEFAULT_ACTIONS = {
    "add": _lazy("Can add %(model)s"),
    "change": _lazy("Can change %(model)s"),
    "delete": _lazy("Can delete %(model)s"),
    "view": _lazy("Can view %(model)s"),
}


def _group_str(group: Group) -> str:
    return str(ROLE_LABELS.get(group.name, group.name))


def _permission_str(permission: Permission) -> str:
    """A permission as "app | model | what it allows", in the reader's language: Django stores the
    names in English ("Can add finding") and shows them so in every language."""
    model = permission.content_type.model_class()
    name: object = permission.name
    if model is not None:
        action, _sep, model_name = permission.codename.partition("_")
        custom = dict(model._meta.permissions)
        if permission.codename in custom:
            name = custom[permission.codename]
        elif action in _DEFAULT_ACTIONS and model_name == model._meta.model_name:
            name = _DEFAULT_ACTIONS[action] % {"model": model._meta.verbose_name}
    return f"{permission.content_type} | {name}"


# Group and permission names are data Django writes in English; the admin's lists, filters and
# selection boxes draw them through __str__.
Group.__str__ = _group_str  # type: ignore[method-assign]
Permission.__str__ = _permission_str  # type: ignore[method-assign]


def json_block(value: object) -> str:
    """A record's stored JSON (a webhook's body, an audit payload) shown as the data it is."""
    return format_html("<pre><code>{}</code></pre>", json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True))


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


def thumbnail(kind: str, obj: object) -> str:
    if not getattr(obj, "pk", None) or not (obj.content_type or "").startswith("image/"):
        return "-"
    url = file_url(kind, obj)
    # The image is the link's only content: its text alternative is the link's name.
    return format_html(
        '<a href="{}" target="_blank"><img src="{}" class="rh-thumb" alt="{}"></a>',
        url,
        url,
        gettext("Open the image at full size"),
    )
