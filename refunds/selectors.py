"""Queries: the API's, each confined to the caller's platform or shop (invariant 6), and the
reviewers' queue and workspace."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from refunds.errors import NotFound
from refunds.models import Evidence, Platform, RefundApplication
from refunds.states import OPEN_STATES, TERMINAL_STATES, ApplicationState, Outcome, RiskLevel
from screening.models import Finding


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


def applications_sharing_images(application: RefundApplication) -> list[tuple[RefundApplication, str]]:
    """Return other applications whose evidence is the same file as, or a near duplicate of,
    one of this application's images (both directions), each with how they are related."""
    evidence = list(application.evidence.all())
    hashes = [item.sha256 for item in evidence]
    related: dict[int, str] = {}
    same = (Evidence.objects.filter(sha256__in=hashes, application__platform_id=application.platform_id)
            .exclude(application_id=application.pk).values_list("application_id", flat=True))
    for pk in same:
        related[pk] = "same_file"
    earlier_ids = {
        finding.params.get("application")
        for item in evidence if getattr(item, "screening", None) is not None
        for finding in item.screening.findings.all() if finding.code == "near_duplicate"
    }
    earlier_ids.discard(None)
    later = Finding.objects.filter(code="near_duplicate", params__application=str(application.public_id)).values_list(
        "result__evidence__application_id", flat=True)
    candidates = Q(pk__in=list(later)) | Q(public_id__in=[i for i in earlier_ids if _is_uuid(i)])
    for pk in RefundApplication.objects.filter(candidates, platform_id=application.platform_id).exclude(
            pk=application.pk).values_list("pk", flat=True):
        related.setdefault(pk, "near_duplicate")
    rows = RefundApplication.objects.filter(pk__in=list(related)).select_related("decision").order_by("created_at")
    return [(row, related[row.pk]) for row in rows]


def _is_uuid(value: object) -> bool:
    try:
        UUID(str(value))
    except ValueError:
        return False
    return True
