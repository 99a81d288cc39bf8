"""Screen an application's evidence and store one result per image."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction

from refunds.models import Evidence, RefundApplication
from screening.checks import ENGINE_VERSION, CheckFinding, UnreadableEvidence, check_evidence
from screening.models import Finding, ScreeningResult


def application_screen_evidence(*, application_id: UUID | str) -> int:
    """Screen every evidence image of the application that has no result yet; return how many
    were screened now. Raise UnreadableEvidence for an image that cannot be decoded (after
    storing its ``unreadable`` result), any other exception for a failure worth retrying."""
    application = RefundApplication.objects.select_related("product").get(public_id=application_id)
    references = list(application.product.reference_images.order_by("created_at"))
    pending = Evidence.objects.filter(application=application, screening__isnull=True).order_by("position")
    screened = 0
    for evidence in pending:
        with evidence.file.open("rb") as handle:
            data = handle.read()
        try:
            report = check_evidence(data, reference_hashes=[r.sha256 for r in references],
                                    max_pixels=settings.UPLOAD_MAX_PIXELS)
        except UnreadableEvidence as exc:
            _store(evidence, verdict=ScreeningResult.Verdict.UNREADABLE, risk=1.0, completed=False, reference=None,
                   duration_ms=0, findings=[CheckFinding("unreadable", 1.0, f"The image cannot be decoded ({exc}).")])
            raise
        findings = list(report.findings) + _reuse_findings(evidence)
        reference = references[report.reference_index] if report.reference_index is not None else None
        risk = max([report.risk, *(f.score for f in findings)])
        screened += _store(evidence, verdict=report.verdict, risk=risk, completed=True, reference=reference,
                           duration_ms=report.duration_ms, findings=findings)
    return screened


def _reuse_findings(evidence: Evidence) -> list[CheckFinding]:
    """Find the same image in an earlier application of the same platform."""
    earlier = (
        Evidence.objects.filter(sha256=evidence.sha256, application__platform_id=evidence.application.platform_id)
        .exclude(application_id=evidence.application_id)
        .filter(created_at__lte=evidence.created_at)
        .select_related("application")
        .order_by("created_at")
        .first()
    )
    if earlier is None:
        return []
    return [CheckFinding(
        "near_duplicate", 1.0, "The same image was submitted with an earlier application.",
        {"application": str(earlier.application.public_id), "evidence": str(earlier.public_id)},
    )]


def _store(evidence: Evidence, *, verdict: str, risk: float, completed: bool, reference: object,
           duration_ms: int, findings: list[CheckFinding]) -> int:
    """Store the result unless a twin delivery of the task stored one first; return 1 if stored."""
    try:
        with transaction.atomic():
            result = ScreeningResult.objects.create(
                evidence=evidence, verdict=verdict, risk=risk, completed=completed, matched_reference=reference,
                engine_version=ENGINE_VERSION, duration_ms=duration_ms,
            )
            Finding.objects.bulk_create([
                Finding(result=result, code=f.code, score=f.score, detail=f.detail, params=f.params,
                        regions=[list(r) for r in f.regions])
                for f in findings
            ])
    except IntegrityError:
        return 0
    return 1
