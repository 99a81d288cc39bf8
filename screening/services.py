"""Screen an application's evidence with ``screening.core`` and store one result per image."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from threading import Lock
from uuid import UUID

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from refunds.models import Evidence, ReferenceImage, RefundApplication
from reviewhub.instruments import screening_check
from screening import core
from screening.index import Match, feature_reuse_score, fingerprint_store, near_duplicates, reuse_score
from screening.models import Finding, ReuseLink, ScreeningResult

log = logging.getLogger(__name__)


class UnreadableEvidence(Exception):
    """A stored evidence image cannot be decoded; screening it again will not help."""


class _AnalysisCache:
    """Analyses of stored images compared against (references, earlier evidence) by content
    hash, kept in each worker process.

    References are reused by every application against their product, and the earliest claims
    of a product are the closest look-alikes of many later ones; analysing an image (decode,
    features, hashes) costs as much as screening one, so a worker keeps the most recently used.
    Bounded because each holds its working plane (about 3 MB).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, core.ReferenceAnalysis] = OrderedDict()
        self._lock = Lock()

    def get(self, image: ReferenceImage | Evidence) -> core.ReferenceAnalysis:
        """Return the image's analysis; raise core.UnreadableImage or OSError if it cannot be read."""
        with self._lock:
            cached = self._items.get(image.sha256)
            if cached is not None and cached.engine_version == core.ENGINE_VERSION:
                self._items.move_to_end(image.sha256)
                return cached
        with screening_check("reference_analysis"), image.file.open("rb") as handle:
            analysis = core.analyse_reference(handle.read())
        with self._lock:
            self._items[image.sha256] = analysis
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return analysis


reference_cache = _AnalysisCache(settings.SCREENING_REFERENCE_CACHE_SIZE)
# A screening compares with at most REUSE_MATCHES_CHECKED earlier images; a few screenings'
# worth covers a run of claims against one product.
earlier_evidence_cache = _AnalysisCache(16)


def screen_image(
    data: bytes, *, references: list[core.ReferenceAnalysis], delivered_at: datetime | None
) -> tuple[core.ScreeningReport, core.DecodedImage]:
    """Screen the evidence, decoded once within the upload limits; return its report (with the
    perceptual hash) and the decoded image, which the reuse check compares with earlier images.

    Raise core.UnreadableImage if it cannot be decoded or analysed.
    """
    started = time.perf_counter()
    # Decoded here rather than inside core.screen_evidence, so that the reuse check compares the
    # same decoded image instead of decoding the file a second time: 4 % of a worker's time in
    # bench/e2e.py's profile (a 12 MP JPEG, ~90 ms), the same pixels either way.
    decoded = core.decode_image(data, max_pixels=settings.UPLOAD_MAX_PIXELS, max_bytes=settings.UPLOAD_MAX_BYTES)
    try:
        report = core.screen_decoded(decoded, references=references, delivered_at=delivered_at, started=started)
    except core.ANALYSIS_ERRORS as exc:
        # Rare (a pathological image): the engine's own unreadable answer, as screen_evidence gives it.
        raise core.analysis_failure(exc) from exc
    unreadable = report.finding(core.FindingCode.UNREADABLE)
    if unreadable is not None or report.phash is None:
        params = unreadable.params if unreadable is not None else {}
        raise core.UnreadableImage(
            str(params.get("reason", "corrupt")), str(params.get("message", "the image could not be decoded"))
        )
    return report, decoded


