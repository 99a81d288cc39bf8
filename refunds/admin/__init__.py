"""The Django admin: the reviewers' queue and application page, read-only records and the
operators' settings. State, audit and sequence fields are never editable here."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from refunds.admin import appeals, applications, platforms, quality, records  # noqa: F401 - registers the pages
from refunds.admin.base import ReadOnlyAdmin, ReadOnlyInline

__all__ = ["ReadOnlyAdmin", "ReadOnlyInline"]

admin.site.site_header = _("reviewhub review")
admin.site.site_title = _("reviewhub")
admin.site.index_title = _("Refund review")
