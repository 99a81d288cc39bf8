"""List filters of the API."""

from datetime import UTC

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from refunds.models import RefundApplication
from refunds.states import ApplicationState, RiskLevel


class UtcDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with any offset Python accepts, compared in UTC (the database may refuse odd offsets)."""

    def to_python(self, value):  # noqa: ANN001, ANN201
        parsed = super().to_python(value)
        try:
            return parsed.astimezone(UTC) if parsed is not None else None
        except OverflowError:
            raise forms.ValidationError(_("The time is out of range.")) from None


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class ApplicationFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=ApplicationState.choices)
    merchant = django_filters.UUIDFilter(field_name="merchant__public_id")
    product = django_filters.UUIDFilter(field_name="product__public_id")
    risk_level = django_filters.MultipleChoiceFilter(choices=RiskLevel.choices)
    unscreened = django_filters.BooleanFilter()
    buyer_ref = django_filters.CharFilter()
    order_ref = django_filters.CharFilter()
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = RefundApplication
        fields: list[str] = []