def application_screen_evidence(*, application_id: UUID | str) -> int:
    """Screen every evidence image of the application that has no result yet; return how many
    were screened now. Raise UnreadableEvidence for an image that cannot be decoded (after
    storing its ``unreadable`` result), any other exception for a failure worth retrying."""
    # The application (with its product and, for the reuse lookup, its platform) comes with its
    # images: one round trip, not two, and none for the references of an application with
    # nothing left to screen (a redelivery).
    pending = list(
        Evidence.objects.filter(application__public_id=application_id, screening__isnull=True)
        .select_related("application__product", "application__platform")
        .order_by("position")
    )
    if not pending:
        if not RefundApplication.objects.filter(public_id=application_id).exists():
            raise RefundApplication.DoesNotExist(f"no application {application_id}")
        return 0
    application = pending[0].application
    for evidence in pending:
        evidence.application = application  # one instance for all, as one query would give
    references = list(application.product.reference_images.order_by("created_at"))
    analyses, usable = [], []
    for reference in references:
        try:
            analyses.append(reference_cache.get(reference))
            usable.append(reference)
        except core.UnreadableImage as exc:
            # Checked at upload, so only storage damage gets here; the others still count.
            log.error("reference image %s cannot be analysed: %s", reference.public_id, exc)
    screened = 0
    for evidence in pending:
        with evidence.file.open("rb") as handle:
            data = handle.read()
        try:
            with screening_check("consistency"):
                report, decoded = screen_image(data, references=analyses, delivered_at=application.delivered_at)
        except core.UnreadableImage as exc:
            unreadable = core.Finding(
                core.FindingCode.UNREADABLE,
                1.0,
                f"The stored image cannot be decoded: {exc.message}.",
                {"reason": exc.reason_code, "message": exc.message},
            )
            _store(
                evidence,
                verdict=ScreeningResult.Verdict.UNREADABLE,
                risk=1.0,
                completed=False,
                reference=None,
                duration_ms=0,
                findings=[unreadable],
            )
            raise UnreadableEvidence(exc.message) from None
        with screening_check("reuse"):
            phash = report.phash
            fingerprint_store(evidence=evidence, phash=phash, features=report.reuse)
            matches = near_duplicates(evidence=evidence, phash=phash, features=report.reuse)
            links = reuse_links_found(evidence, decoded, matches)
        findings = list(report.findings) + _reuse_findings(evidence, links) + _other_platform_findings(matches)
        reference = usable[report.reference_index] if report.reference_index is not None else None
        risk = core.combined_risk(findings)
        screened += _store(
            evidence,
            verdict=report.verdict,
            risk=risk,
            completed=True,
            reference=reference,
            duration_ms=int(report.ms),
            findings=findings,
            links=links,
        )
    return screened


# Each earlier match is checked in pixels (a screening of the evidence against it), about
# as costly as screening the image once; the closest few say what was reused, and the
# linked-claims group reaches the others through their own links.
REUSE_MATCHES_CHECKED = 3


def reuse_links_found(evidence: Evidence, decoded: core.DecodedImage, matches: list[Match]) -> list[ReuseLink]:
    """Return (unsaved) links from the evidence (``decoded``: as screening decoded it) to the
    closest earlier images it reuses, each saying what was reused: the same file, the same
    picture re-encoded, or the same picture with local changes (with their regions). A match
    only the keypoints found is linked only when the pixels confirm it: the evidence must be
    the earlier picture transformed."""
    links = []
    own = [m for m in matches if not m.other_platform]  # another platform's use is only a fact and a date
    for match in own[:REUSE_MATCHES_CHECKED]:
        earlier = match.evidence
        if earlier.sha256 == evidence.sha256:
            kind, regions = ReuseLink.Kind.SAME_FILE, []
        else:
            derived, kind, regions = _compare_with_earlier(decoded, earlier)
            if match.points and not derived:
                # Keypoints agree also between two photographs of one printed product (a box,
                # a poster); only a copy of the picture agrees in its pixels.
                continue
        links.append(
            ReuseLink(
                evidence=evidence,
                earlier=earlier,
                kind=kind,
                distance=match.distance,
                regions=[list(r) for r in regions],
                points=match.points,
            )
        )
    return links


def _compare_with_earlier(
    decoded: core.DecodedImage, earlier: Evidence
) -> tuple[bool, str, list[tuple[int, int, int, int]]]:
    """Compare the evidence with the earlier image as screening compares it with a reference
    (core.compare_for_reuse); return whether it is the earlier picture transformed, and what
    kind of reuse: local edits after alignment make it an edited reuse. For a hash match the
    hash already says "the same picture", so an alignment that fails (a heavy crop, a frame)
    leaves it a re-encoded one."""
    try:
        analysis = earlier_evidence_cache.get(earlier)
    except (core.UnreadableImage, OSError) as exc:
        log.warning("earlier evidence %s cannot be compared: %s", earlier.public_id, exc)
        return False, ReuseLink.Kind.RE_ENCODED, []
    try:
        comparison = core.compare_for_reuse(decoded, analysis)
    except core.ANALYSIS_ERRORS as exc:
        log.warning("evidence could not be compared with earlier evidence %s: %s", earlier.public_id, exc)
        return False, ReuseLink.Kind.RE_ENCODED, []
    if comparison.derived and comparison.regions:
        # A turned copy's filled corners differ from the earlier picture but are no edit of it.
        regions = core.without_turn_fill(decoded, comparison.regions)
        if regions:
            return True, ReuseLink.Kind.EDITED, regions
    return comparison.derived, ReuseLink.Kind.RE_ENCODED, []


