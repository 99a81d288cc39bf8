"""List filters of the API: a malformed value is a 400 naming the parameter, never ignored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request

from refunds.api.pagination import invalid_parameter
from refunds.errors import ErrorCode, InvalidInput
from refunds.models import RefundApplication
from refunds.states import ApplicationState, RiskLevel


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with any offset Python accepts, compared in UTC (the database may refuse odd offsets)."""

    def to_python(self, value):  # noqa: ANN001, ANN201
        # Absent is None; present but empty is a mistake the client should hear about.
        if value == "":
            raise forms.ValidationError(_("Give a time, e.g. 2026-11-30T10:00:00Z."))
        parsed = super().to_python(value)
        try:
            return parsed.astimezone(UTC) if parsed is not None else None
        except OverflowError:
            raise forms.ValidationError(_("The time is out of range.")) from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class StrictUUIDField(forms.UUIDField):
    def to_python(self, value):  # noqa: ANN001, ANN201
        if value == "":
            raise forms.ValidationError(_("Enter a valid UUID."))
        return super().to_python(value)


class StrictUUIDFilter(django_filters.UUIDFilter):
    field_class = StrictUUIDField


BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``; anything else is refused instead of being read as "no filter"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, choices=BOOLEAN_CHOICES, coerce=lambda value: value == "true", **kwargs)


class ApplicationFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=ApplicationState.choices)
    merchant = StrictUUIDFilter(field_name="merchant__public_id")
    product = StrictUUIDFilter(field_name="product__public_id")
    risk_level = django_filters.MultipleChoiceFilter(choices=RiskLevel.choices)
    unscreened = StrictBooleanFilter()
    buyer_ref = django_filters.CharFilter()
    order_ref = django_filters.CharFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = RefundApplication
        fields: list[str] = []


# Ordering fields that may be empty, and the value an empty one sorts as.
NULLABLE_ORDERING = {"merchant_deadline": datetime(9999, 12, 31, tzinfo=UTC)}


# Orderings by a time that moves when the row changes, walked only upwards: a row changed during
# a newest-first walk jumps ahead of the cursor and is never seen, while in an oldest-first
# walk it moves past the cursor and is seen again, in its final state.
ASCENDING_ONLY = {"updated_at"}


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=`` with one of the view's fields (``-`` for descending); anything else is a
    400, and the public id breaks ties so that cursor pages stay stable."""

    def allowed(self, view: Any) -> list[str]:
        return [
            term
            for field in view.ordering_fields
            for term in (field, f"-{field}")
            if not (term.startswith("-") and field in ASCENDING_ONLY)
        ]

    def get_ordering(self, request: Request, queryset: QuerySet, view: Any) -> list[str] | None:
        raw = request.query_params.get(self.ordering_param)
        if raw is None:
            return self.get_default_ordering(view)
        allowed = self.allowed(view)
        if raw.startswith("-") and raw[1:] in ASCENDING_ONLY and raw[1:] in view.ordering_fields:
            raise InvalidInput(
                ErrorCode.ORDERING_NOT_WALKABLE,
                details={"param": self.ordering_param, "allowed": allowed},
            )
        if raw not in allowed:
            raise invalid_parameter(
                self.ordering_param, _("Order by one of: %(terms)s.") % {"terms": ", ".join(allowed)}, allowed=allowed
            )
        field = raw.lstrip("-")
        if field in NULLABLE_ORDERING:
            raw = raw.replace(field, f"{field}_order")
        return [raw, "-public_id" if raw.startswith("-") else "public_id"]

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        ordering = self.get_ordering(request, queryset, view)
        for field, last in NULLABLE_ORDERING.items():
            if ordering and ordering[0].lstrip("-") == f"{field}_order":
                # A cursor page starts after the last row's value: an empty value (no window
                # yet) cannot be a position, so it sorts as the latest time instead.
                queryset = queryset.annotate(**{f"{field}_order": Coalesce(field, Value(last))})
        return queryset.order_by(*ordering) if ordering else queryset

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Order by this field; prefix - for descending (newest first by default).",
                "schema": {"type": "string", "enum": self.allowed(view)},
            }
        ]
