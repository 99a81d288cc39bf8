"""A platform's policy: the one validator of its settings, and the risk it gives findings.

The policy decides which applications may be approved without a person, so the API, the
admin and the commands all validate a policy here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from refunds.states import RiskLevel
from screening.core import FORGERY_CODES, FindingCode, combined_risk

if TYPE_CHECKING:
    from refunds.models import Policy

# A merchant must have a real chance to answer before a window closes on its own, and a claim
# shorter than a minute would be released while the reviewer is still reading.
MIN_MERCHANT_WINDOW = timedelta(hours=1)
MAX_MERCHANT_WINDOW = timedelta(days=30)
MIN_CLAIM_TIMEOUT = timedelta(minutes=1)
MAX_CLAIM_TIMEOUT = timedelta(days=1)
MAX_FAST_TRACK_CEILING = Decimal("9999999999.99")


def _is_score(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def policy_validate(values: Mapping[str, Any]) -> None:
    """Check a complete set of policy settings; raise ValidationError naming each bad field."""
    errors: dict[str, Any] = {}
    window = values.get("merchant_window")
    if not isinstance(window, timedelta) or not MIN_MERCHANT_WINDOW <= window <= MAX_MERCHANT_WINDOW:
        errors["merchant_window"] = _("The merchant window must be between one hour and 30 days.")
    claim = values.get("claim_timeout")
    if not isinstance(claim, timedelta) or not MIN_CLAIM_TIMEOUT <= claim <= MAX_CLAIM_TIMEOUT:
        errors["claim_timeout"] = _("The claim timeout must be between one minute and one day.")
    review = values.get("review_time_limit")
    if not isinstance(review, timedelta) or not MIN_MERCHANT_WINDOW <= review <= MAX_MERCHANT_WINDOW:
        errors["review_time_limit"] = _("The review time limit must be between one hour and 30 days.")
    for name in ("fast_track_ceiling", "senior_amount_ceiling", "buyer_alert_amount"):
        ceiling = values.get(name)
        if (
            not isinstance(ceiling, Decimal)
            or not ceiling.is_finite()
            or not Decimal("0") <= ceiling <= MAX_FAST_TRACK_CEILING
        ):
            errors[name] = _("Give an amount of zero or more.")
    thresholds = values.get("finding_thresholds")
    if not isinstance(thresholds, dict) or not all(
        code in FindingCode.__members__.values() and _is_score(value) for code, value in thresholds.items()
    ):
        errors["finding_thresholds"] = _(
            'Give an object of known finding codes and scores between 0 and 1, e.g. {"editing_software": 0.7}.'
        )
    if not _is_score(values.get("default_threshold")):
        errors["default_threshold"] = _("Give a score between 0 and 1.")
    from refunds.models import currency_validator  # the models' one rule for currency codes

    currency = values.get("buyer_alert_currency")
    if not isinstance(currency, str) or not currency_validator.regex.fullmatch(currency):
        errors["buyer_alert_currency"] = currency_validator.message
    for flag in ("fast_track_enabled", "expiry_auto_approves", "buyer_risk_holds_for_review"):
        if not isinstance(values.get(flag), bool):
            errors[flag] = _("Give true or false.")
    if errors:
        raise ValidationError(errors)


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
