"""Comparing evidence with an earlier claim's image: the same copy decision as screening
against it as a reference, without the costly readings a reuse does not ask for."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic
from screening.core import (
    FindingCode,
    Verdict,
    analyse_reference,
    compare_for_reuse,
    decode_image,
    screen_decoded,
)

EARLIER = synthetic.photo("coffee")


def _pair(evidence: bytes) -> tuple[object, object]:
    return decode_image(evidence), analyse_reference(synthetic.jpeg(EARLIER, 90))


def test_a_re_saved_smaller_copy_is_the_earlier_picture_with_nothing_boxed():
    small = synthetic.jpeg(np.ascontiguousarray(EARLIER[::2, ::2]), 70)
    comparison = compare_for_reuse(*_pair(small))
    assert comparison.derived and comparison.regions == ()


def test_painted_damage_on_the_earlier_picture_is_boxed_where_screening_boxes_it():
    painted, mask = synthetic.paint_damage(EARLIER, np.random.default_rng(2))
    decoded, earlier = _pair(synthetic.jpeg(painted, 85))
    comparison = compare_for_reuse(decoded, earlier)
    assert comparison.derived and comparison.regions
    ys, xs = np.nonzero(mask)
    assert any(x <= xs.mean() <= x + w and y <= ys.mean() <= y + h for x, y, w, h in comparison.regions)
    report = screen_decoded(decoded, references=[earlier], with_artifacts=False)
    assert report.verdict == Verdict.DERIVED_FROM_REFERENCE
    assert report.finding(FindingCode.LOCAL_EDIT) is not None


@pytest.mark.parametrize("seed", [0, 1])
def test_a_new_photograph_of_the_printed_picture_is_not_the_earlier_picture(seed):
    honest, _ = synthetic.rephotograph(EARLIER, synthetic.photo("brick"), np.random.default_rng(seed))
    decoded, earlier = _pair(honest)
    assert compare_for_reuse(decoded, earlier).derived is False
    assert screen_decoded(decoded, references=[earlier], with_artifacts=False).verdict == Verdict.CONSISTENT


def test_a_photograph_of_a_screen_showing_the_earlier_picture_is_the_earlier_picture():
    # Read on the working plane, as screening reads it first (seed 1500 is tuning material).
    data, _, _ = synthetic.screen_photo(EARLIER, np.zeros(EARLIER.shape[:2], bool), np.random.default_rng(1500))
    decoded, earlier = _pair(data)
    assert compare_for_reuse(decoded, earlier).derived
