"""What the application page shows, gathered in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image, UnidentifiedImageError

from refunds import audit, selectors, services
from refunds.admin.timeline import describe
from refunds.models import Evidence, EvidenceRequest, ReferenceImage, RefundApplication
from refunds.roles import DOWNLOAD_DOSSIER
from refunds.states import ApplicationState, Outcome, RiskLevel
from refunds.views import attachment_views, file_url
from screening.core import FindingCode, ViewPairVerdict
from screening.messages import view_pair_words
from screening.models import ReuseLink

# Findings whose presence the metadata panel reports in words of its own.
_PROVENANCE = (
    FindingCode.AIGC_LABEL,
    FindingCode.C2PA_AI_GENERATED,
    FindingCode.EDITING_SOFTWARE,
    FindingCode.NO_CAMERA_METADATA,
    FindingCode.CAPTURED_BEFORE_DELIVERY,
)


@dataclass
class FindingRow:
    code: str
    label: str
    score: float
    explanation: str
    heatmap_url: str = ""


@dataclass
class EvidencePanel:
    evidence: Evidence
    url: str
    reference: ReferenceImage | None
    reference_url: str
    reference_matched: bool
    aligned_url: str
    findings: list[FindingRow]
    heatmap_url: str
    earlier: list[dict[str, Any]] = field(default_factory=list)
    metadata: list[tuple[str, str]] = field(default_factory=list)
    verdict: str = ""


def _exif(evidence: Evidence) -> dict[str, str]:
    """Return camera make and model, software and capture time from the file's EXIF."""
    try:
        with evidence.file.open("rb") as handle, Image.open(handle) as image:
            exif = image.getexif()
            values = {ExifTags.TAGS.get(tag, str(tag)): value for tag, value in exif.items()}
            values.update(
                {ExifTags.TAGS.get(tag, str(tag)): value for tag, value in exif.get_ifd(ExifTags.IFD.Exif).items()}
            )
    except (OSError, UnidentifiedImageError, ValueError):
        return {}
    return {
        key: str(values[key]).strip("\x00 ")
        for key in ("Make", "Model", "Software", "DateTimeOriginal", "DateTime")
        if values.get(key)
    }


def _explained(codes: dict[str, Any], code: FindingCode) -> str | None:
    finding = codes.get(code)
    return finding.explanation if finding is not None else None


def _metadata(evidence: Evidence, findings: list[Any]) -> list[tuple[str, str]]:
    from django.utils.translation import gettext as _

    exif = _exif(evidence)
    codes = {f.code: f for f in findings}
    camera = " ".join(v for v in (exif.get("Make"), exif.get("Model")) if v)
    taken = exif.get("DateTimeOriginal") or exif.get("DateTime")
    rows = [
        (_("camera"), camera or _("none recorded")),
        (_("taken at"), taken or _("not recorded")),
        (_("software"), exif.get("Software") or _("none recorded")),
        (_("AIGC label (GB 45438-2025)"), _explained(codes, FindingCode.AIGC_LABEL) or _("none")),
        (_("C2PA"), _explained(codes, FindingCode.C2PA_AI_GENERATED) or _("no AI declaration")),
    ]
    if FindingCode.EDITING_SOFTWARE in codes:
        rows.append((_("editing traces"), _explained(codes, FindingCode.EDITING_SOFTWARE)))
    if FindingCode.CAPTURED_BEFORE_DELIVERY in codes:
        rows.append((_("capture time"), _explained(codes, FindingCode.CAPTURED_BEFORE_DELIVERY)))
    return rows


def _reuse_label(kind: object) -> str:
    """What was reused, in words; findings stored before reuse was told apart carry no kind."""
    return str(ReuseLink.Kind(kind).label) if kind in ReuseLink.Kind.values else ""


def _panels(application: RefundApplication) -> list[EvidencePanel]:
    references = list(application.product.reference_images.all())
    near = [
        f
        for item in application.evidence.all()
        if getattr(item, "screening", None)
        for f in item.screening.findings.all()
        if f.code == FindingCode.NEAR_DUPLICATE
    ]
    earlier = (
        {
            str(row.public_id): row
            for row in Evidence.objects.filter(
                public_id__in=[f.params.get("evidence") for f in near if f.params.get("evidence")],
                application__platform_id=application.platform_id,
            ).select_related("application")
        }
        if near
        else {}
    )
    panels = []
    for item in application.evidence.all():
        result = getattr(item, "screening", None)
        findings = list(result.findings.all()) if result else []
        matched = result.matched_reference if result else None
        reference = matched or (references[0] if references else None)
        rows = [
            FindingRow(
                f.code,
                f.label,
                f.score,
                f.explanation,
                reverse("stored-file", args=["heatmap", f.public_id]) if f.artifact else "",
            )
            for f in findings
        ]
        panel = EvidencePanel(
            evidence=item,
            url=file_url("evidence", item),
            reference=reference,
            reference_url=file_url("reference", reference) if reference else "",
            reference_matched=matched is not None,
            aligned_url=reverse("admin:refunds_refundapplication_aligned", args=[application.pk, item.public_id])
            if matched
            else "",
            findings=rows,
            heatmap_url=next((r.heatmap_url for r in rows if r.heatmap_url), ""),
            metadata=_metadata(item, findings),
            verdict=str(result) if result else "",
        )
        for finding in findings:
            if finding.code != FindingCode.NEAR_DUPLICATE:
                continue
            twin = earlier.get(str(finding.params.get("evidence")))
            if twin is not None:
                panel.earlier.append(
                    {
                        "url": file_url("evidence", twin),
                        "application": twin.application,
                        "link": reverse("admin:refunds_refundapplication_change", args=[twin.application_id]),
                        "distance": finding.params.get("distance"),
                        "points": finding.params.get("points"),
                        "kind": _reuse_label(finding.params.get("kind")),
                    }
                )
        panels.append(panel)
    return panels


