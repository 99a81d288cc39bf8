"""The reuse-index benchmark runs end to end at a tiny size, so it cannot rot."""

import re
from io import StringIO

import pytest

from bench import index as bench

pytestmark = pytest.mark.django_db


def test_the_benchmark_finds_every_planted_near_duplicate_and_ends_with_its_summary():
    out = StringIO()
    results = bench.run([200, 400], count=21, linear_count=5, real=30, keypoint_sizes=(400,), pool=20, out=out)
    assert [r["recall"] for r in results] == [100.0, 100.0]
    assert results[-1]["kp_recall"] == 100.0 and results[-1]["kp_false"] == 0
    assert "keypoints (10 photographs x 6 transformations" in out.getvalue()
    assert all(r["found"] >= 21 for r in results)  # at least the planted one of each query
    last = out.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"index at 400: recall 100\.0%, p50 \d+\.\d ms, p99 \d+\.\d ms, ratio to 10\^4 \d+\.\d", last)


def test_keypoint_sizes_must_be_among_the_sizes():
    with pytest.raises(SystemExit) as raised:
        bench.main(["--sizes", "1000,5000", "--keypoint-sizes", "2000"])
    assert raised.value.code == 2


def test_sizes_must_increase():
    with pytest.raises(SystemExit) as raised:
        bench.main(["--sizes", "1000,500"])
    assert raised.value.code == 2
