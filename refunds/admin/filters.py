"""The queue's views and filters."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from refunds import selectors
from screening.messages import LABELS
from screening.models import Finding

VIEW_LABELS = {
    "mine": _("My claims"),
    "unclaimed": _("Unclaimed"),
    "others": _("Claimed by others"),
    "review": _("All in review"),
    "open": _("All open"),
    "closed": _("Decided and withdrawn"),
    "all": _("Everything"),
}


class QueueViewFilter(admin.SimpleListFilter):
    """Which part of the queue: the page's tabs, not the sidebar, show it (with counts)."""

    title = _("view")
    parameter_name = "view"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(VIEW_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset.filter(
            selectors.queue_view_filter(
                self.value() or selectors.DEFAULT_QUEUE_VIEW, user=request.user, now=timezone.now()
            )
        )


class FindingFilter(admin.SimpleListFilter):
    title = _("finding")
    parameter_name = "finding"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in LABELS:
            return queryset
        return queryset.filter(
            Exists(Finding.objects.filter(result__evidence__application=OuterRef("pk"), code=self.value()))
        )


AMOUNT_BANDS = {
    "lt100": (None, Decimal("100")),
    "100-500": (Decimal("100"), Decimal("500")),
    "500-2000": (Decimal("500"), Decimal("2000")),
    "ge2000": (Decimal("2000"), None),
}


class AmountBandFilter(admin.SimpleListFilter):
    title = _("amount")
    parameter_name = "amount_band"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("lt100", _("under 100")),
            ("100-500", "100 – 500"),
            ("500-2000", "500 – 2000"),
            ("ge2000", _("2000 and more")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in AMOUNT_BANDS:
            return queryset
        low, high = AMOUNT_BANDS[self.value()]
        condition = Q()
        if low is not None:
            condition &= Q(amount__gte=low)
        if high is not None:
            condition &= Q(amount__lt=high)
        return queryset.filter(condition)


AGES = {"1d": (None, 1), "1-3d": (1, 3), "3-7d": (3, 7), "7d": (7, None)}


class AgeFilter(admin.SimpleListFilter):
    title = _("age")
    parameter_name = "age"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("1d", _("under a day")),
            ("1-3d", _("1 to 3 days")),
            ("3-7d", _("3 to 7 days")),
            ("7d", _("over a week")),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() not in AGES:
            return queryset
        younger, older = AGES[self.value()]
        now = timezone.now()
        condition = Q()
        if younger is not None:
            condition &= Q(created_at__lte=now - timedelta(days=younger))
        if older is not None:
            condition &= Q(created_at__gt=now - timedelta(days=older))
        return queryset.filter(condition)


class MerchantFilter(admin.RelatedFieldListFilter):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.title = _("merchant")
