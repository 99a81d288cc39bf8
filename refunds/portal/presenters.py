"""What the portal says about an application, in a shop owner's words rather than a reviewer's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.timesince import timeuntil
from django.utils.translation import gettext as _

from refunds.models import AuditEvent, Evidence, EvidenceRequest, ReferenceImage, RefundApplication
from refunds.states import ActorKind, EvidenceRequestState
from refunds.vocab import STAFF_ONLY_ACTIONS, AuditAction
from screening import messages
from screening.core import FindingCode
from screening.models import Finding, ScreeningResult


def _plain_words(finding: Finding) -> str | None:
    return messages.merchant_words(finding.code, finding.params or {})


_TIMELINE = {
    AuditAction.SUBMIT: lambda: _("The buyer asked for a refund"),
    AuditAction.ADD_EVIDENCE: lambda: _("The buyer added photos"),
    AuditAction.SCREEN: lambda: _("The photos were screened"),
    AuditAction.RESCREEN: lambda: _("The new photos were screened"),
    AuditAction.UNSCREENED: lambda: _("Screening failed; a reviewer will look at the photos"),
    AuditAction.OPEN_WINDOW: lambda: _("Your response window opened"),
    AuditAction.FAST_TRACK: lambda: _("Approved at once (small amount, clean screening)"),
    AuditAction.MERCHANT_ACCEPT: lambda: _("You accepted the refund"),
    AuditAction.MERCHANT_CONTEST: lambda: _("You contested the refund"),
    AuditAction.WINDOW_EXPIRED_APPROVE: lambda: _("Your window closed; the refund was approved"),
    AuditAction.WINDOW_EXPIRED_REVIEW: lambda: _("Your window closed; a reviewer will decide"),
    AuditAction.CLAIM: lambda: _("A reviewer started looking at the claim"),
    AuditAction.RELEASE_CLAIM: lambda: _("The reviewer put the claim back in the queue"),
    AuditAction.DECIDE: lambda: _("A reviewer decided"),
    AuditAction.WITHDRAW: lambda: _("The claim was withdrawn"),
    AuditAction.DOSSIER_GENERATED: lambda: _("The evidence dossier was downloaded"),
    AuditAction.EVIDENCE_REQUEST_OPEN: lambda: _("The buyer was asked for another photo; the review is paused"),
    AuditAction.EVIDENCE_REQUEST_ANSWER: lambda: _("The buyer sent another photo; the review resumed"),
    AuditAction.EVIDENCE_REQUEST_EXPIRE: lambda: _("No other photo came in time; the review resumed"),
    AuditAction.EVIDENCE_REQUEST_CANCEL: lambda: _("The request for another photo was withdrawn; the review resumed"),
    AuditAction.EVIDENCE_REQUEST_COMPARE: lambda: _("The second photo was compared with the first"),
}


@dataclass
class EvidenceView:
    evidence: Evidence
    screened: bool
    sentences: list[str]
    findings: list[Finding] = field(default_factory=list)
    heat_map: Finding | None = None
    matched_reference: ReferenceImage | None = None
    matched_number: int | None = None
    # Boxes drawn on the heat-map (the changed regions); none for an exact copy.
    changed_regions: int = 0


def _derived_sentence(reference: ReferenceImage, number: int) -> str:
    if reference.kind == ReferenceImage.Kind.SHIPPED_ITEM:
        return _("This photo appears to be derived from your photo of the shipped item No. %(number)s.") % {
            "number": number
        }
    return _("This photo appears to be derived from your catalogue photo No. %(number)s.") % {"number": number}


def evidence_views(application: RefundApplication) -> list[EvidenceView]:
    """Explain each evidence image: what screening found, the heat-map and the matched reference."""
    policy = application.platform.policy
    references = sorted(application.product.reference_images.all(), key=lambda r: r.pk)
    numbers = {reference.pk: index for index, reference in enumerate(references, start=1)}
    views = []
    for evidence in application.evidence.all():
        result: ScreeningResult | None = getattr(evidence, "screening", None)
        if result is None or not result.completed:
            views.append(EvidenceView(evidence, False, [_("Screening of this photo is still running.")]))
            continue
        findings = list(result.findings.all())
        counted = [f for f in findings if f.score >= policy.threshold_for(f.code)]
        sentences = []
        reference = result.matched_reference
        number = numbers.get(reference.pk) if reference is not None else None
        if result.verdict == ScreeningResult.Verdict.DERIVED:
            sentences.append(
                _derived_sentence(reference, number)
                if reference is not None and number is not None
                # The matched photo has since been removed from the product.
                else _("This photo appears to be derived from one of your reference photos.")
            )
        for finding in counted:
            if finding.code == FindingCode.DERIVED_FROM_REFERENCE and sentences:
                continue  # said above, naming the photo it came from
            words = _plain_words(finding)
            if words is not None and words not in sentences:
                sentences.append(words)
        if not sentences:
            sentences.append(_("Screening found no sign that this photo was copied or edited."))
        heat_map = next((f for f in findings if f.artifact), None)
        boxes = sum(len(f.regions) for f in findings if f.code == FindingCode.LOCAL_EDIT)
        views.append(EvidenceView(evidence, True, sentences, counted, heat_map, reference, number, boxes))
    return views


@dataclass
class PhotoRequestView:
    """A request for another photo as the merchant reads it: where it stands, its deadline and
    the paused review clock. Never the instructions (written to the buyer, in the buyer's
    language, and free to address them by name), the reason for a cancellation, nor who asked."""

    request: EvidenceRequest
    by_policy: bool
    photo_number: int | None
    answer_number: int | None
    # The review time that was left when the clock stopped, in words ("2 days, 3 hours").
    review_left: str
    closed_at: datetime | None = None


def photo_requests(application: RefundApplication) -> list[PhotoRequestView]:
    """Return the application's requests for another photo, oldest first, with the numbers under
    which the page shows the photo to take again and the one that answered it."""
    numbers = {evidence.pk: index for index, evidence in enumerate(application.evidence.all(), start=1)}
    now = timezone.now()
    return [
        PhotoRequestView(
            request=request,
            by_policy=request.actor_kind != ActorKind.REVIEWER,
            photo_number=numbers.get(request.first_evidence_id),
            answer_number=numbers.get(request.answer_id) if request.answer_id else None,
            review_left=timeuntil(now + request.review_time_left, now),
            closed_at=request.closed_at if request.state != EvidenceRequestState.OPEN else None,
        )
        for request in application.evidence_requests.all()
    ]


@dataclass
class TimelineEntry:
    event: AuditEvent
    text: str


def timeline(application: RefundApplication) -> list[TimelineEntry]:
    """Return the audit log as a merchant reads it: what happened, not who among the staff did it
    (nor the staff's own quality control, which changes nothing the merchant was told)."""
    entries = []
    for event in sorted(application.audit_events.all(), key=lambda e: e.seq):
        if event.action in STAFF_ONLY_ACTIONS:
            continue
        words = _TIMELINE.get(event.action)
        entries.append(TimelineEntry(event, words() if words else event.get_action_display()))
    return entries


def rebuttal_reasons(application: RefundApplication) -> list[str]:
    """Return the labels of the reasons the merchant gave when contesting, if any."""
    rebuttal = getattr(application, "rebuttal", None)
    return rebuttal.reason_labels() if rebuttal is not None else []


def decision_summary(application: RefundApplication) -> str:
    """The decision in one sentence with the reader's punctuation: "Approved (Merchant) — 39.90 CNY.
    The merchant accepted" reads "已批准（商家）— 39.90 CNY。商家同意退款" in Chinese. A decision
    overturned on appeal stays as it was made, but what applies now is the appeal's: the sentence
    leads with that and names the original after it."""
    decision = getattr(application, "decision", None)
    if decision is None:
        return ""
    original = _("%(outcome)s (%(actor)s) — %(amount)s %(currency)s. %(reasons)s") % {
        "outcome": decision.get_outcome_display(),
        "actor": decision.get_actor_kind_display(),
        "amount": decision.approved_amount,
        "currency": decision.currency,
        "reasons": _("; ").join(decision.reasons_display),
    }
    rulings = sorted(decision.overturned_by.all(), key=lambda ruling: ruling.decided_at)
    if not rulings:
        return original
    ruling = rulings[-1]
    return _("Overturned on appeal: %(outcome)s — %(amount)s %(currency)s. The original decision: %(original)s") % {
        "outcome": ruling.get_outcome_display(),
        "amount": ruling.approved_amount,
        "currency": ruling.currency,
        "original": original,
    }
