"""Turn stored findings into a risk level under a platform's policy (DESIGN §5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from refunds.models import Policy
from refunds.states import RiskLevel

# Findings that, once above their threshold, mean the evidence is not a genuine new
# photograph of the received item. The rest (editing software, missing camera data,
# capture before delivery) make an application suspicious but prove nothing alone.
FORGERY_CODES = frozenset({
    "derived_from_reference", "local_edit", "near_duplicate", "aigc_label", "c2pa_ai_generated",
})


@dataclass(frozen=True)
class FindingView:
    code: str
    score: float
    detail: str


@dataclass(frozen=True)
class RiskAssessment:
    level: str
    score: float
    explanation: str


def assess(policy: Policy, findings: Iterable[FindingView]) -> RiskAssessment:
    """Return the risk of an application from all findings of all its evidence."""
    counted = [f for f in findings if f.score >= policy.threshold_for(f.code)]
    if not counted:
        return RiskAssessment(RiskLevel.CLEAN, 0.0, "")
    level = RiskLevel.FORGED if any(f.code in FORGERY_CODES for f in counted) else RiskLevel.SUSPICIOUS
    score = max(f.score for f in counted)
    explanation = "\n".join(f"[{f.code}] {f.detail}" for f in sorted(counted, key=lambda f: -f.score))
    return RiskAssessment(level, round(score, 4), explanation)
