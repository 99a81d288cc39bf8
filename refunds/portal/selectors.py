"""Queries of the merchant portal, each confined to the member's shop (invariant 6)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from refunds.errors import ErrorCode, NotFound
from refunds.models import Appeal, Evidence, EvidenceRequest, Merchant, MerchantMember, Product, RefundApplication
from refunds.selectors import money_total
from refunds.states import OPEN_STATES, ApplicationState
from screening.models import Finding


def memberships_for_user(user: AbstractBaseUser | AnonymousUser) -> list[MerchantMember]:
    """Return the shops the user acts for, by shop name; none for anyone who is not a shop member."""
    if not user.is_authenticated:
        return []
    return list(MerchantMember.objects.filter(user=user).select_related("merchant").order_by("merchant__name", "pk"))


def membership_choose(memberships: list[MerchantMember], shop_id: object) -> MerchantMember | None:
    """Return the membership of the shop with this public id, the first one if it names none of them."""
    for membership in memberships:
        if str(membership.merchant.public_id) == str(shop_id):
            return membership
    return memberships[0] if memberships else None


def application_list_for_merchant(*, merchant: Merchant) -> QuerySet[RefundApplication]:
    return RefundApplication.objects.filter(merchant=merchant).select_related("product")


def application_get_for_merchant(*, merchant: Merchant, public_id: object) -> RefundApplication:
    """Return the shop's application with what its page shows; raise NotFound for anyone else's."""
    try:
        return (
            application_list_for_merchant(merchant=merchant)
            .select_related("decision", "rebuttal", "platform__policy")
            .prefetch_related(
                Prefetch(
                    "evidence",
                    queryset=Evidence.objects.select_related("screening__matched_reference").prefetch_related(
                        Prefetch("screening__findings", queryset=Finding.objects.order_by("-score"))
                    ),
                ),
                "product__reference_images",
                "rebuttal__attachments",
                "audit_events",
                "decision__overturned_by",
                Prefetch(
                    "appeals",
                    queryset=Appeal.objects.select_related("appeal_decision")
                    .prefetch_related("attachments")
                    .order_by("filed_at", "pk"),
                ),
                # Only what the merchant may read of a request (portal.presenters.photo_requests).
                Prefetch(
                    "evidence_requests",
                    queryset=EvidenceRequest.objects.only(
                        "public_id",
                        "application_id",
                        "state",
                        "first_evidence_id",
                        "answer_id",
                        "actor_kind",
                        "requested_at",
                        "deadline",
                        "review_time_left",
                        "closed_at",
                    ).order_by("requested_at", "pk"),
                ),
            )
            .get(public_id=public_id)
        )
    except (RefundApplication.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(ErrorCode.NOT_FOUND, object=_("application")) from None


def product_list_for_merchant(*, merchant: Merchant) -> QuerySet[Product]:
    return (
        Product.objects.filter(merchant=merchant)
        .order_by("title", "pk")
        .prefetch_related("reference_images")
        .annotate(application_count=Count("applications"))
    )


def product_get_for_merchant(*, merchant: Merchant, public_id: object) -> Product:
    """Return the shop's product; raise NotFound for anyone else's or a malformed id."""
    try:
        return Product.objects.prefetch_related("reference_images").get(merchant=merchant, public_id=public_id)
    except (Product.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(ErrorCode.NOT_FOUND, object=_("product")) from None


@dataclass
class Dashboard:
    needing_response: list[RefundApplication]
    counts: list[tuple[str, str, int]]  # (state, label, count) in lifecycle order
    at_stake: list[tuple[str, Decimal]]  # (currency, amount) of open claims received this week
    recent: list[RefundApplication] = field(default_factory=list)


def dashboard_for_merchant(*, merchant: Merchant, now: datetime | None = None) -> Dashboard:
    """Return what the shop's dashboard shows: open windows by deadline, counts by state, this
    week's open claims per currency and the latest applications."""
    now = now or timezone.now()
    applications = application_list_for_merchant(merchant=merchant)
    # Served by the (state, merchant_deadline) index; the soonest deadline first.
    needing_response = list(applications.filter(state=ApplicationState.AWAITING_MERCHANT).order_by("merchant_deadline"))
    counted = Counter(dict(applications.order_by().values_list("state").annotate(n=Count("pk"))))
    counts = [(state.value, state.label, counted.get(state.value, 0)) for state in ApplicationState]
    at_stake = [
        (currency, money_total(total))
        for currency, total in applications.filter(state__in=OPEN_STATES, created_at__gte=now - timedelta(days=7))
        .order_by("currency")
        .values_list("currency")
        .annotate(total=Sum("amount"))
    ]
    recent = list(applications.exclude(state=ApplicationState.AWAITING_MERCHANT).order_by("-created_at")[:20])
    return Dashboard(needing_response, counts, at_stake, recent)
