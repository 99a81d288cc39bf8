"""The API's duration patterns are made from the policy's bounds, so they agree everywhere."""

import re
from datetime import timedelta

import pytest
from django.utils.duration import duration_string

from refunds.api.serializers import CLAIM_TIMEOUT, MERCHANT_WINDOW
from refunds.policy_bounds import (
    MAX_CLAIM_TIMEOUT,
    MAX_MERCHANT_WINDOW,
    MIN_CLAIM_TIMEOUT,
    MIN_MERCHANT_WINDOW,
    duration_pattern,
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