_REUSE_DETAIL = {
    ReuseLink.Kind.SAME_FILE: "The image is the very file submitted with an earlier application.",
    ReuseLink.Kind.RE_ENCODED: "The image is the picture submitted with an earlier application, re-encoded, resized or "
    "cropped ({distance} of 64 hash bits differ).",
    ReuseLink.Kind.EDITED: "The image is the picture submitted with an earlier application with local changes "
    "({regions} region(s)); the changes are boxed.",
}
# Found by keypoints: the hash moved too far to say anything, the agreeing points say it.
_REUSE_DETAIL_BY_POINTS = {
    ReuseLink.Kind.RE_ENCODED: "The image is the picture submitted with an earlier application, cropped, turned or "
    "framed ({points} points agree on one geometric transform).",
}


def _reuse_findings(evidence: Evidence, links: list[ReuseLink]) -> list[core.Finding]:
    if not links:
        return []
    closest = links[0]
    # Identical bytes are certain; each differing hash bit makes a coincidence likelier.
    if closest.kind == ReuseLink.Kind.SAME_FILE:
        score = 1.0
    elif closest.points:
        score = feature_reuse_score(closest.points)
    else:
        score = reuse_score(closest.distance)
    details = _REUSE_DETAIL_BY_POINTS if closest.points else {}
    detail = details.get(ReuseLink.Kind(closest.kind), _REUSE_DETAIL[ReuseLink.Kind(closest.kind)]).format(
        distance=closest.distance, regions=len(closest.regions), points=closest.points
    )
    return [
        core.Finding(
            core.FindingCode.NEAR_DUPLICATE,
            score,
            detail,
            {
                "application": str(closest.earlier.application.public_id),
                "evidence": str(closest.earlier.public_id),
                "distance": closest.distance,
                "matches": len(links),
                "kind": closest.kind,
                **({"points": closest.points} if closest.points else {}),
            },
            tuple(tuple(r) for r in closest.regions),
        )
    ]


def _other_platform_findings(matches: list[Match]) -> list[core.Finding]:
    """The fact and date of an earlier use on another platform: nothing else of it is known here."""
    match = next((m for m in matches if m.other_platform), None)
    if match is None:
        return []
    first_seen = match.first_seen.date().isoformat()
    return [
        core.Finding(
            core.FindingCode.NEAR_DUPLICATE,
            reuse_score(match.distance),
            f"The image matches one used on another platform on {first_seen} ({match.distance} of 64 hash bits differ).",
            {"other_platform": True, "first_seen": first_seen, "distance": match.distance},
        )
    ]


def _store(
    evidence: Evidence,
    *,
    verdict: str,
    risk: float,
    completed: bool,
    reference: ReferenceImage | None,
    duration_ms: int,
    findings: list[core.Finding],
    links: Sequence[ReuseLink] = (),
) -> int:
    """Store the result and its reuse links unless a twin delivery of the task stored one
    first; return 1 if stored."""
    try:
        with transaction.atomic():
            result = ScreeningResult.objects.create(
                evidence=evidence,
                verdict=verdict,
                risk=risk,
                completed=completed,
                matched_reference=reference,
                engine_version=core.ENGINE_VERSION,
                duration_ms=duration_ms,
            )
            Finding.objects.bulk_create(
                [
                    Finding(
                        result=result,
                        code=f.code,
                        score=f.score,
                        detail=f.detail,
                        params=f.params,
                        regions=[list(r) for r in f.regions],
                        artifact=_store_artifact(evidence, f),
                    )
                    for f in findings
                ]
            )
            ReuseLink.objects.bulk_create(list(links))
    except IntegrityError:
        return 0
    return 1


def _store_artifact(evidence: Evidence, finding: core.Finding) -> str:
    if not finding.artifact:
        return ""
    # Named after the evidence and the engine: the same inputs always draw the same heat-map.
    name = f"heatmaps/{evidence.sha256[:2]}/{evidence.sha256}-{finding.code}-{core.ENGINE_VERSION}.png"
    return default_storage.save(name, ContentFile(finding.artifact))
