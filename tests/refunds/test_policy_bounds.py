"""The policy's bounds: the API's duration patterns and the validator's messages are made from the
same constants, so they agree everywhere."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.duration import duration_string

from refunds import policy_bounds
from refunds.api.serializers import CLAIM_TIMEOUT, MERCHANT_WINDOW
from refunds.errors import ErrorCode
from refunds.policy_bounds import (
    MAX_CLAIM_TIMEOUT,
    MAX_MERCHANT_WINDOW,
    MIN_CLAIM_TIMEOUT,
    MIN_MERCHANT_WINDOW,
    duration_pattern,
    policy_validate,
)

SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("pattern", "low", "high"),
    [
        (MERCHANT_WINDOW, MIN_MERCHANT_WINDOW, MAX_MERCHANT_WINDOW),
        (CLAIM_TIMEOUT, MIN_CLAIM_TIMEOUT, MAX_CLAIM_TIMEOUT),
    ],
)
def test_the_api_pattern_takes_exactly_the_policy_bounds(pattern, low, high):
    for duration in (low, low + SECOND, timedelta(hours=5), timedelta(days=1), high - SECOND, high):
        if low <= duration <= high:
            assert re.fullmatch(pattern, duration_string(duration)), duration
    for duration in (low - SECOND, high + SECOND, high + timedelta(days=1)):
        assert not re.fullmatch(pattern, duration_string(duration)), duration


def test_a_duration_pattern_refuses_bounds_it_cannot_state():
    with pytest.raises(ValueError):
        duration_pattern(timedelta(minutes=5), timedelta(days=2))
    with pytest.raises(ValueError):
        duration_pattern(timedelta(hours=1), timedelta(hours=36))


def valid_policy(**changes):
    values = {
        "merchant_window": timedelta(days=2),
        "claim_timeout": timedelta(minutes=30),
        "review_time_limit": timedelta(days=3),
        "fast_track_ceiling": Decimal("100"),
        "senior_amount_ceiling": Decimal("1000"),
        "buyer_alert_amount": Decimal("500"),
        "finding_thresholds": {},
        "default_threshold": 0.5,
        "buyer_alert_currency": "CNY",
        "fast_track_enabled": True,
        "expiry_auto_approves": True,
        "buyer_risk_holds_for_review": True,
        "appeal_window_days": 30,
        "second_photo_window": timedelta(hours=72),
        "second_photo_for_uncertain": False,
        "qa_sample_rate": Decimal("0.05"),
    }
    return {**values, **changes}


def refusal(**changes):
    with pytest.raises(ValidationError) as caught:
        policy_validate(valid_policy(**changes))
    return {field: (errors[0].code, errors[0].messages[0]) for field, errors in caught.value.error_dict.items()}


def test_a_valid_policy_passes():
    policy_validate(valid_policy())


@pytest.mark.parametrize(
    ("language", "window", "claim", "amount", "score"),
    [
        (
            "en",
            "The merchant window must be between 1 hour and 30 days.",
            "The claim timeout must be between 1 minute and 1 day.",
            "Give an amount from 0 to 9999999999.99.",
            "Give a score between 0 and 1.",
        ),
        (
            "zh-hans",
            "商家回应时限必须在 1 小时 到 30 天 之间。",
            "认领超时必须在 1 分钟 到 1 天 之间。",
            "请填写 0 到 9999999999.99 之间的金额。",
            "请填写 0 到 1 之间的分数。",
        ),
    ],
)
def test_each_refusal_states_its_bounds_in_the_language_asked(language, window, claim, amount, score):
    with translation.override(language):
        errors = refusal(
            merchant_window=timedelta(days=31),
            claim_timeout=timedelta(seconds=30),
            review_time_limit=timedelta(minutes=59),
            fast_track_ceiling=Decimal("-1"),
            default_threshold=1.5,
        )
    assert errors["merchant_window"] == (ErrorCode.MERCHANT_WINDOW_OUT_OF_BOUNDS, window)
    assert errors["claim_timeout"] == (ErrorCode.CLAIM_TIMEOUT_OUT_OF_BOUNDS, claim)
    assert errors["review_time_limit"][0] == ErrorCode.REVIEW_TIME_LIMIT_OUT_OF_BOUNDS
    assert errors["fast_track_ceiling"] == (ErrorCode.POLICY_AMOUNT_OUT_OF_BOUNDS, amount)
    assert errors["default_threshold"] == (ErrorCode.POLICY_SCORE_OUT_OF_BOUNDS, score)


@pytest.mark.parametrize("days", [0, 366, 30.0, True, None])
def test_the_appeal_window_is_a_whole_number_of_days_from_one_to_a_year(days):
    with translation.override("en"):
        errors = refusal(appeal_window_days=days)
    assert errors["appeal_window_days"] == (
        ErrorCode.APPEAL_WINDOW_OUT_OF_BOUNDS,
        "The appeal window must be from 1 to 365 days.",
    )


def test_a_refusal_takes_its_bound_from_the_constant_not_from_its_own_words(monkeypatch):
    monkeypatch.setattr(policy_bounds, "MAX_MERCHANT_WINDOW", timedelta(days=14))
    with translation.override("en"):
        code, message = refusal(merchant_window=timedelta(days=15))["merchant_window"]
    assert message == "The merchant window must be between 1 hour and 14 days."


@pytest.mark.parametrize(
    "rate", [Decimal("-0.01"), Decimal("1.0001"), Decimal("0.00001"), Decimal("NaN"), 0.05, "0.05"]
)
def test_the_share_of_second_reviews_is_a_decimal_from_zero_to_one(rate):
    with translation.override("en"):
        errors = refusal(qa_sample_rate=rate)
    assert errors["qa_sample_rate"] == (
        ErrorCode.QA_SAMPLE_RATE_OUT_OF_BOUNDS,
        "The share of decisions reviewed again must be from 0 to 1.",
    )


@pytest.mark.parametrize("rate", [Decimal("0"), Decimal("0.05"), Decimal("0.0001"), Decimal("1")])
def test_every_share_from_none_to_all_passes(rate):
    policy_validate(valid_policy(qa_sample_rate=rate))
