"""Combine findings into a verdict and a risk in [0, 1].

Risk is a weighted noisy-OR: risk = 1 - prod(1 - weight[code] * score). Each finding
is treated as an independent chance that the evidence is not an honest photo of the
delivered item; weights say how much of that a finding of full score is worth. A
derived image with a painted edit therefore scores higher than either alone, and the
weak `no_camera_metadata` (screenshots, messaging apps strip EXIF) adds only a little.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .report import Finding, FindingCode, Verdict

__all__ = ["RISK_WEIGHTS", "combine", "combined_risk"]

RISK_WEIGHTS: dict[str, float] = {
    FindingCode.DERIVED_FROM_REFERENCE: 1.0,
    FindingCode.LOCAL_EDIT: 1.0,
    FindingCode.NEAR_DUPLICATE: 1.0,
    FindingCode.AIGC_LABEL: 1.0,
    FindingCode.C2PA_AI_GENERATED: 1.0,
    FindingCode.CAPTURED_BEFORE_DELIVERY: 0.8,
    # A resemblance is what an honest photograph of a flat product (a card, a print of the
    # catalogue picture) also shows; it sends the application to a person, worth less than
    # the weakest metadata sign, and is never a forgery (not in FORGERY_CODES).
    FindingCode.RESEMBLES_REFERENCE: 0.4,
    # Damaged metadata is not proof of forgery, but a camera does not write it.
    FindingCode.MALFORMED_METADATA: 0.8,
    FindingCode.EDITING_SOFTWARE: 0.5,
    FindingCode.NO_CAMERA_METADATA: 0.5,
    FindingCode.UNREADABLE: 0.0,
    # As much as a resemblance: the same honest flat item that resembles its catalogue photo
    # also reads flat from two angles.
    FindingCode.SECOND_VIEW_INCONSISTENT: 0.4,
}


class Scored(Protocol):
    """Anything with a finding code and a score (a Finding, or a stored finding's view)."""

    @property
    def code(self) -> str: ...
    @property
    def score(self) -> float: ...


def combined_risk(findings: Sequence[Scored]) -> float:
    """Return the weighted noisy-OR of the findings' scores, in [0, 1]; 1 if any is unreadable.

    The one rule by which scores become a risk: the engine, the worker (which adds
    reuse findings) and the policy all call it.
    """
    if any(f.code == FindingCode.UNREADABLE for f in findings):
        # Evidence that could not be screened must never look clean to a policy.
        return 1.0
    keep = 1.0
    for f in findings:
        keep *= 1.0 - RISK_WEIGHTS.get(f.code, 0.5) * min(max(float(f.score), 0.0), 1.0)
    return round(min(max(1.0 - keep, 0.0), 1.0), 4)


def combine(findings: Sequence[Finding]) -> tuple[str, float]:
    """Return (verdict, risk) for a list of findings."""
    codes = {f.code for f in findings}
    risk = combined_risk(findings)
    if FindingCode.UNREADABLE in codes:
        return Verdict.UNREADABLE, risk
    verdict = Verdict.DERIVED_FROM_REFERENCE if FindingCode.DERIVED_FROM_REFERENCE in codes else Verdict.CONSISTENT
    return verdict, risk
