"""The reuse index: find earlier evidence that is a near-duplicate of a new image."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from refunds.models import Evidence
from screening.models import EvidenceFingerprint

BAND_BITS = 16
BANDS = 4
# Perceptual hashes of one photo re-encoded, resized or lightly re-coloured stay within a few
# bits; unrelated photos sit around 32. Six bits keeps re-saved copies and no strangers.
NEAR_DUPLICATE_BITS = 6
# An earlier image seen by thousands of applications (a stock photo) must not make one lookup slow.
CANDIDATE_LIMIT = 500


def _bands(phash: int) -> list[int]:
    return [(phash >> (BAND_BITS * i)) & 0xFFFF for i in range(BANDS)]


def _within_one_bit(band: int) -> list[int]:
    return [band] + [band ^ (1 << k) for k in range(BAND_BITS)]


def _signed(phash: int) -> int:
    return phash - (1 << 64) if phash >= (1 << 63) else phash


@dataclass(frozen=True)
class Match:
    evidence: Evidence
    distance: int


def fingerprint_store(*, evidence: Evidence, phash: int) -> EvidenceFingerprint:
    """Record the image's hash (once; a second delivery of the task finds it stored)."""
    b0, b1, b2, b3 = _bands(phash)
    fingerprint, _ = EvidenceFingerprint.objects.get_or_create(
        evidence=evidence,
        defaults={"platform_id": evidence.application.platform_id, "application_id": evidence.application_id,
                  "phash": _signed(phash), "band0": b0, "band1": b1, "band2": b2, "band3": b3,
                  "created_at": evidence.created_at},
    )
    return fingerprint


def near_duplicates(*, evidence: Evidence, phash: int, max_distance: int = NEAR_DUPLICATE_BITS) -> list[Match]:
    """Return earlier evidence of the same platform, from other applications, whose hash is within
    max_distance bits, closest first."""
    b = _bands(phash)
    candidates = (
        EvidenceFingerprint.objects.filter(platform_id=evidence.application.platform_id)
        .filter(Q(band0__in=_within_one_bit(b[0])) | Q(band1__in=_within_one_bit(b[1]))
                | Q(band2__in=_within_one_bit(b[2])) | Q(band3__in=_within_one_bit(b[3])))
        .exclude(application_id=evidence.application_id)
        .filter(created_at__lte=evidence.created_at)
        .select_related("evidence__application")
        .order_by("created_at")[:CANDIDATE_LIMIT]
    )
    matches = []
    for candidate in candidates:
        distance = ((candidate.phash & 0xFFFFFFFFFFFFFFFF) ^ phash).bit_count()
        if distance <= max_distance:
            matches.append(Match(candidate.evidence, distance))
    return sorted(matches, key=lambda m: (m.distance, m.evidence.created_at))
