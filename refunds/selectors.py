"""Queries, each confined to the caller's platform or shop (invariant 6)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from refunds.errors import NotFound
from refunds.models import AuditEvent, Evidence, Platform, RefundApplication


def application_get_for_platform(*, platform: Platform, public_id: object) -> RefundApplication:
    """Return the platform's application; raise NotFound for anyone else's or a malformed id."""
    try:
        return _detail_queryset().get(platform=platform, public_id=public_id)
    except (RefundApplication.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("not_found", _("No such application.")) from None


def application_list_for_platform(*, platform: Platform) -> QuerySet[RefundApplication]:
    """Return the platform's applications with what the list shows, without the audit log."""
    return RefundApplication.objects.filter(platform=platform).select_related("merchant", "product", "decision").prefetch_related(
        Prefetch("evidence", queryset=Evidence.objects.select_related("screening").prefetch_related("screening__findings")),
    )


def _detail_queryset() -> QuerySet[RefundApplication]:
    return RefundApplication.objects.select_related("merchant", "product", "decision").prefetch_related(
        Prefetch("evidence", queryset=Evidence.objects.select_related("screening").prefetch_related("screening__findings")),
        Prefetch("audit_events", queryset=AuditEvent.objects.order_by("seq")),
    )
