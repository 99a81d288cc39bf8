"""The refund domain: platforms, merchants, products, applications and their record."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from refunds.errors import ErrorCode
from refunds.policy_bounds import currency_validator, policy_validate
from refunds.states import (
    OPEN_APPEAL_STATES,
    OPEN_STATES,
    QA_REVIEWED_STATES,
    ActorKind,
    AppealSide,
    AppealState,
    AppealVerdict,
    ApplicationState,
    DecisionReason,
    EvidenceRequestState,
    Outcome,
    QAResolution,
    QAReviewState,
    RebuttalReason,
    RefundReason,
    RiskLevel,
    VideoState,
)
from refunds.vocab import AuditAction, SettingsAction, WebhookEventType


class Platform(models.Model):
    """An e-commerce platform whose services submit applications through the API."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)
    shares_reuse_hashes = models.BooleanField(
        _("shares reuse hashes"),
        default=False,
        help_text=_(
            "Share the perceptual hashes of evidence images (never images or buyer data) with the other "
            "platforms that share theirs, and learn when a photo was used on one of them before."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("platform")
        verbose_name_plural = _("platforms")

    def __str__(self) -> str:
        return self.name


class Policy(models.Model):
    """How a platform routes its applications (docs/design.md §5). The defaults are conservative."""

    platform = models.OneToOneField(
        Platform,
        on_delete=models.CASCADE,
        related_name="policy",
        verbose_name=_("platform"),
    )
    merchant_window = models.DurationField(_("merchant response window"), default=timedelta(hours=48))
    fast_track_enabled = models.BooleanField(_("fast-track enabled"), default=False)
    fast_track_ceiling = models.DecimalField(
        _("fast-track ceiling"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Clean applications up to this amount are approved without waiting for the merchant."),
    )
    expiry_auto_approves = models.BooleanField(
        _("window expiry auto-approves clean applications"),
        default=True,
        help_text=_("Only applications whose screening is clean are ever approved automatically."),
    )
    claim_timeout = models.DurationField(_("reviewer claim timeout"), default=timedelta(minutes=30))
    review_time_limit = models.DurationField(
        _("review time limit"),
        default=timedelta(hours=24),
        help_text=_(
            "Reviewers should decide within this time after an application enters review; it sets the review due date."
        ),
    )
    senior_amount_ceiling = models.DecimalField(
        _("senior review ceiling"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("500.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Approving more than this amount needs a senior reviewer."),
    )
    finding_thresholds = models.JSONField(
        _("finding thresholds"),
        default=dict,
        blank=True,
        help_text=_("Score from which a finding counts, per finding code; codes not listed use the default threshold."),
    )
    default_threshold = models.FloatField(_("default finding threshold"), default=0.5)
    # 3,000 CNY is the amount from which refund fraud counts as "a relatively large amount"
    # in the legal commentary on refund-only fraud; a platform may set its own.
    buyer_alert_amount = models.DecimalField(
        _("buyer alert amount"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("3000.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("A buyer whose refunds on applications judged forged reach this amount is flagged to reviewers."),
    )
    buyer_alert_currency = models.CharField(
        _("buyer alert currency"), max_length=3, default="CNY", validators=[currency_validator]
    )
    buyer_risk_holds_for_review = models.BooleanField(
        _("buyer risk holds applications for review"),
        default=True,
        help_text=_(
            "An application from a buyer with a forged finding, or at the alert amount, is never approved "
            "automatically (no fast-track, no approval when the window closes)."
        ),
    )
    # Amazon's A-to-z and eBay's Money Back Guarantee give the losing side 30 days.
    appeal_window_days = models.PositiveSmallIntegerField(
        _("appeal window (days)"),
        default=30,
        help_text=_("How many days after a decision the merchant or the buyer may appeal it."),
    )
    # One in twenty: enough second reviews to tell a reviewer's agreement within weeks at a
    # few hundred decisions each, few enough not to double the reviewers' work.
    qa_sample_rate = models.DecimalField(
        _("share of decisions reviewed again"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.05"),
        help_text=_(
            "From 0 to 1: the share of reviewers' decisions that another reviewer reviews again, blind "
            "(0.05 is one in twenty)."
        ),
    )
    second_photo_window = models.DurationField(
        _("time to send a second photo"),
        default=timedelta(hours=72),
        help_text=_(
            "How long the buyer has to send another photo of the damage when asked; the review clock pauses meanwhile."
        ),
    )
    second_photo_for_uncertain = models.BooleanField(
        _("ask for a second photo of uncertain screenings"),
        default=False,
        help_text=_(
            "When an application screened suspicious (a photo that resembles the catalogue photo, say) "
            "enters review, ask the buyer at once for another photo of the damage from another angle."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")

    def __str__(self) -> str:
        return str(_("Policy of %(platform)s") % {"platform": self.platform})

    # The fields a platform sets; ``refunds.policy_bounds.policy_validate`` is their one validator.
    SETTINGS = (
        "merchant_window",
        "fast_track_enabled",
        "fast_track_ceiling",
        "expiry_auto_approves",
        "claim_timeout",
        "review_time_limit",
        "senior_amount_ceiling",
        "finding_thresholds",
        "default_threshold",
        "buyer_alert_amount",
        "buyer_alert_currency",
        "buyer_risk_holds_for_review",
        "appeal_window_days",
        "second_photo_window",
        "second_photo_for_uncertain",
        "qa_sample_rate",
    )

    def clean(self) -> None:
        policy_validate({name: getattr(self, name) for name in self.SETTINGS})

    def settings_values(self) -> dict[str, object]:
        """The settings as JSON-friendly values, for the settings audit record."""
        values: dict[str, object] = {}
        for name in self.SETTINGS:
            value = getattr(self, name)
            if isinstance(value, Decimal) and value.is_finite():
                # As stored: "0.1" from a form and "0.1000" from the API are one value, not a change.
                places = self._meta.get_field(name).decimal_places  # type: ignore[union-attr]
                value = value.quantize(Decimal(1).scaleb(-places))
            values[name] = (
                value.total_seconds()
                if isinstance(value, timedelta)
                else (str(value) if isinstance(value, Decimal) else value)
            )
        return values

    def threshold_for(self, code: str) -> float:
        return float(self.finding_thresholds.get(code, self.default_threshold))


class Merchant(models.Model):
    """A shop on a platform."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    platform = models.ForeignKey(
        Platform,
        on_delete=models.PROTECT,
        related_name="merchants",
        verbose_name=_("platform"),
    )
    external_ref = models.CharField(_("platform's shop id"), max_length=100)
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        constraints = [
            models.UniqueConstraint(fields=["platform", "external_ref"], name="merchant_ref_unique_per_platform")
        ]

    def __str__(self) -> str:
        return self.name


class MerchantMember(models.Model):
    """A portal user who acts for a merchant; one user may act for several shops."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        STAFF = "staff", _("Staff")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="merchant_memberships",
        verbose_name=_("user"),
    )
    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="members", verbose_name=_("merchant"))
    role = models.CharField(
        _("role"),
        max_length=10,
        choices=Role.choices,
        default=Role.STAFF,
        help_text=_("Owners also remove reference photos; staff answer claims and add photos."),
    )

    class Meta:
        verbose_name = _("merchant member")
        verbose_name_plural = _("merchant members")
        constraints = [models.UniqueConstraint(fields=["user", "merchant"], name="one_membership_per_shop")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.get_role_display()})"


class Product(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="products",
        verbose_name=_("merchant"),
    )
    external_ref = models.CharField(_("platform's product id"), max_length=100)
    title = models.CharField(_("title"), max_length=300)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        constraints = [
            models.UniqueConstraint(fields=["merchant", "external_ref"], name="product_ref_unique_per_merchant")
        ]

    def __str__(self) -> str:
        return self.title


class StoredImage(models.Model):
    """Fields shared by every stored upload: files live under their content hash."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    file = models.FileField(_("file"), max_length=300)
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    content_type = models.CharField(_("content type"), max_length=50)
    byte_size = models.PositiveBigIntegerField(_("size in bytes"))
    width = models.PositiveIntegerField(_("width"), null=True, blank=True)
    height = models.PositiveIntegerField(_("height"), null=True, blank=True)
    original_name = models.CharField(_("original file name"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.original_name or self.sha256[:12]

    def image_fields(self) -> dict[str, object]:
        """Return the fields another stored-image row needs to point at the same file."""
        return {
            "file": self.file.name,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "byte_size": self.byte_size,
            "width": self.width,
            "height": self.height,
            "original_name": self.original_name,
        }


class ReferenceImage(StoredImage):
    """A picture of the product the merchant vouches for: catalogue photo or shipped-item photo."""

    class Kind(models.TextChoices):
        CATALOGUE = "catalogue", _("Catalogue photo")
        SHIPPED_ITEM = "shipped_item", _("Photo of the shipped item")

    product = models.ForeignKey(
        Product,
        on_delete=models.CASCADE,
        related_name="reference_images",
        verbose_name=_("product"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.CATALOGUE)

    class Meta:
        verbose_name = _("reference image")
        verbose_name_plural = _("reference images")


class Claimable:
    """What a reviewer claims for a while before deciding it (an application, an appeal, a second
    review): its claim is live until ``claim_expires_at``, and an expired claim is anyone's to take."""

    claimed_by_id: int | None
    claim_expires_at: datetime | None

    def has_no_live_claim(self) -> bool:
        return self.claimed_by_id is None or (
            self.claim_expires_at is not None and self.claim_expires_at <= timezone.now()
        )


class RefundApplication(Claimable, ConcurrentTransitionMixin, models.Model):
    """A buyer's refund-only application. Its state changes only through the transitions below,
    and those are called only by ``refunds.services``."""

    # The states by name, for templates: ``application.state == application.State.IN_REVIEW``.
    State = ApplicationState

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    platform = models.ForeignKey(
        Platform,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("platform"),
    )
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("merchant"),
    )
    product = models.ForeignKey(
        Product,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("product"),
    )
    buyer_ref = models.CharField(_("buyer reference"), max_length=100, db_index=True)
    order_ref = models.CharField(_("order reference"), max_length=100)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(_("currency"), max_length=3, validators=[currency_validator])
    reason_code = models.CharField(_("reason"), max_length=30, choices=RefundReason.choices)
    description = models.TextField(_("buyer's description"), blank=True)

    state = FSMField(_("state"), default=ApplicationState.SUBMITTED, choices=ApplicationState.choices, protected=True)

    risk_level = models.CharField(_("risk"), max_length=20, choices=RiskLevel.choices, blank=True)
    risk_score = models.FloatField(_("risk score"), null=True, blank=True)
    risk_explanation = models.TextField(_("risk explanation"), blank=True)
    unscreened = models.BooleanField(_("unscreened"), default=False, help_text=_("Screening failed; people must look."))
    screening_deliveries = models.PositiveIntegerField(_("screening deliveries"), default=0)
    screening_enqueued_at = models.DateTimeField(_("screening enqueued at"), null=True, blank=True)
    # The Idempotency-Key of the API request that created the application: unique per platform,
    # so that no retry, however the first attempt ended, can create a second application.
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, blank=True, editable=False)

    merchant_deadline = models.DateTimeField(_("merchant deadline"), null=True, blank=True)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="claimed_applications",
        verbose_name=_("claimed by"),
    )
    claim_expires_at = models.DateTimeField(_("claim expires at"), null=True, blank=True)
    review_started_at = models.DateTimeField(_("in review since"), null=True, blank=True)
    review_due_at = models.DateTimeField(_("review due"), null=True, blank=True)

    audit_seq = models.PositiveIntegerField(_("audit events"), default=0)
    # The newest audit event's hash and the webhook sequence, kept on the (locked) row so a
    # transition appends to both without reading the tables first.
    audit_head = models.CharField(_("latest audit hash"), max_length=64, blank=True)
    webhook_seq = models.PositiveIntegerField(_("webhook events"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("refund application")
        verbose_name_plural = _("refund applications")
        permissions = [
            ("claim_refundapplication", _("Can claim applications for review")),
            ("decide_refundapplication", _("Can decide applications")),
            (
                "decide_as_senior",
                _("Can decide as a senior reviewer (override claims, approve forged or large claims)"),
            ),
            ("download_dossier", _("Can download the evidence dossier of decided applications")),
        ]
        indexes = [
            # Beat's window closer: awaiting_merchant rows whose deadline has passed.
            models.Index(fields=["state", "merchant_deadline"], name="app_state_deadline"),
            # Reviewer queue and the stale-submission sweeper: by state, oldest first.
            models.Index(fields=["state", "created_at"], name="app_state_created"),
            # Reviewer queue: applications in review by due date.
            models.Index(fields=["state", "review_due_at"], name="app_state_review_due"),
            # Reviewer queue: search by the platform's order reference.
            models.Index(fields=["order_ref"], name="app_order_ref"),
            # Claim expiry job.
            models.Index(
                fields=["claim_expires_at"], name="app_claim_expiry", condition=Q(claim_expires_at__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="application_amount_positive"),
            models.UniqueConstraint(
                fields=["platform", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="application_idempotency_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return str(self.public_id)

    # --- guards: read-only questions, no side effects ---------------------------------

    def screening_is_clean(self) -> bool:
        """Invariant 1: every evidence image has a completed screening with no finding at or
        above the policy's threshold, and the application was not marked unscreened."""
        if self.unscreened or self.risk_level != RiskLevel.CLEAN:
            return False
        policy = self.platform.policy
        evidence = list(self.evidence.select_related("screening"))
        if not evidence:
            return False
        for item in evidence:
            result = getattr(item, "screening", None)
            if result is None or not result.completed:
                return False
            for finding in result.findings.all():
                if finding.score >= policy.threshold_for(finding.code):
                    return False
        return True

    def every_evidence_screened(self) -> bool:
        # One query, not two: it is asked twice per screening (the service, then the transition's guard).
        counts = self.evidence.aggregate(
            images=models.Count("pk"), completed=models.Count("pk", filter=models.Q(screening__completed=True))
        )
        return 0 < counts["images"] == counts["completed"]

    def window_is_open(self) -> bool:
        return self.merchant_deadline is not None and timezone.now() < self.merchant_deadline

    def window_has_closed(self) -> bool:
        return self.merchant_deadline is not None and timezone.now() >= self.merchant_deadline

    def fast_track_allowed(self) -> bool:
        policy = self.platform.policy
        return policy.fast_track_enabled and self.amount <= policy.fast_track_ceiling

    def expiry_may_approve(self) -> bool:
        return self.platform.policy.expiry_auto_approves

    def has_no_open_evidence_request(self) -> bool:
        """Whether nothing is asked of the buyer now: while a second photo is awaited, nobody
        claims or decides the application (its review clock is paused)."""
        # A page that prefetched the requests (the review page) asks without another query;
        # the services read the locked row fresh, without a prefetch, so they always ask the database.
        prefetched = getattr(self, "_prefetched_objects_cache", {}).get("evidence_requests")
        if prefetched is not None:
            return not any(request.state == EvidenceRequestState.OPEN for request in prefetched)
        return not self.evidence_requests.filter(state=EvidenceRequestState.OPEN).exists()

    def _enter_review(self) -> None:
        # The review due date runs from entering review, whichever way the application got here.
        self.review_started_at = timezone.now()
        self.review_due_at = self.review_started_at + self.platform.policy.review_time_limit

    # --- transitions: change fields only; the services lock, save and audit ------------

    @transition(
        field=state,
        source=ApplicationState.SUBMITTED,
        target=ApplicationState.AUTO_SCREENED,
        conditions=[every_evidence_screened],
    )
    def record_screening(self, *, risk_level: str, risk_score: float, explanation: str) -> None:
        self.risk_level = risk_level
        self.risk_score = risk_score
        self.risk_explanation = explanation

    @transition(field=state, source=ApplicationState.SUBMITTED, target=ApplicationState.IN_REVIEW)
    def give_up_screening(self, *, explanation: str) -> None:
        self._enter_review()
        self.unscreened = True
        self.risk_level = RiskLevel.SUSPICIOUS
        self.risk_explanation = explanation

    @transition(field=state, source=[ApplicationState.SUBMITTED, ApplicationState.AWAITING_MERCHANT], target=None)
    def add_evidence(self) -> None:
        # New images restart the count of screening attempts; until they are screened, the
        # approval guards (screening_is_clean) see an incomplete screening and refuse.
        self.screening_deliveries = 0

    # Evidence added in the merchant window may still be screening when the application moves
    # on to review; its result then updates the risk reviewers see.
    @transition(
        field=state,
        source=[ApplicationState.AWAITING_MERCHANT, ApplicationState.IN_REVIEW],
        target=None,
        conditions=[every_evidence_screened],
    )
    def update_screening(self, *, risk_level: str, risk_score: float, explanation: str) -> None:
        self.risk_level = risk_level
        self.risk_score = risk_score
        self.risk_explanation = explanation

    @transition(field=state, source=[ApplicationState.AWAITING_MERCHANT, ApplicationState.IN_REVIEW], target=None)
    def flag_unscreened(self, *, explanation: str) -> None:
        self.unscreened = True
        self.risk_level = RiskLevel.SUSPICIOUS
        self.risk_explanation = explanation

    @transition(field=state, source=ApplicationState.AUTO_SCREENED, target=ApplicationState.AWAITING_MERCHANT)
    def open_merchant_window(self) -> None:
        self.merchant_deadline = timezone.now() + self.platform.policy.merchant_window

    @transition(
        field=state,
        source=ApplicationState.AUTO_SCREENED,
        target=ApplicationState.DECIDED,
        conditions=[screening_is_clean, fast_track_allowed],
    )
    def fast_track(self) -> None:
        pass

    @transition(
        field=state,
        source=ApplicationState.AWAITING_MERCHANT,
        target=ApplicationState.DECIDED,
        conditions=[window_is_open],
    )
    def accept_by_merchant(self) -> None:
        pass

    @transition(
        field=state,
        source=ApplicationState.AWAITING_MERCHANT,
        target=ApplicationState.IN_REVIEW,
        conditions=[window_is_open],
    )
    def contest(self) -> None:
        self._enter_review()

    @transition(
        field=state,
        source=ApplicationState.AWAITING_MERCHANT,
        target=ApplicationState.DECIDED,
        conditions=[window_has_closed, screening_is_clean, expiry_may_approve],
    )
    def approve_on_expiry(self) -> None:
        pass

    @transition(
        field=state,
        source=ApplicationState.AWAITING_MERCHANT,
        target=ApplicationState.IN_REVIEW,
        conditions=[window_has_closed],
    )
    def escalate_on_expiry(self) -> None:
        self._enter_review()

    @transition(
        field=state,
        source=ApplicationState.IN_REVIEW,
        target=ApplicationState.IN_REVIEW,
        conditions=[Claimable.has_no_live_claim, has_no_open_evidence_request],
    )
    def claim(self, *, reviewer: models.Model, until: timezone.datetime) -> None:
        self.claimed_by = reviewer
        self.claim_expires_at = until

    # The review clock stops while the buyer takes a second photo: no due date runs and no
    # claim runs out (the request keeps what was left of both), so a reviewer who asked does
    # not lose the application to the claim-expiry job, nor the team its SLA, to the buyer's delay.
    @transition(field=state, source=ApplicationState.IN_REVIEW, target=ApplicationState.IN_REVIEW)
    def pause_review(self) -> None:
        self.review_due_at = None
        self.claimed_by = None
        self.claim_expires_at = None

    @transition(field=state, source=ApplicationState.IN_REVIEW, target=ApplicationState.IN_REVIEW)
    def resume_review(
        self, *, review_time_left: timedelta, claim_holder: models.Model | None, claim_time_left: timedelta | None
    ) -> None:
        now = timezone.now()
        self.review_due_at = now + review_time_left
        if claim_holder is not None and claim_time_left is not None:
            self.claimed_by = claim_holder
            self.claim_expires_at = now + claim_time_left

    @transition(field=state, source=ApplicationState.IN_REVIEW, target=ApplicationState.IN_REVIEW)
    def release_claim(self) -> None:
        self.claimed_by = None
        self.claim_expires_at = None

    @transition(
        field=state,
        source=ApplicationState.IN_REVIEW,
        target=ApplicationState.DECIDED,
        conditions=[has_no_open_evidence_request],
    )
    def decide_by_reviewer(self) -> None:
        self.claimed_by = None
        self.claim_expires_at = None

    @transition(field=state, source=list(OPEN_STATES), target=ApplicationState.WITHDRAWN)
    def withdraw(self) -> None:
        self.claimed_by = None
        self.claim_expires_at = None


class Evidence(StoredImage):
    """A photo the buyer submitted with the application."""

    application = models.ForeignKey(
        RefundApplication,
        on_delete=models.CASCADE,
        related_name="evidence",
        verbose_name=_("application"),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("evidence image")
        verbose_name_plural = _("evidence images")
        ordering = ["application", "position"]


class ClaimGroup(models.Model):
    """Applications of one platform linked by reused evidence images: organised abuse sends
    the same photos with many claims, across buyers and shops.

    Stored (not recomputed from findings) so that a reviewer, the API and the dossier read
    one group with its members; groups merge when a new application links two of them.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    platform = models.ForeignKey(
        Platform,
        on_delete=models.PROTECT,
        related_name="claim_groups",
        verbose_name=_("platform"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("linked claims")
        verbose_name_plural = _("linked claims")

    def __str__(self) -> str:
        return str(self.public_id)


class ClaimGroupMember(models.Model):
    """One application's place in its group: an application belongs to at most one group."""

    group = models.ForeignKey(ClaimGroup, on_delete=models.CASCADE, related_name="members", verbose_name=_("group"))
    application = models.OneToOneField(
        RefundApplication,
        on_delete=models.CASCADE,
        related_name="claim_group_member",
        verbose_name=_("application"),
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)

    class Meta:
        verbose_name = _("linked claim")
        verbose_name_plural = _("linked claims")

    def __str__(self) -> str:
        return f"{self.application_id} in {self.group_id}"


class Rebuttal(models.Model):
    """The merchant's answer when contesting: a statement and supporting files."""

    application = models.OneToOneField(
        RefundApplication,
        on_delete=models.CASCADE,
        related_name="rebuttal",
        verbose_name=_("application"),
    )
    statement = models.TextField(_("statement"))
    reason_codes = models.JSONField(_("reason codes"), default=list, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("submitted by"),
    )
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)

    class Meta:
        verbose_name = _("rebuttal")
        verbose_name_plural = _("rebuttals")

    def __str__(self) -> str:
        return str(_("Rebuttal of %(application)s") % {"application": self.application})

    def reason_labels(self) -> list[str]:
        """The reasons the merchant ticked, in the reader's language (a code since retired shows as itself)."""
        labels = dict(RebuttalReason.choices)
        return [str(labels.get(code, code)) for code in self.reason_codes]


class RebuttalAttachment(StoredImage):
    """A packing photo, packing video or shipping proof attached to a rebuttal.

    A video is kept byte for byte as the merchant sent it (it is evidence); the worker derives
    a copy every browser plays (H.264 in MP4) and a poster frame, stored beside it."""

    rebuttal = models.ForeignKey(
        Rebuttal,
        on_delete=models.CASCADE,
        related_name="attachments",
        verbose_name=_("rebuttal"),
    )
    # Blank for a photo, and for a video stored before playable copies were made.
    video_state = models.CharField(_("playable copy"), max_length=20, choices=VideoState.choices, blank=True)
    playable_file = models.FileField(_("playable video"), max_length=300, blank=True)
    poster_file = models.FileField(_("poster frame"), max_length=300, blank=True)
    video_failure = models.CharField(_("why the video was not prepared"), max_length=50, blank=True)
    # Every delivery of the preparing task counts, a killed one included: past the limit the
    # video is marked failed instead of being tried forever.
    video_attempts = models.PositiveSmallIntegerField(_("preparation attempts"), default=0)
    # When the video was last handed to a worker (or, before that, queued): the sweeper sends
    # again a video whose message was lost, never one a worker is still converting.
    video_queued_at = models.DateTimeField(_("last queued or attempted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("rebuttal attachment")
        verbose_name_plural = _("rebuttal attachments")

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")

    @property
    def video_failure_message(self) -> str:
        """Why the playable copy could not be made, in the reader's language."""
        if self.video_state != VideoState.FAILED:
            return ""
        code = ErrorCode._value2member_map_.get(self.video_failure, ErrorCode.VIDEO_NOT_PREPARED)
        message = str(code.message)
        # A message that needs parameters is not stored with them: say the general reason.
        return str(ErrorCode.VIDEO_NOT_PREPARED.message) if "%(" in message else message


class Decision(models.Model):
    """The one decision of an application (invariant 2: the database refuses a second)."""

    application = models.OneToOneField(
        RefundApplication,
        on_delete=models.PROTECT,
        related_name="decision",
        verbose_name=_("application"),
    )
    outcome = models.CharField(_("outcome"), max_length=30, choices=Outcome.choices)
    approved_amount = models.DecimalField(_("approved amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    actor_kind = models.CharField(_("decided by"), max_length=20, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("actor"),
    )
    reason_codes = models.JSONField(_("reason codes"), default=list)
    note = models.TextField(_("note"), blank=True)
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now)

    class Meta:
        verbose_name = _("decision")
        verbose_name_plural = _("decisions")
        constraints = [models.CheckConstraint(condition=Q(approved_amount__gte=0), name="decision_amount_not_negative")]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.get_actor_kind_display()})"

    @property
    def reasons_display(self) -> list[str]:
        labels = dict(DecisionReason.choices)
        return [str(labels.get(code, code)) for code in self.reason_codes]

    @property
    def explanation_for_parties(self) -> str:
        """The reviewer's note when the reasons say only "Other": the label alone would tell the
        merchant and the platform nothing, so that note is written for them (the panel says so)."""
        return self.note if DecisionReason.OTHER in self.reason_codes else ""


class Appeal(Claimable, ConcurrentTransitionMixin, models.Model):
    """A request that another reviewer decide a decided application again. Its own record with
    its own lifecycle, bound to the decision it appeals: the decision itself is never rewritten
    (an overturn adds an ``AppealDecision`` naming it). Its state changes only through the
    transitions below, and those are called only by ``refunds.services.appeals``."""

    # The vocabularies by name, for templates: ``appeal.side == appeal.Side.MERCHANT``.
    State = AppealState
    Side = AppealSide

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    application = models.ForeignKey(
        RefundApplication, on_delete=models.PROTECT, related_name="appeals", verbose_name=_("application")
    )
    decision = models.ForeignKey(
        "Decision", on_delete=models.PROTECT, related_name="appeals", verbose_name=_("decision appealed")
    )
    side = models.CharField(_("appealed by"), max_length=20, choices=AppealSide.choices)
    state = FSMField(_("state"), default=AppealState.FILED, choices=AppealState.choices, protected=True)
    statement = models.TextField(_("statement"))
    reason_codes = models.JSONField(_("reason codes"), default=list, blank=True)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("filed by"),
    )
    filed_by_label = models.CharField(_("filed by"), max_length=200, blank=True)
    filed_at = models.DateTimeField(_("filed at"), default=timezone.now)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="claimed_appeals",
        verbose_name=_("claimed by"),
    )
    claim_expires_at = models.DateTimeField(_("claim expires at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        constraints = [
            # Lock-free backstop of the filing service, which checks both under the application's lock.
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(state__in=OPEN_APPEAL_STATES),
                name="one_open_appeal_per_application",
            ),
            models.UniqueConstraint(
                fields=["decision", "side"],
                condition=~Q(state=AppealState.WITHDRAWN),
                name="one_appeal_per_side_per_decision",
            ),
        ]
        indexes = [
            # The reviewers' appeals queue: by state, oldest first.
            models.Index(fields=["state", "filed_at"], name="appeal_queue"),
        ]

    def __str__(self) -> str:
        return str(self.public_id)

    # --- guards: read-only questions, no side effects ---------------------------------

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_APPEAL_STATES

    def _close(self) -> None:
        self.claimed_by = None
        self.claim_expires_at = None
        self.closed_at = timezone.now()

    # --- transitions: change fields only; the services lock, save and audit ------------

    @transition(
        field=state,
        source=[AppealState.FILED, AppealState.IN_REVIEW],
        target=AppealState.IN_REVIEW,
        conditions=[Claimable.has_no_live_claim],
    )
    def claim(self, *, reviewer: models.Model, until: datetime) -> None:
        self.claimed_by = reviewer
        self.claim_expires_at = until

    # A senior reviewer decides without a claim, as on applications; hence from ``filed`` too.
    @transition(field=state, source=[AppealState.FILED, AppealState.IN_REVIEW], target=AppealState.UPHELD)
    def uphold(self) -> None:
        self._close()

    @transition(field=state, source=[AppealState.FILED, AppealState.IN_REVIEW], target=AppealState.OVERTURNED)
    def overturn(self) -> None:
        self._close()

    @transition(field=state, source=[AppealState.FILED, AppealState.IN_REVIEW], target=AppealState.WITHDRAWN)
    def withdraw(self) -> None:
        self._close()


class AppealAttachment(StoredImage):
    """A photo, video or document image supporting an appeal, checked like every upload."""

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("appeal"))

    class Meta:
        verbose_name = _("appeal attachment")
        verbose_name_plural = _("appeal attachments")

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")


class AppealDecision(models.Model):
    """The one decision of an appeal (invariant 2: the database refuses a second). An overturn
    carries the new outcome and amount and names the decision it overturns, which stays as it was."""

    Verdict = AppealVerdict

    appeal = models.OneToOneField(
        Appeal, on_delete=models.PROTECT, related_name="appeal_decision", verbose_name=_("appeal")
    )
    verdict = models.CharField(_("verdict"), max_length=20, choices=AppealVerdict.choices)
    overturns = models.ForeignKey(
        "Decision",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="overturned_by",
        verbose_name=_("overturns"),
    )
    outcome = models.CharField(_("new outcome"), max_length=30, choices=Outcome.choices, blank=True)
    approved_amount = models.DecimalField(
        _("new approved amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("reviewer")
    )
    reason_codes = models.JSONField(_("reason codes"), default=list, blank=True)
    note = models.TextField(_("note"))
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now)

    class Meta:
        verbose_name = _("appeal decision")
        verbose_name_plural = _("appeal decisions")
        constraints = [
            # An overturn is a whole new decision naming the old one; upholding adds none.
            models.CheckConstraint(
                condition=(
                    Q(
                        verdict=AppealVerdict.OVERTURNED,
                        overturns__isnull=False,
                        approved_amount__gte=0,
                    )
                    & ~Q(outcome="")
                )
                | Q(verdict=AppealVerdict.UPHELD, overturns__isnull=True, outcome="", approved_amount__isnull=True),
                name="appeal_decision_overturn_is_complete",
            ),
        ]

    def __str__(self) -> str:
        return str(self.get_verdict_display())

    @property
    def reasons_display(self) -> list[str]:
        labels = dict(DecisionReason.choices)
        return [str(labels.get(code, code)) for code in self.reason_codes]


class QAReview(Claimable, ConcurrentTransitionMixin, models.Model):
    """A blind second review of a reviewer's decision, sampled at decision time by the policy's
    ``qa_sample_rate``: another reviewer records an outcome without seeing the decision; a
    disagreement goes to a senior reviewer, who records which was right. The decision the parties
    were told is never changed by it. Its state changes only through the transitions below,
    called only by ``refunds.services.quality``."""

    State = QAReviewState

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    application = models.ForeignKey(
        RefundApplication, on_delete=models.PROTECT, related_name="qa_reviews", verbose_name=_("application")
    )
    # One second review per decision: the database refuses another.
    decision = models.OneToOneField(
        Decision, on_delete=models.PROTECT, related_name="qa_review", verbose_name=_("decision reviewed")
    )
    state = FSMField(_("state"), default=QAReviewState.OPEN, choices=QAReviewState.choices, protected=True)
    sampled_at = models.DateTimeField(_("sampled at"), default=timezone.now)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="claimed_qa_reviews",
        verbose_name=_("claimed by"),
    )
    claim_expires_at = models.DateTimeField(_("claim expires at"), null=True, blank=True)
    # The second reviewer's own outcome, recorded without seeing the decision.
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("second reviewer"),
    )
    outcome = models.CharField(_("second outcome"), max_length=30, choices=Outcome.choices, blank=True)
    approved_amount = models.DecimalField(
        _("second approved amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3)
    reason_codes = models.JSONField(_("reason codes"), default=list, blank=True)
    note = models.TextField(_("second reviewer's note"), blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    resolution = models.CharField(_("resolution"), max_length=30, choices=QAResolution.choices, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolution_note = models.TextField(_("senior reviewer's note"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("second review")
        verbose_name_plural = _("second reviews")
        constraints = [
            # A recorded second review has its reviewer and outcome; a resolved one its resolution.
            models.CheckConstraint(
                condition=Q(state__in=[QAReviewState.OPEN, QAReviewState.CLAIMED])
                | (Q(state__in=QA_REVIEWED_STATES, reviewer__isnull=False, approved_amount__gte=0) & ~Q(outcome="")),
                name="qa_review_recorded_is_complete",
            ),
            models.CheckConstraint(
                condition=~Q(state=QAReviewState.RESOLVED) | (Q(resolved_by__isnull=False) & ~Q(resolution="")),
                name="qa_review_resolved_is_complete",
            ),
        ]
        indexes = [
            # The second-review queue: by state, oldest first.
            models.Index(fields=["state", "sampled_at"], name="qa_review_queue"),
        ]

    def __str__(self) -> str:
        return str(self.public_id)

    # --- guards: read-only questions, no side effects ---------------------------------

    @property
    def is_recorded(self) -> bool:
        return self.state in QA_REVIEWED_STATES

    def _second(
        self, *, reviewer: models.Model, outcome: str, amount: Decimal, reason_codes: list[str], note: str
    ) -> None:
        self.reviewer = reviewer
        self.outcome = outcome
        self.approved_amount = amount
        self.reason_codes = reason_codes
        self.note = note
        self.reviewed_at = timezone.now()
        self.claimed_by = None
        self.claim_expires_at = None

    # --- transitions: change fields only; the services lock, save and audit ------------

    # Taking over an expired claim is a claim too, hence from ``claimed``.
    @transition(
        field=state,
        source=[QAReviewState.OPEN, QAReviewState.CLAIMED],
        target=QAReviewState.CLAIMED,
        conditions=[Claimable.has_no_live_claim],
    )
    def claim(self, *, reviewer: models.Model, until: datetime) -> None:
        self.claimed_by = reviewer
        self.claim_expires_at = until

    @transition(field=state, source=QAReviewState.CLAIMED, target=QAReviewState.AGREED)
    def agree(self, **second: object) -> None:
        self._second(**second)  # type: ignore[arg-type]

    @transition(field=state, source=QAReviewState.CLAIMED, target=QAReviewState.DISAGREED)
    def disagree(self, **second: object) -> None:
        self._second(**second)  # type: ignore[arg-type]

    @transition(field=state, source=QAReviewState.DISAGREED, target=QAReviewState.RESOLVED)
    def resolve(self, *, senior: models.Model, resolution: str, note: str) -> None:
        self.resolved_by = senior
        self.resolution = resolution
        self.resolution_note = note
        self.resolved_at = timezone.now()


class EvidenceRequest(ConcurrentTransitionMixin, models.Model):
    """A request, through the platform, for another photo of the damage from another angle.

    Asked by a reviewer, or by the policy for an uncertain screening, while the application is
    in review; at most one is open per application. While it is open the review clock is
    paused: the request keeps what was left of the review time and of the asking reviewer's
    claim, and gives both back when it is answered or expires. Its state changes only through
    the transitions below, called only by ``refunds.services.evidence_requests``."""

    State = EvidenceRequestState

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    application = models.ForeignKey(
        RefundApplication, on_delete=models.PROTECT, related_name="evidence_requests", verbose_name=_("application")
    )
    state = FSMField(
        _("state"), default=EvidenceRequestState.OPEN, choices=EvidenceRequestState.choices, protected=True
    )
    first_evidence = models.ForeignKey(
        "Evidence",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("photo to take again"),
        help_text=_("The buyer's photo whose damage the second photo shows from another angle."),
    )
    instructions = models.TextField(_("instructions"))
    language = models.CharField(_("buyer's language"), max_length=10, choices=settings.LANGUAGES)
    actor_kind = models.CharField(_("requested by"), max_length=20, choices=ActorKind.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewer"),
    )
    requested_by_label = models.CharField(_("requested by"), max_length=200, blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    deadline = models.DateTimeField(_("deadline"))
    # The paused review clock: what was left when the request was made.
    review_time_left = models.DurationField(_("review time left"))
    claim_holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("claim held by"),
    )
    claim_time_left = models.DurationField(_("claim time left"), null=True, blank=True)
    answer = models.OneToOneField(
        "Evidence",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="answered_request",
        verbose_name=_("second photo"),
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    cancel_reason = models.CharField(_("why it was cancelled"), max_length=500, blank=True)
    # The second photo compared with the first (screening.core.compare_views, its as_dict()),
    # once the worker screened the second photo; null until then.
    view_pair = models.JSONField(_("two-view comparison"), null=True, blank=True)
    view_pair_at = models.DateTimeField(_("compared at"), null=True, blank=True)

    class Meta:
        verbose_name = _("request for another photo")
        verbose_name_plural = _("requests for another photo")
        constraints = [
            # Lock-free backstop of the service, which checks under the application's lock.
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(state=EvidenceRequestState.OPEN),
                name="one_open_evidence_request_per_application",
            ),
            models.CheckConstraint(
                condition=Q(state=EvidenceRequestState.ANSWERED, answer__isnull=False)
                | (~Q(state=EvidenceRequestState.ANSWERED) & Q(answer__isnull=True)),
                name="evidence_request_answered_has_answer",
            ),
        ]
        indexes = [
            # The expiry job: open requests whose deadline has passed.
            models.Index(fields=["state", "deadline"], name="evidence_request_due"),
        ]

    def __str__(self) -> str:
        return str(self.public_id)

    # --- guards: read-only questions, no side effects ---------------------------------

    @property
    def is_open(self) -> bool:
        return self.state == EvidenceRequestState.OPEN

    def deadline_not_passed(self) -> bool:
        return timezone.now() < self.deadline

    def deadline_passed(self) -> bool:
        return timezone.now() >= self.deadline

    # --- transitions: change fields only; the services lock, save and audit ------------

    @transition(
        field=state,
        source=EvidenceRequestState.OPEN,
        target=EvidenceRequestState.ANSWERED,
        conditions=[deadline_not_passed],
    )
    def record_answer(self, *, evidence: models.Model) -> None:
        self.answer = evidence
        self.closed_at = timezone.now()

    @transition(
        field=state, source=EvidenceRequestState.OPEN, target=EvidenceRequestState.EXPIRED, conditions=[deadline_passed]
    )
    def expire(self) -> None:
        self.closed_at = timezone.now()

    @transition(field=state, source=EvidenceRequestState.OPEN, target=EvidenceRequestState.CANCELLED)
    def cancel(self, *, reason: str = "") -> None:
        self.closed_at = timezone.now()
        self.cancel_reason = reason[:500]


class AuditEvent(models.Model):
    """An append-only, hash-chained record of every transition (invariant 3).

    ``hash`` covers this row's content and the previous row's hash, so changing or
    removing any row breaks the chain from there on; see ``refunds.audit.verify_chain``.
    """

    application = models.ForeignKey(
        RefundApplication,
        on_delete=models.PROTECT,
        related_name="audit_events",
        verbose_name=_("application"),
    )
    seq = models.PositiveIntegerField(_("sequence"))
    action = models.CharField(_("action"), max_length=40, choices=AuditAction.choices)
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20)
    actor_kind = models.CharField(_("actor kind"), max_length=20, choices=ActorKind.choices)
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    at = models.DateTimeField(_("at"))
    reason = models.TextField(_("reason"), blank=True)
    payload = models.JSONField(_("payload"), default=dict)
    payload_digest = models.CharField(_("payload digest"), max_length=64)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["application", "seq"]
        constraints = [models.UniqueConstraint(fields=["application", "seq"], name="audit_seq_unique")]

    def __str__(self) -> str:
        states = dict(ApplicationState.choices)
        before, after = states.get(self.from_state, self.from_state), states.get(self.to_state, self.to_state)
        return f"#{self.seq} {self.get_action_display()}: {before or '∅'} → {after}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("Audit events are append-only.")


# Sent with `prefixes` (a list) after a queryset's update() changed API keys: the cache of live
# keys (refunds.integration.apikeys, connected in RefundsConfig.ready) drops them.
api_keys_updated = Signal()


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def update(self, **kwargs: Any) -> int:
        """Update the keys, and say which changed (``api_keys_updated``): a revocation in a
        shell must leave the cache of live keys as the service's does. Recording a key's last
        use alone changes nothing the cache holds."""
        if set(kwargs) <= {"last_used_at"}:
            return super().update(**kwargs)
        prefixes = list(self.values_list("prefix", flat=True))
        count = super().update(**kwargs)
        api_keys_updated.send(sender=ApiKey, prefixes=prefixes)
        return count


class ApiKey(models.Model):
    """A platform's API key. Only a hash of the secret is stored; the key is shown once."""

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Write")
        POLICY = "policy", _("Policy")
        WEBHOOKS = "webhooks", _("Webhooks")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    platform = models.ForeignKey(
        Platform,
        on_delete=models.CASCADE,
        related_name="api_keys",
        verbose_name=_("platform"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(_("secret hash"), max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    # Set when the key is issued with a lifetime, or when it is rotated: the old key keeps
    # working until then, so a rolling deploy can move its processes to the new key.
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    replaced_by = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("replaced by"),
        editable=False,
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} (rh_{self.prefix}_…)"

    def is_live(self, at: timezone.datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)


class IdempotencyRecord(models.Model):
    """The first response to a POST with an ``Idempotency-Key`` (invariant 9), kept at least 24 h."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="+", verbose_name=_("platform"))
    key = models.CharField(max_length=255)
    request_digest = models.CharField(max_length=64)
    method_path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        # The unique pair is also the lock: of two concurrent requests with one key, one inserts.
        constraints = [models.UniqueConstraint(fields=["platform", "key"], name="idempotency_key_unique_per_platform")]
        # Purge job: records past their retention, oldest first.
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return self.key


class WebhookEndpoint(models.Model):
    """A platform's URL that receives signed events for every state change of its applications."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    platform = models.ForeignKey(
        Platform,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("platform"),
    )
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=100, editable=False)
    # The secret a rotation replaced, still signing beside the new one until it expires, so a
    # receiver that has not switched yet verifies every delivery of the overlap.
    previous_secret = models.CharField(_("previous signing secret"), max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(
        _("previous secret valid until"), null=True, blank=True, editable=False
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets a delivery at ``now`` is signed with: the current one, then the previous
        one while its overlap lasts."""
        live = self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at
        return [self.secret, self.previous_secret] if live else [self.secret]


class WebhookEvent(models.Model):
    """An event of the outbox, written in the transaction of the transition it reports (invariant 8)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="+", verbose_name=_("platform"))
    application = models.ForeignKey(
        RefundApplication,
        on_delete=models.CASCADE,
        related_name="webhook_events",
        verbose_name=_("application"),
    )
    sequence = models.PositiveIntegerField(_("sequence"))
    type = models.CharField(_("type"), max_length=60, choices=WebhookEventType.choices)
    payload = models.JSONField(_("payload"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [models.UniqueConstraint(fields=["application", "sequence"], name="webhook_sequence_unique")]
        # /events: a platform's events in (created_at, public_id) order, resumed after one of them.
        indexes = [models.Index(fields=["platform", "created_at", "public_id"], name="event_feed")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} #{self.sequence}"


class WebhookDelivery(models.Model):
    """One event for one endpoint, retried with back-off until the endpoint answers 2xx."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    event = models.ForeignKey(
        WebhookEvent,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("event"),
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # The Request-Id of the API request whose change queued it (empty for changes made by
    # workers, beat or people), so support can go from a delivery to the request.
    request_id = models.CharField(_("request id"), max_length=132, blank=True, editable=False)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")]
        # The retry sweeper: pending deliveries that are due.
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class SettingsChange(models.Model):
    """An append-only record of a change to a platform's settings: its policy, API keys and
    webhook endpoints (who, when, the values before and after; never a secret)."""

    class Target(models.TextChoices):
        PLATFORM = "platform", _("Platform")
        POLICY = "policy", _("Policy")
        API_KEY = "api_key", _("API key")
        WEBHOOK_ENDPOINT = "webhook_endpoint", _("Webhook endpoint")

    platform = models.ForeignKey(
        Platform,
        on_delete=models.CASCADE,
        related_name="settings_changes",
        verbose_name=_("platform"),
    )
    target = models.CharField(_("target"), max_length=30, choices=Target.choices)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    action = models.CharField(_("action"), max_length=40, choices=SettingsAction.choices)
    actor_kind = models.CharField(_("actor kind"), max_length=20, choices=ActorKind.choices)
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("settings change")
        verbose_name_plural = _("settings changes")
        ordering = ["-at", "-id"]
        # The platform page and the audit list: a platform's changes, newest first.
        indexes = [models.Index(fields=["platform", "-at"], name="settings_change_platform_at")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.pk}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("Settings changes are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("Settings changes are append-only.")


class EvidenceUpload(StoredImage):
    """An evidence image uploaded ahead of its application, then referenced by id (once)."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="+", verbose_name=_("platform"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("evidence upload")
        verbose_name_plural = _("evidence uploads")


class OutboxTask(models.Model):
    """A task that must run because of a committed change (screening of new evidence, …).

    Written in the transaction of the change and deleted once the broker has taken the
    message, so a broker that is down when the change commits delays the task, never loses
    it: the relay beat job sends what is left here.
    """

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # The request that caused the task, so that a task the relay sends late still logs under it.
    request_id = models.CharField(_("request id"), max_length=132, blank=True, editable=False)

    class Meta:
        verbose_name = _("pending task")
        verbose_name_plural = _("pending tasks")
        # The relay sends the oldest first.
        indexes = [models.Index(fields=["created_at"], name="outbox_created")]

    def __str__(self) -> str:
        return f"{self.task}{self.args}"
