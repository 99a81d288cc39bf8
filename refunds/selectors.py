"""Queries, each confined to the caller's platform or shop (invariant 6)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from refunds.errors import NotFound
from refunds.models import Evidence, Platform, RefundApplication


def application_get_for_platform(*, platform: Platform, public_id: object) -> RefundApplication:
    """Return the platform's application; raise NotFound for anyone else's or a malformed id."""
    try:
        return application_list_for_platform(platform=platform).get(public_id=public_id)
    except (RefundApplication.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("not_found", _("No such application.")) from None


def application_id_for_platform(*, platform: Platform, public_id: object) -> int:
    """Return the primary key of the platform's application, checked with one light query;
    raise NotFound for anyone else's or a malformed id."""
    try:
        return RefundApplication.objects.values_list("pk", flat=True).get(platform=platform, public_id=public_id)
    except (RefundApplication.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("not_found", _("No such application.")) from None


def application_list_for_platform(*, platform: Platform) -> QuerySet[RefundApplication]:
    """Return the platform's applications with what their API representation shows."""
    return RefundApplication.objects.filter(platform=platform).select_related("merchant", "product", "decision").prefetch_related(
        Prefetch("evidence", queryset=Evidence.objects.select_related("screening").prefetch_related("screening__findings")),
    )
