"""List filters of the API."""

import django_filters

from refunds.models import RefundApplication
from refunds.states import ApplicationState, RiskLevel


class ApplicationFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=ApplicationState.choices)
    merchant = django_filters.UUIDFilter(field_name="merchant__public_id")
    product = django_filters.UUIDFilter(field_name="product__public_id")
    risk_level = django_filters.MultipleChoiceFilter(choices=RiskLevel.choices)
    unscreened = django_filters.BooleanFilter()
    buyer_ref = django_filters.CharFilter()
    order_ref = django_filters.CharFilter()
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = RefundApplication
        fields: list[str] = []
