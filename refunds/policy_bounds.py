"""The bounds of a platform's policy and the one validator of its settings.

The policy decides which applications may be approved without a person, so the API, the
admin, the commands and the model itself validate a policy here and nowhere else; the API's
patterns and help texts are made from the same constants.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from refunds.errors import ErrorCode
from screening.core import FindingCode

# The one rule for currency codes, of applications and of the policy's alert amount.
currency_validator = RegexValidator(r"^[A-Z]{3}$", _("Use a three-letter ISO 4217 currency code, e.g. CNY."))

# A merchant must have a real chance to answer before a window closes on its own, and a claim
# shorter than a minute would be released while the reviewer is still reading.
MIN_MERCHANT_WINDOW = timedelta(hours=1)
MAX_MERCHANT_WINDOW = timedelta(days=30)
MIN_CLAIM_TIMEOUT = timedelta(minutes=1)
MAX_CLAIM_TIMEOUT = timedelta(days=1)
MIN_AMOUNT = Decimal("0")
MAX_FAST_TRACK_CEILING = Decimal("9999999999.99")
# An appeal window of at least a day, so a party told of a decision at night can still answer;
# a year at most, since an appeal reopens a refund that has long been paid out.
MIN_APPEAL_WINDOW_DAYS = 1
MAX_APPEAL_WINDOW_DAYS = 365
# A buyer asked for a second photo needs at least an hour to take it; after a week the
# review has waited long enough, and the reviewer decides on what there is.
MIN_SECOND_PHOTO_WINDOW = timedelta(hours=1)
MAX_SECOND_PHOTO_WINDOW = timedelta(days=7)
# The share of reviewers' decisions sampled for a blind second review: none to all, in
# hundredths of a percent at the finest (the field's four decimal places).
MIN_QA_SAMPLE_RATE = Decimal("0")
MAX_QA_SAMPLE_RATE = Decimal("1")
QA_SAMPLE_RATE_PLACES = 4
# The API's pattern for that share: "0" to "1" as a string, at most four decimals.
QA_SAMPLE_RATE_PATTERN = (
    rf"^(?:{MIN_QA_SAMPLE_RATE}(?:\.[0-9]{{1,{QA_SAMPLE_RATE_PLACES}}})?"
    rf"|{MAX_QA_SAMPLE_RATE}(?:\.0{{1,{QA_SAMPLE_RATE_PLACES}}})?)$"
)
# A finding's score and a threshold on it (screening.core scores from 0 to 1).
MIN_SCORE = 0
MAX_SCORE = 1


def _is_score(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and MIN_SCORE <= value <= MAX_SCORE


def duration_text(duration: timedelta) -> str:
    """Return a whole number of days, hours or minutes in the active language ("30 days", "30 天")."""
    seconds = int(duration.total_seconds())
    if seconds % 86400 == 0:
        return ngettext("%(n)d day", "%(n)d days", seconds // 86400) % {"n": seconds // 86400}
    if seconds % 3600 == 0:
        return ngettext("%(n)d hour", "%(n)d hours", seconds // 3600) % {"n": seconds // 3600}
    return ngettext("%(n)d minute", "%(n)d minutes", seconds // 60) % {"n": seconds // 60}


def _refusal(code: ErrorCode, minimum: object, maximum: object) -> ValidationError:
    return ValidationError(code.text(minimum=minimum, maximum=maximum), code=code.value)


def _durations(code: ErrorCode, minimum: timedelta, maximum: timedelta) -> ValidationError:
    return _refusal(code, duration_text(minimum), duration_text(maximum))


def policy_validate(values: Mapping[str, Any]) -> None:
    """Check a complete set of policy settings; raise ValidationError naming each bad field."""
    errors: dict[str, Any] = {}
    window = values.get("merchant_window")
    if not isinstance(window, timedelta) or not MIN_MERCHANT_WINDOW <= window <= MAX_MERCHANT_WINDOW:
        errors["merchant_window"] = _durations(
            ErrorCode.MERCHANT_WINDOW_OUT_OF_BOUNDS, MIN_MERCHANT_WINDOW, MAX_MERCHANT_WINDOW
        )
    claim = values.get("claim_timeout")
    if not isinstance(claim, timedelta) or not MIN_CLAIM_TIMEOUT <= claim <= MAX_CLAIM_TIMEOUT:
        errors["claim_timeout"] = _durations(
            ErrorCode.CLAIM_TIMEOUT_OUT_OF_BOUNDS, MIN_CLAIM_TIMEOUT, MAX_CLAIM_TIMEOUT
        )
    review = values.get("review_time_limit")
    if not isinstance(review, timedelta) or not MIN_MERCHANT_WINDOW <= review <= MAX_MERCHANT_WINDOW:
        errors["review_time_limit"] = _durations(
            ErrorCode.REVIEW_TIME_LIMIT_OUT_OF_BOUNDS, MIN_MERCHANT_WINDOW, MAX_MERCHANT_WINDOW
        )
    second = values.get("second_photo_window")
    if not isinstance(second, timedelta) or not MIN_SECOND_PHOTO_WINDOW <= second <= MAX_SECOND_PHOTO_WINDOW:
        errors["second_photo_window"] = _durations(
            ErrorCode.SECOND_PHOTO_WINDOW_OUT_OF_BOUNDS, MIN_SECOND_PHOTO_WINDOW, MAX_SECOND_PHOTO_WINDOW
        )
    days = values.get("appeal_window_days")
    if (
        not isinstance(days, int)
        or isinstance(days, bool)
        or not MIN_APPEAL_WINDOW_DAYS <= days <= MAX_APPEAL_WINDOW_DAYS
    ):
        errors["appeal_window_days"] = _refusal(
            ErrorCode.APPEAL_WINDOW_OUT_OF_BOUNDS, MIN_APPEAL_WINDOW_DAYS, MAX_APPEAL_WINDOW_DAYS
        )
    rate = values.get("qa_sample_rate")
    if (
        not isinstance(rate, Decimal)
        or not rate.is_finite()
        or not MIN_QA_SAMPLE_RATE <= rate <= MAX_QA_SAMPLE_RATE
        or rate != rate.quantize(Decimal(1).scaleb(-QA_SAMPLE_RATE_PLACES))
    ):
        errors["qa_sample_rate"] = _refusal(
            ErrorCode.QA_SAMPLE_RATE_OUT_OF_BOUNDS, MIN_QA_SAMPLE_RATE, MAX_QA_SAMPLE_RATE
        )
    for name in ("fast_track_ceiling", "senior_amount_ceiling", "buyer_alert_amount"):
        ceiling = values.get(name)
        if (
            not isinstance(ceiling, Decimal)
            or not ceiling.is_finite()
            or not MIN_AMOUNT <= ceiling <= MAX_FAST_TRACK_CEILING
        ):
            errors[name] = _refusal(ErrorCode.POLICY_AMOUNT_OUT_OF_BOUNDS, MIN_AMOUNT, MAX_FAST_TRACK_CEILING)
    thresholds = values.get("finding_thresholds")
    if not isinstance(thresholds, dict) or not all(
        code in FindingCode.__members__.values() and _is_score(value) for code, value in thresholds.items()
    ):
        errors["finding_thresholds"] = _refusal(ErrorCode.INVALID_FINDING_THRESHOLDS, MIN_SCORE, MAX_SCORE)
    if not _is_score(values.get("default_threshold")):
        errors["default_threshold"] = _refusal(ErrorCode.POLICY_SCORE_OUT_OF_BOUNDS, MIN_SCORE, MAX_SCORE)
    currency = values.get("buyer_alert_currency")
    if not isinstance(currency, str) or not currency_validator.regex.fullmatch(currency):
        errors["buyer_alert_currency"] = currency_validator.message
    for flag in (
        "fast_track_enabled",
        "expiry_auto_approves",
        "buyer_risk_holds_for_review",
        "second_photo_for_uncertain",
    ):
        if not isinstance(values.get(flag), bool):
            errors[flag] = _("Give true or false.")
    if errors:
        raise ValidationError(errors)


def duration_words(duration: timedelta) -> str:
    """Return a whole number of days, hours or minutes in English words, for help texts."""
    seconds = int(duration.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds} seconds"


def _one_of(numbers: range) -> str:
    return "(?:" + "|".join(str(n) for n in numbers) + ")"


def duration_pattern(minimum: timedelta, maximum: timedelta) -> str:
    """Return the pattern of ``[D ]HH:MM:SS`` durations from ``minimum`` to ``maximum`` inclusive,
    for a minimum of a whole minute or hour under a day and a maximum of whole days."""
    if (
        maximum.days < 1
        or maximum != timedelta(days=maximum.days)
        or minimum
        not in (
            timedelta(minutes=1),
            timedelta(hours=1),
        )
    ):
        raise ValueError("a minimum of one minute or one hour and a maximum of whole days")
    clock_any = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    if minimum == timedelta(hours=1):
        under_a_day = r"(?:0[1-9]|1[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    else:
        under_a_day = r"(?:(?:0[1-9]|1[0-9]|2[0-3]):[0-5][0-9]|00:(?:0[1-9]|[1-5][0-9])):[0-5][0-9]"
    whole_days = [under_a_day]
    if maximum.days > 1:
        whole_days.append(f"{_one_of(range(1, maximum.days))} {clock_any}")
    whole_days.append(f"{maximum.days} 00:00:00")
    return "^(?:" + "|".join(whole_days) + ")$"
