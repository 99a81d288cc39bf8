"""screening.core.order reads medians and percentiles at numpy's values to the bit, ties, zeros,
infinities and NaNs included."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from screening.core import order


def _samples(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for size in (1, 2, 3, 4, 5, 10, 11, 999, 1000, 23104):
        for dtype in (np.float32, np.float64):
            values = rng.random(size) * 255
            out.append(values.astype(dtype))
            out.append(np.maximum(values - 128, 0).astype(dtype))  # a residual: zeros, then a tail
            out.append((np.round(values / 32) * 32).astype(dtype))  # ties
    with_inf = rng.random(50).astype(np.float32)
    with_inf[7] = np.inf
    with_nan = rng.random(50).astype(np.float32)
    with_nan[9] = np.nan
    tile = np.maximum(rng.normal(0, 3, (152, 152)), 0).astype(np.float32)
    return [*out, with_inf, with_nan, tile]


def test_medians_are_numpys_to_the_bit():
    for values in _samples(1):
        expected = float(np.median(values))
        found = order.median(values)
        assert found == expected or (np.isnan(found) and np.isnan(expected))


@pytest.mark.parametrize("q", [0, 0.5, 10, 25, 50, 75, 90, 99.5, 100])
def test_percentiles_are_numpys_to_the_bit(q):
    for values in _samples(2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # inf - inf on the way, in numpy too
            expected = np.percentile(values, q)
            found = order.percentile(values, q)
        assert type(found) is type(expected)
        assert found == expected or (np.isnan(found) and np.isnan(expected))
