"""Combine findings into a verdict and a risk in [0, 1].

Risk is a weighted noisy-OR: risk = 1 - prod(1 - weight[code] * score). Each finding
is treated as an independent chance that the evidence is not an honest photo of the
delivered item; weights say how much of that a finding of full score is worth. A
derived image with a painted edit therefore scores higher than either alone, and the
weak `no_camera_metadata` (screenshots, messaging apps strip EXIF) adds only a little.
"""

from __future__ import annotations

from collections.abc import Sequence

from .report import Finding

__all__ = ["RISK_WEIGHTS", "combine"]

RISK_WEIGHTS: dict[str, float] = {
    "derived_from_reference": 1.0,
    "local_edit": 1.0,
    "aigc_label": 1.0,
    "c2pa_ai_generated": 1.0,
    "captured_before_delivery": 0.8,
    "editing_software": 0.5,
    "no_camera_metadata": 0.5,
    "unreadable": 0.0,
}


def combine(findings: Sequence[Finding]) -> tuple[str, float]:
    """Return (verdict, risk) for a list of findings."""
    codes = {f.code for f in findings}
    if "unreadable" in codes:
        # Risk 1: evidence that could not be screened must never look clean to a policy.
        return "unreadable", 1.0
    keep = 1.0
    for f in findings:
        keep *= 1.0 - RISK_WEIGHTS.get(f.code, 0.5) * min(max(f.score, 0.0), 1.0)
    risk = round(min(max(1.0 - keep, 0.0), 1.0), 4)
    verdict = "derived_from_reference" if "derived_from_reference" in codes else "consistent"
    return verdict, risk