def claim_status(application: RefundApplication, user: AbstractBaseUser) -> dict[str, Any]:
    live = application.claimed_by_id is not None and not application.has_no_live_claim()
    return {
        "live": live,
        "mine": live and application.claimed_by_id == user.pk,
        "holder": application.claimed_by if live else None,
        "expires_at": application.claim_expires_at if live else None,
    }


@dataclass
class EvidenceRequestPanel:
    """A request for another photo as the page shows it: the first photo beside the second."""

    request: EvidenceRequest
    first_url: str
    answer_url: str
    # The two-view comparison in the reader's words, the engine's figures, and whether it
    # raised a finding (a flat or unrelated pair, or the damage missing from the second photo).
    pair_words: str = ""
    pair_detail: str = ""
    pair_inconsistent: bool = False


def _evidence_requests(application: RefundApplication) -> list[EvidenceRequestPanel]:
    """The application's requests, newest first."""
    return [
        EvidenceRequestPanel(
            request=request,
            first_url=file_url("evidence", request.first_evidence),
            answer_url=file_url("evidence", request.answer) if request.answer_id else "",
            pair_words=view_pair_words(request.view_pair) if request.view_pair else "",
            pair_detail=str(request.view_pair.get("explanation", "")) if request.view_pair else "",
            pair_inconsistent=bool(request.view_pair) and _inconsistent(request.view_pair),
        )
        for request in reversed(list(application.evidence_requests.all()))
    ]


def _inconsistent(pair: dict[str, Any]) -> bool:
    return (
        pair.get("verdict") in (ViewPairVerdict.FLAT, ViewPairVerdict.UNRELATED) or pair.get("damage_in_both") is False
    )


def workspace_context(application: RefundApplication, user: AbstractBaseUser) -> dict[str, Any]:
    """Return everything the application page shows."""
    history = selectors.buyer_history(application)
    # One reading of the buyer's other applications serves the totals, the reasons and the policy's view.
    buyer_risk = selectors.buyer_risk(
        platform=application.platform, buyer_ref=application.buyer_ref, excluding=application
    )
    linked = selectors.linked_claims(application)
    events = list(application.audit_events.order_by("seq"))
    chain = audit.verify_chain(application)
    in_review = application.state == ApplicationState.IN_REVIEW
    rights = services.decision_permissions(application=application, user=user)
    claim = claim_status(application, user)
    decision = getattr(application, "decision", None)
    rebuttal = getattr(application, "rebuttal", None)
    attachments = attachment_views(rebuttal)
    policy = application.platform.policy
    requests = _evidence_requests(application)
    may_ask, may_cancel = services.evidence_request_permissions(application=application, user=user)
    # The buyer's other applications and the linked claims name their decisions: not those a
    # possible blind second reviewer must not see.
    shown = [row.pk for row in history] + ([member.application.pk for member in linked.members] if linked else [])
    hidden = set(selectors.blind_application_ids(user=user).filter(application_id__in=shown)) if shown else set()
    return {
        "application": application,
        "panels": _panels(application),
        "history": history,
        "hidden_decisions": hidden,
        # The totals would give a hidden decision away (one earlier application, 17.35 refunded).
        "history_totals": {
            "count": buyer_risk.applications,
            "forged": buyer_risk.forged,
            "rejected": "—" if hidden else buyer_risk.outcomes[Outcome.REJECTED],
        },
        "related": [(member.application, member.relation) for member in linked.members] if linked else [],
        "linked": linked,
        "buyer_risk": buyer_risk,
        "buyer_refunded": "—" if hidden else selectors.money_text(buyer_risk.refunded, currency=application.currency),
        "linked_claimed": selectors.money_text(linked.claimed, currency=application.currency) if linked else "",
        "linked_refunded": (
            selectors.money_text(linked.refunded, currency=application.currency) if linked and not hidden else "—"
        ),
        "timeline": [{"event": e, "text": describe(e), "at": e.at} for e in events],
        "chain": chain,
        "decision": decision,
        "rebuttal": rebuttal,
        "attachments": attachments,
        "claim": claim,
        "can_claim": rights.may_claim,
        "can_decide": rights.may_decide,
        "may_decide_at_all": rights.may_decide_at_all,
        "can_download_dossier": user.has_perm(DOWNLOAD_DOSSIER) and application.state == ApplicationState.DECIDED,
        "is_senior": rights.senior,
        "in_review": in_review,
        "forged": application.risk_level == RiskLevel.FORGED,
        "senior_ceiling": policy.senior_amount_ceiling,
        "above_ceiling": application.amount > policy.senior_amount_ceiling,
        "overdue": bool(in_review and application.review_due_at and application.review_due_at < timezone.now()),
        "outcomes": Outcome,
        "evidence_requests": requests,
        "open_request": next((panel.request for panel in requests if panel.request.is_open), None),
        "can_ask_for_photo": may_ask,
        "can_cancel_photo_request": may_cancel,
    }
