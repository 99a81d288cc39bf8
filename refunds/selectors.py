"""Queries: the API's, each confined to the caller's platform or shop (invariant 6), and the
reviewers' queue and workspace."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, F, Model, OuterRef, Prefetch, Q, QuerySet
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _

from refunds.compiled import CompiledQuery, Slot
from refunds.errors import ErrorCode, NotFound
from refunds.models import (
    Appeal,
    AppealDecision,
    ClaimGroup,
    ClaimGroupMember,
    Decision,
    Evidence,
    EvidenceRequest,
    Platform,
    QAReview,
    RefundApplication,
    WebhookEvent,
)
from refunds.roles import CLAIM, is_senior
from refunds.states import (
    OPEN_STATES,
    QA_REVIEWED_STATES,
    TERMINAL_STATES,
    ActorKind,
    AppealState,
    ApplicationState,
    BuyerRiskReason,
    Outcome,
    QAReviewState,
    RiskLevel,
)
from screening.models import Finding, ReuseLink


def application_detail_for_platform(*, platform: Platform, public_id: object) -> RefundApplication:
    """Return the platform's application with the columns its API answer shows and nothing
    more; raise NotFound for anyone else's or a malformed id.

    For the answer alone (``refunds.api.representations``): every other field of these objects
    is deferred and costs a query when read. Django spent most of a detail read compiling the
    SQL of the wide joins of ``application_list_for_platform``, column by column: these
    queries are compiled once (``refunds.compiled``). The related rows are read by plain
    queries and handed to the objects rather than by ``prefetch_related``, whose machinery took
    a sixth of the selector's time (2.9 to 2.4 ms and 3.4 to 2.9 ms in-process on SQLite,
    measured alternately); findings and a replacing decision are asked for only when there is
    a screening or a decision to have them.

    The application comes with its evidence, in one statement (``_ANSWERED_EVIDENCE``, a row per
    image): each statement is a round trip, and round trips were most of a detail read's time
    on PostgreSQL. Every application has evidence; one without, or none at all, is looked up
    on its own."""
    try:
        evidence = _ANSWERED_EVIDENCE.run(platform=platform.pk, public_id=public_id)
        if evidence:
            application = evidence[0].application
            application.has_evidence_requests = evidence[0].has_evidence_requests
        else:
            application = _ANSWERED_APPLICATION.first(platform=platform.pk, public_id=public_id)
    except (ValidationError, ValueError, TypeError):
        application = None
    if application is None:
        raise NotFound(ErrorCode.NOT_FOUND, object=_("application"))
    results = {e.screening.pk: e.screening for e in evidence if getattr(e, "screening", None) is not None}
    findings: dict[int, list[Finding]] = {pk: [] for pk in results}
    if results:
        for finding in Finding.objects.filter(result_id__in=list(results)):
            findings[finding.result_id].append(finding)
    for pk, result in results.items():
        _hand_over(result, "findings", Finding, findings[pk])
    requests = _ANSWERED_REQUESTS.run(application=application.pk) if application.has_evidence_requests else []
    for item in [*evidence, *requests]:
        item.application = application
    _hand_over(application, "evidence", Evidence, evidence)
    _hand_over(application, "evidence_requests", EvidenceRequest, requests)
    decision = getattr(application, "decision", None)
    if decision is not None:
        rulings = list(
            # The appeal's state as well: django-fsm reads it when the appeal is loaded.
            AppealDecision.objects.filter(overturns_id=decision.pk)
            .select_related("appeal")
            .only("overturns", "appeal__public_id", "appeal__state", *_ANSWERED_RULING_FIELDS)
        )
        _hand_over(decision, "overturned_by", AppealDecision, rulings)
    return application


def _hand_over(instance: object, accessor: str, model: type[Model], rows: list[Any]) -> None:
    """Give ``instance`` the related rows its ``accessor`` manager answers with, as
    ``prefetch_related`` would, so that ``.all()`` reads them without a query."""
    queryset = model._default_manager.all()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[accessor] = queryset


# The columns of the API's answer (refunds.api.representations), for application_detail_for_platform.
_ANSWERED_APPLICATION_FIELDS = (
    "public_id",
    "merchant",
    "product",
    "buyer_ref",
    "order_ref",
    "delivered_at",
    "amount",
    "currency",
    "reason_code",
    "description",
    "state",
    "risk_level",
    "risk_score",
    "unscreened",
    "merchant_deadline",
    "created_at",
    "updated_at",
)
_ANSWERED_DECISION_FIELDS = (
    "outcome",
    "approved_amount",
    "currency",
    "actor_kind",
    "reason_codes",
    "note",
    "decided_at",
)
_ANSWERED_RULING_FIELDS = ("outcome", "approved_amount", "currency", "reason_codes", "note", "decided_at")
_ANSWERED_EVIDENCE_FIELDS = ("public_id", "sha256", "content_type", "byte_size", "width", "height")
_ANSWERED_REQUEST_FIELDS = (
    "public_id",
    "state",
    "instructions",
    "language",
    "requested_at",
    "deadline",
    "answer",
    "view_pair",
    "closed_at",
)


# The application's related rows and columns the answer shows.
_ANSWERED_APPLICATION_RELATED = ("merchant", "product", "decision", "claim_group_member__group")
_ANSWERED_APPLICATION_COLUMNS = (
    *_ANSWERED_APPLICATION_FIELDS,
    "merchant__public_id",
    "product__public_id",
    *(f"decision__{name}" for name in _ANSWERED_DECISION_FIELDS),
    "claim_group_member__group__public_id",
)
_ANSWERED_APPLICATION = CompiledQuery(
    lambda: (
        RefundApplication.objects.filter(
            platform_id=Slot("platform", Platform._meta.get_field("id")),
            public_id=Slot("public_id", RefundApplication._meta.get_field("public_id")),
        )
        .select_related(*_ANSWERED_APPLICATION_RELATED)
        .only(*_ANSWERED_APPLICATION_COLUMNS)
        # Most applications never get a request for another photo: asked here, in the same
        # statement, it saves them a round trip to the database.
        .annotate(has_evidence_requests=Exists(EvidenceRequest.objects.filter(application=OuterRef("pk"))))[:1]
    )
)
# The platform's application as _ANSWERED_APPLICATION reads it, on each row of its evidence.
_ANSWERED_EVIDENCE = CompiledQuery(
    lambda: (
        Evidence.objects.filter(
            application__platform_id=Slot("platform", Platform._meta.get_field("id")),
            application__public_id=Slot("public_id", RefundApplication._meta.get_field("public_id")),
        )
        .select_related("screening", *(f"application__{name}" for name in _ANSWERED_APPLICATION_RELATED))
        .only(
            "application",
            *_ANSWERED_EVIDENCE_FIELDS,
            "screening__verdict",
            "screening__risk",
            *(f"application__{name}" for name in _ANSWERED_APPLICATION_COLUMNS),
        )
        .annotate(has_evidence_requests=Exists(EvidenceRequest.objects.filter(application=OuterRef("application"))))
    )
)
_ANSWERED_REQUESTS = CompiledQuery(
    lambda: (
        EvidenceRequest.objects.filter(application_id=Slot("application", RefundApplication._meta.get_field("id")))
        .select_related("first_evidence", "answer")
        .only("application", *_ANSWERED_REQUEST_FIELDS, "first_evidence__public_id", "answer__public_id")
        .order_by("requested_at", "pk")
    )
)


def application_id_for_platform(*, platform: Platform, public_id: object) -> int:
    """Return the primary key of the platform's application, checked with one light query;
    raise NotFound for anyone else's or a malformed id."""
    try:
        return RefundApplication.objects.values_list("pk", flat=True).get(platform=platform, public_id=public_id)
    except (RefundApplication.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(ErrorCode.NOT_FOUND, object=_("application")) from None


def application_list_for_platform(*, platform: Platform) -> QuerySet[RefundApplication]:
    """Return the platform's applications with what their API representation shows."""
    return (
        RefundApplication.objects.filter(platform=platform)
        .select_related("merchant", "product", "decision", "claim_group_member__group")
        .prefetch_related(
            "decision__overturned_by__appeal",
            Prefetch(
                "evidence",
                queryset=Evidence.objects.select_related("screening").prefetch_related("screening__findings"),
            ),
            Prefetch("evidence_requests", queryset=_evidence_requests()),
        )
    )


def _evidence_requests() -> QuerySet[EvidenceRequest]:
    return EvidenceRequest.objects.select_related("application", "first_evidence", "answer").order_by(
        "requested_at", "pk"
    )


def evidence_request_list_for_application(*, application_pk: int) -> QuerySet[EvidenceRequest]:
    """Return the application's requests for another photo, oldest first, with what their representation shows."""
    return _evidence_requests().filter(application_id=application_pk)


def evidence_request_get_for_platform(
    *, platform: Platform, application_id: object, request_id: object
) -> EvidenceRequest:
    """Return a request for another photo of the platform's application; raise NotFound for
    anyone else's, one of another application, or a malformed id."""
    application_pk = application_id_for_platform(platform=platform, public_id=application_id)
    try:
        return evidence_request_list_for_application(application_pk=application_pk).get(public_id=request_id)
    except (EvidenceRequest.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(ErrorCode.NOT_FOUND, object=_("request for another photo")) from None


def appeal_list_for_application(*, application_pk: int) -> QuerySet[Appeal]:
    """Return the application's appeals, oldest first, with what their representation shows."""
    return (
        Appeal.objects.filter(application_id=application_pk)
        .select_related("application", "decision", "appeal_decision")
        .prefetch_related("attachments", "decision__overturned_by__appeal")
        .order_by("filed_at", "pk")
    )


def appeal_get_for_platform(*, platform: Platform, application_id: object, appeal_id: object) -> Appeal:
    """Return an appeal of the platform's application; raise NotFound for anyone else's, one of
    another application, or a malformed id."""
    application_pk = application_id_for_platform(platform=platform, public_id=application_id)
    try:
        return appeal_list_for_application(application_pk=application_pk).get(public_id=appeal_id)
    except (Appeal.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(ErrorCode.NOT_FOUND, object=_("appeal")) from None


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


def blind_application_ids(*, user: AbstractBaseUser) -> QuerySet[QAReview]:
    """Return the ids of the applications whose decision the user must not see now, for use in a
    subquery: those with a blind second review not yet recorded, for a user who may still become
    its second reviewer (one who may claim, is not a senior reviewer, did not make the decision
    and handled no appeal of it). The queue, the application page and the records leave them out, or the second
    reviewer would find the decision there; the decider and senior reviewers (who resolve
    disagreements) keep their view, and so do auditors, who never review."""
    if not user.has_perm(CLAIM) or is_senior(user):
        return QAReview.objects.none().values_list("application_id", flat=True)
    return (
        QAReview.objects.exclude(state__in=QA_REVIEWED_STATES)
        .exclude(decision__actor_id=user.pk)
        # Who handled an appeal of the decision has seen it and may no longer review it blind.
        .exclude(decision__appeals__claimed_by=user)
        .exclude(decision__appeals__appeal_decision__reviewer=user)
        .values_list("application_id", flat=True)
    )


def decision_hidden_from(*, application_pk: int, user: AbstractBaseUser) -> bool:
    """Return whether the application's decision is hidden from the user now (blind_application_ids)."""
    return blind_application_ids(user=user).filter(application_id=application_pk).exists()


def queue_counts(*, user: AbstractBaseUser, now: datetime) -> dict[str, int]:
    """Return the number of applications in each queue view, in one query."""
    return RefundApplication.objects.exclude(pk__in=blind_application_ids(user=user)).aggregate(
        **{view: Count("pk", filter=queue_view_filter(view, user=user, now=now)) for view in QUEUE_VIEWS}
    )


def queue_ordering() -> list[object]:
    """Due soonest first (applications not in review have no due date and come last), then
    the riskiest, then the oldest."""
    return [F("review_due_at").asc(nulls_last=True), F("risk_score").desc(nulls_last=True), "created_at"]


def application_for_review(*, pk: int) -> RefundApplication:
    """Return the application with everything its review page shows, in a fixed number of queries."""
    return (
        RefundApplication.objects.select_related(
            "platform__policy", "merchant", "product", "claimed_by", "decision__actor", "rebuttal__submitted_by"
        )
        .prefetch_related(
            Prefetch(
                "evidence",
                queryset=Evidence.objects.select_related("screening__matched_reference").prefetch_related(
                    "screening__findings"
                ),
            ),
            "product__reference_images",
            "rebuttal__attachments",
            Prefetch("evidence_requests", queryset=_evidence_requests().select_related("requested_by")),
        )
        .get(pk=pk)
    )


def buyer_history(application: RefundApplication, *, limit: int = 20) -> list[RefundApplication]:
    """Return the buyer's other applications on the platform, newest first, at most ``limit``
    (their totals are ``buyer_risk``'s)."""
    others = RefundApplication.objects.filter(
        platform_id=application.platform_id, buyer_ref=application.buyer_ref
    ).exclude(pk=application.pk)
    return list(others.select_related("decision", "merchant").order_by("-created_at")[:limit])


@dataclass(frozen=True)
class LinkedClaim:
    application: RefundApplication
    # How it shares images with the application asked about: a ReuseLink kind when one reuses
    # the other's image directly, "through_group" when they are linked through other members.
    relation: str

    @property
    def relation_label(self) -> str:
        if self.relation == THROUGH_GROUP:
            return str(_("through another linked claim"))
        return str(ReuseLink.Kind(self.relation).label)


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
    rows = list(
        RefundApplication.objects.filter(claim_group_member__group=member.group)
        .select_related("decision", "merchant")
        .order_by("created_at", "pk")
    )
    direct: dict[int, str] = {}
    for evidence_app, earlier_app, kind in ReuseLink.objects.filter(
        Q(evidence__application=application) | Q(earlier__application=application)
    ).values_list("evidence__application_id", "earlier__application_id", "kind"):
        other = earlier_app if evidence_app == application.pk else evidence_app
        # The strongest relation wins when two images link the same pair.
        if _REUSE_STRENGTH.get(kind, 0) > _REUSE_STRENGTH.get(direct.get(other, ""), 0):
            direct[other] = kind
    claimed, refunded = _group_totals(rows)
    members = [LinkedClaim(row, direct.get(row.pk, THROUGH_GROUP)) for row in rows if row.pk != application.pk]
    return LinkedClaims(member.group, members, claimed, refunded)


_REUSE_STRENGTH = {ReuseLink.Kind.RE_ENCODED: 1, ReuseLink.Kind.EDITED: 2, ReuseLink.Kind.SAME_FILE: 3}


@dataclass(frozen=True)
class ClaimGroupView:
    group: ClaimGroup
    applications: list[RefundApplication]
    claimed: dict[str, Decimal]
    refunded: dict[str, Decimal]
    # Each stored reuse link between two members: who reused whose image, and how.
    links: list[dict[str, object]]


# The nouns a refusal of a missing group or buyer names (ErrorCode.NOT_FOUND).
GROUP = _("group of linked claims")
BUYER = _("buyer")


def claim_group_get_for_platform(*, platform: Platform, public_id: object) -> ClaimGroupView:
    """Return the platform's group of linked claims with its applications (oldest first), totals
    and links; raise NotFound for anyone else's or a malformed id."""
    try:
        group = ClaimGroup.objects.get(platform=platform, public_id=public_id)
    except (ClaimGroup.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(ErrorCode.NOT_FOUND, object=GROUP) from None
    rows = list(
        RefundApplication.objects.filter(claim_group_member__group=group)
        .select_related("decision")
        .order_by("created_at", "pk")
    )
    links = [
        {"application": a, "earlier_application": b, "kind": kind, "distance": distance, "points": points}
        for a, b, kind, distance, points in ReuseLink.objects.filter(
            evidence__application__claim_group_member__group=group,
            earlier__application__claim_group_member__group=group,
        )
        .order_by("created_at", "pk")
        .values_list(
            "evidence__application__public_id", "earlier__application__public_id", "kind", "distance", "points"
        )
    ]
    claimed, refunded = _group_totals(rows)
    return ClaimGroupView(group, rows, claimed, refunded, links)


def _group_totals(rows: list[RefundApplication]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    claimed = _per_currency([(row.currency, row.amount) for row in rows])
    refunded = _per_currency(
        [
            (row.decision.currency, row.decision.approved_amount)
            for row in rows
            if getattr(row, "decision", None) is not None
        ]
    )
    return claimed, refunded


# --- a buyer's risk, for the policy, the API and reviewers -------------------------------


@dataclass(frozen=True)
class BuyerRiskItem:
    code: str
    message: str


@dataclass(frozen=True)
class BuyerRisk:
    """A buyer's record on one platform, with the reasons it asks for a person; never a bare score."""

    buyer_ref: str
    applications: int
    open: int
    outcomes: dict[str, int]
    claimed: dict[str, Decimal]
    refunded: dict[str, Decimal]
    forged: int
    refunded_on_forged: dict[str, Decimal]
    linked: int
    alert_amount: Decimal
    alert_currency: str
    reasons: list[BuyerRiskItem]

    @property
    def at_alert_amount(self) -> bool:
        return self.refunded_on_forged.get(self.alert_currency, Decimal("0")) >= self.alert_amount > 0

    @property
    def holds_automatic_approval(self) -> bool:
        """Whether the buyer's record alone keeps an application from automatic approval."""
        return self.forged > 0 or self.at_alert_amount


CENT = Decimal("0.01")


def money_total(value: object) -> Decimal:
    """Return a database SUM of amounts as cents: SQLite sums decimals as floats
    (754.600000000000), PostgreSQL returns NUMERIC; both read the same after this."""
    return Decimal(str(value or 0)).quantize(CENT)


def _per_currency(rows: Iterable[tuple[str, Decimal | None]]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for currency, amount in rows:
        if amount is not None:
            totals[currency] = totals.get(currency, Decimal("0")) + Decimal(amount)
    # Summed in Python, per currency: money of two currencies never adds up, and SQLite's
    # SUM over decimals would come back as a float.
    return {currency: total.quantize(CENT) for currency, total in sorted(totals.items())}


def money_text(totals: dict[str, Decimal], *, currency: str = "") -> str:
    """Amounts per currency as one line, e.g. "39.90 CNY, 5.00 USD"; nothing at all as "0.00 <currency>"."""
    text = ", ".join(f"{amount.quantize(CENT)} {code}" for code, amount in totals.items())
    return text or f"{Decimal(0).quantize(CENT)} {currency}".strip()


def buyer_risk(*, platform: Platform, buyer_ref: str, excluding: RefundApplication | None = None) -> BuyerRisk:
    """Return the buyer's record on the platform over every application (but ``excluding``):
    outcomes, amounts claimed and refunded per currency, forged findings, refunds on
    applications judged forged against the policy's alert amount, and the reasons to look."""
    policy = platform.policy
    rows = RefundApplication.objects.filter(platform=platform, buyer_ref=buyer_ref)
    if excluding is not None:
        rows = rows.exclude(pk=excluding.pk)
    # One query, totalled here: a buyer has tens of applications, not millions, and the
    # reviewer's page asks for this on every view.
    records = list(
        rows.values_list(
            "state",
            "currency",
            "amount",
            "risk_level",
            "decision__outcome",
            "decision__currency",
            "decision__approved_amount",
            "claim_group_member__id",
        )
    )
    forged = [r for r in records if r[3] == RiskLevel.FORGED]
    forged_refunds = _per_currency((r[5], r[6]) for r in forged if r[4] is not None)
    risk = BuyerRisk(
        buyer_ref=buyer_ref,
        applications=len(records),
        open=sum(1 for r in records if r[0] in OPEN_STATES),
        outcomes={outcome: sum(1 for r in records if r[4] == outcome) for outcome in Outcome.values},
        claimed=_per_currency((r[1], r[2]) for r in records),
        refunded=_per_currency((r[5], r[6]) for r in records if r[4] is not None),
        forged=len(forged),
        refunded_on_forged=forged_refunds,
        linked=sum(1 for r in records if r[7] is not None),
        alert_amount=policy.buyer_alert_amount,
        alert_currency=policy.buyer_alert_currency,
        reasons=[],
    )
    reasons = risk.reasons
    if risk.forged:
        reasons.append(
            BuyerRiskItem(
                BuyerRiskReason.FORGED_BEFORE,
                _("%(count)s application(s) of this buyer were screened as forged.") % {"count": risk.forged},
            )
        )
    if risk.at_alert_amount:
        reasons.append(
            BuyerRiskItem(
                BuyerRiskReason.REFUNDED_ON_FORGED_OVER_ALERT,
                _(
                    "%(refunded)s was refunded on this buyer's applications judged forged, at or above the alert amount of "
                    "%(alert)s %(currency)s."
                )
                % {
                    "refunded": money_text(forged_refunds, currency=risk.alert_currency),
                    "alert": risk.alert_amount,
                    "currency": risk.alert_currency,
                },
            )
        )
    if risk.outcomes.get(Outcome.REJECTED):
        reasons.append(
            BuyerRiskItem(
                BuyerRiskReason.REJECTED_BEFORE,
                _("%(count)s application(s) of this buyer were rejected.") % {"count": risk.outcomes[Outcome.REJECTED]},
            )
        )
    if risk.linked:
        reasons.append(
            BuyerRiskItem(
                BuyerRiskReason.LINKED_CLAIMS,
                _("%(count)s application(s) of this buyer share images with other claims.") % {"count": risk.linked},
            )
        )
    return risk


def buyer_risk_hold(application: RefundApplication) -> BuyerRisk | None:
    """Return the buyer's risk when the policy holds this application from automatic approval
    because of the buyer's other applications, else None."""
    if not application.platform.policy.buyer_risk_holds_for_review:
        return None
    risk = buyer_risk(platform=application.platform, buyer_ref=application.buyer_ref, excluding=application)
    return risk if risk.holds_automatic_approval else None


def buyer_risk_reasons_text(risk: BuyerRisk) -> str:
    """The reasons as the audit record keeps them: one line each, code first."""
    return "\n".join(f"[{reason.code}] {reason.message}" for reason in risk.reasons)


def event_list_for_platform(*, platform: Platform, after: object = None, now: datetime) -> QuerySet[WebhookEvent]:
    """Return the platform's webhook events old enough to be settled, after the event ``after``
    if given (oldest first); raise NotFound for an ``after`` that is not one of its events.

    An event's time is taken inside the transaction of its transition, which commits a moment
    later: a reader could see a newer event and resume past an older one that was still
    committing. Events younger than EVENTS_FEED_DELAY are left for the next read, which
    closes that gap for any transaction shorter than the delay."""
    events = WebhookEvent.objects.filter(platform=platform, created_at__lte=now - settings.EVENTS_FEED_DELAY)
    if after is None:
        return events
    try:
        start = WebhookEvent.objects.values("created_at", "public_id").get(platform=platform, public_id=after)
    except (WebhookEvent.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(ErrorCode.EVENT_NOT_FOUND, details={"param": "after"}) from None
    return events.filter(
        Q(created_at__gt=start["created_at"]) | Q(created_at=start["created_at"], public_id__gt=start["public_id"])
    )


# --- reviewers' quality: second reviews, appeals, time to decide ------------------------------

# Times to decide are read row by row; the newest this many decisions of a reviewer make the median.
TIME_TO_DECIDE_SAMPLE = 5000
_PSEUDONYM_SALT = "reviewhub.statistics.reviewer"


@dataclass(frozen=True)
class ReviewerFigures:
    """One reviewer's decisions in a period and what became of them."""

    user_id: int
    username: str
    decisions: int
    # Decisions a second reviewer has recorded an outcome on, and those where it agreed.
    qa_reviewed: int
    qa_agreed: int
    # Decisions with an appeal decided (upheld or overturned), and those overturned.
    appealed: int
    overturned: int
    median_seconds_to_decide: float | None

    @property
    def qa_agreement_rate(self) -> float | None:
        return self.qa_agreed / self.qa_reviewed if self.qa_reviewed else None

    @property
    def overturn_rate(self) -> float | None:
        return self.overturned / self.appealed if self.appealed else None


@dataclass(frozen=True)
class RiskFigures:
    """The decisions on applications of one risk level, by anyone, and their appeals."""

    risk_level: str
    decisions: int
    appealed: int
    overturned: int

    @property
    def overturn_rate(self) -> float | None:
        return self.overturned / self.appealed if self.appealed else None


@dataclass(frozen=True)
class ReviewQuality:
    since: datetime
    until: datetime
    reviewers: list[ReviewerFigures]
    risk_levels: list[RiskFigures]


def review_quality(*, since: datetime, until: datetime, platform: Platform | None = None) -> ReviewQuality:
    """Return the figures of the decisions made from ``since`` to ``until`` (of one platform's
    applications, when given): per reviewer, and per risk level. An appeal still open or
    withdrawn has no verdict yet, so it counts in neither the appealed nor the overturned."""
    decisions = Decision.objects.filter(decided_at__gte=since, decided_at__lt=until)
    if platform is not None:
        decisions = decisions.filter(application__platform=platform)
    appealed = Exists(
        Appeal.objects.filter(decision=OuterRef("pk"), state__in=[AppealState.UPHELD, AppealState.OVERTURNED])
    )
    overturned = Exists(AppealDecision.objects.filter(overturns=OuterRef("pk")))
    counts = {
        "n_decisions": Count("pk"),
        "n_appealed": Count("pk", filter=Q(appealed)),
        "n_overturned": Count("pk", filter=Q(overturned)),
    }
    by_reviewer = decisions.filter(actor_kind=ActorKind.REVIEWER, actor__isnull=False)
    rows = (
        by_reviewer.values("actor_id", "actor__username")
        .annotate(
            **counts,
            # One second review per decision (a one-to-one), so the join adds no rows.
            n_qa_reviewed=Count("pk", filter=Q(qa_review__state__in=QA_REVIEWED_STATES)),
            n_qa_agreed=Count("pk", filter=Q(qa_review__state=QAReviewState.AGREED)),
        )
        .order_by("actor__username")
    )
    seconds: dict[int, list[float]] = {}
    timed = (
        by_reviewer.filter(application__review_started_at__isnull=False)
        .order_by("-decided_at")
        .values_list("actor_id", "decided_at", "application__review_started_at")[:TIME_TO_DECIDE_SAMPLE]
    )
    for user_id, decided_at, started in timed:
        seconds.setdefault(user_id, []).append(max(0.0, (decided_at - started).total_seconds()))
    reviewers = [
        ReviewerFigures(
            user_id=row["actor_id"],
            username=row["actor__username"],
            decisions=row["n_decisions"],
            qa_reviewed=row["n_qa_reviewed"],
            qa_agreed=row["n_qa_agreed"],
            appealed=row["n_appealed"],
            overturned=row["n_overturned"],
            median_seconds_to_decide=(
                statistics.median(seconds[row["actor_id"]]) if seconds.get(row["actor_id"]) else None
            ),
        )
        for row in rows
    ]
    by_risk = {
        row["application__risk_level"]: row for row in decisions.values("application__risk_level").annotate(**counts)
    }
    risk_levels = [
        RiskFigures(
            risk_level=level,
            decisions=by_risk.get(level, {}).get("n_decisions", 0),
            appealed=by_risk.get(level, {}).get("n_appealed", 0),
            overturned=by_risk.get(level, {}).get("n_overturned", 0),
        )
        for level in RiskLevel.values
    ]
    return ReviewQuality(since=since, until=until, reviewers=reviewers, risk_levels=risk_levels)


def reviewer_pseudonym(*, platform: Platform, user_id: int) -> str:
    """Return the name a platform knows a reviewer by: stable, and different on every platform,
    so that a platform's figures neither name the reviewing service's staff nor let two platforms
    put theirs together."""
    return "rv_" + salted_hmac(_PSEUDONYM_SALT, f"{platform.public_id}:{user_id}", algorithm="sha256").hexdigest()[:16]
