"""A platform's policy applied: the risk it gives an application's findings.

Its settings' bounds and their one validator are in ``refunds.policy_bounds``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from refunds.states import RiskLevel
from screening.core import FORGERY_CODES, combined_risk

if TYPE_CHECKING:
    from refunds.models import Policy


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
    # The engine's one rule for turning scores into a risk, over the findings that count.
    score = combined_risk(counted)
    explanation = "\n".join(f"[{f.code}] {f.detail}" for f in sorted(counted, key=lambda f: -f.score))
    return RiskAssessment(level, score, explanation)
