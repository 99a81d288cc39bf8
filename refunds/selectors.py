"""Queries: the API's, each confined to the caller's platform or shop (invariant 6), and the
reviewers' queue and workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from refunds.errors import NotFound
from refunds.models import ClaimGroup, ClaimGroupMember, Evidence, Platform, RefundApplication
from refunds.states import OPEN_STATES, TERMINAL_STATES, ApplicationState, Outcome, RiskLevel
from screening.models import ReuseLink


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


# --- the reviewers' queue and workspace --------------------------------------------------

QUEUE_VIEWS = ("mine", "unclaimed", "others", "review", "open", "closed", "all")
DEFAULT_QUEUE_VIEW = "review"


def _live_claim(now: datetime) -> Q:
    return Q(claimed_by__isnull=False, claim_expires_at__gt=now)


def queue_view_filter(view: str, *, user: AbstractBaseUser, now: datetime) -> Q:
    """Return the condition of one queue view: an unknown view is the default one."""
    in_review = Q(state=ApplicationState.IN_REVIEW)
    live = _live_claim(now)
    return {
        "mine": in_review & live & Q(claimed_by=user),
        "unclaimed": in_review & ~live,
        "others": in_review & live & ~Q(claimed_by=user),
        "open": Q(state__in=OPEN_STATES),
        "closed": Q(state__in=TERMINAL_STATES),
        "all": Q(),
    }.get(view, in_review)


def queue_counts(*, user: AbstractBaseUser, now: datetime) -> dict[str, int]:
    """Return the number of applications in each queue view, in one query."""
    return RefundApplication.objects.aggregate(**{
        view: Count("pk", filter=queue_view_filter(view, user=user, now=now)) for view in QUEUE_VIEWS
    })


def queue_ordering() -> list[object]:
    """Due soonest first (applications not in review have no due date and come last), then
    the riskiest, then the oldest."""
    return [F("review_due_at").asc(nulls_last=True), F("risk_score").desc(nulls_last=True), "created_at"]


def application_for_review(*, pk: int) -> RefundApplication:
    """Return the application with everything its review page shows, in a fixed number of queries."""
    return (
        RefundApplication.objects.select_related("platform__policy", "merchant", "product", "claimed_by",
                                                 "decision__actor", "rebuttal__submitted_by")
        .prefetch_related(
            Prefetch("evidence", queryset=Evidence.objects.select_related(
                "screening__matched_reference").prefetch_related("screening__findings")),
            "product__reference_images",
            "rebuttal__attachments",
        )
        .get(pk=pk)
    )


def buyer_history(application: RefundApplication, *, limit: int = 20) -> tuple[list[RefundApplication], dict[str, object]]:
    """Return the buyer's other applications on the platform (newest first, at most ``limit``)
    and totals over all of them: count, amount refunded, how many were screened forged."""
    others = RefundApplication.objects.filter(platform_id=application.platform_id, buyer_ref=application.buyer_ref).exclude(
        pk=application.pk)
    rows = list(others.select_related("decision", "merchant").order_by("-created_at")[:limit])
    totals = others.aggregate(
        count=Count("pk"),
        refunded=Sum("decision__approved_amount"),
        forged=Count("pk", filter=Q(risk_level=RiskLevel.FORGED)),
        rejected=Count("pk", filter=Q(decision__outcome=Outcome.REJECTED)),
    )
    return rows, totals


@dataclass(frozen=True)
class LinkedClaim:
    application: RefundApplication
    # How it shares images with the application asked about: a ReuseLink kind when one reuses
    # the other's image directly, "through_group" when they are linked through other members.
    relation: str


@dataclass(frozen=True)
class LinkedClaims:
    group: ClaimGroup
    members: list[LinkedClaim]
    # Per currency: amounts claimed and refunded over every member, this application included.
    claimed: dict[str, Decimal]
    refunded: dict[str, Decimal]


THROUGH_GROUP = "through_group"


def linked_claims(application: RefundApplication) -> LinkedClaims | None:
    """Return the application's group of linked claims (the other members, oldest first, each
    with how it is related, and the group's totals), or None when it shares no image."""
    member = ClaimGroupMember.objects.filter(application=application).select_related("group").first()
    if member is None:
        return None
    rows = list(RefundApplication.objects.filter(claim_group_member__group=member.group)
                .select_related("decision", "merchant").order_by("created_at", "pk"))
    direct: dict[int, str] = {}
    for evidence_app, earlier_app, kind in ReuseLink.objects.filter(
            Q(evidence__application=application) | Q(earlier__application=application)).values_list(
            "evidence__application_id", "earlier__application_id", "kind"):
        other = earlier_app if evidence_app == application.pk else evidence_app
        # The strongest relation wins when two images link the same pair.
        if _REUSE_STRENGTH.get(kind, 0) > _REUSE_STRENGTH.get(direct.get(other, ""), 0):
            direct[other] = kind
    claimed: dict[str, Decimal] = {}
    refunded: dict[str, Decimal] = {}
    for row in rows:
        claimed[row.currency] = claimed.get(row.currency, Decimal("0")) + row.amount
        decision = getattr(row, "decision", None)
        if decision is not None:
            refunded[decision.currency] = refunded.get(decision.currency, Decimal("0")) + decision.approved_amount
    members = [LinkedClaim(row, direct.get(row.pk, THROUGH_GROUP)) for row in rows if row.pk != application.pk]
    return LinkedClaims(member.group, members, claimed, refunded)


_REUSE_STRENGTH = {ReuseLink.Kind.RE_ENCODED: 1, ReuseLink.Kind.EDITED: 2, ReuseLink.Kind.SAME_FILE: 3}


def applications_sharing_images(application: RefundApplication) -> list[tuple[RefundApplication, str]]:
    """Return the other applications of the application's linked claims, each with how they
    are related (a ReuseLink kind, or ``through_group``)."""
    group = linked_claims(application)
    return [(member.application, member.relation) for member in group.members] if group is not None else []


def claim_group_get_for_platform(*, platform: Platform, public_id: object) -> tuple[ClaimGroup, list[RefundApplication]]:
    """Return the platform's group of linked claims and its applications, oldest first; raise
    NotFound for anyone else's or a malformed id."""
    try:
        group = ClaimGroup.objects.get(platform=platform, public_id=public_id)
    except (ClaimGroup.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("not_found", _("No such group of linked claims.")) from None
    rows = list(RefundApplication.objects.filter(claim_group_member__group=group).select_related("decision")
                .order_by("created_at", "pk"))
    return group, rows
