"""A stain painted on a knitted product's photograph, enlarged to a phone's size, is boxed.

A translucent stain over a knit changes every stitch by a little: on the working plane
its residual (about 15 grey levels) stays under the edit floor that the knit's own
re-rendering keeps clear of, but it fills a wide patch, which no re-rendered lattice does.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import camera_path, synthetic
from bench.accuracy import union_iou
from screening.core import analyse_reference, screen_evidence


@pytest.fixture(scope="module")
def knit():
    """Source 3's tuning-half knitted product and its catalogue reference."""
    product = camera_path.make_product(7000, 18)
    return product, analyse_reference(synthetic.jpeg(product.image, 92))


def test_a_faint_stain_on_an_enlarged_knit_is_boxed(knit):
    product, reference = knit
    stained, mask = camera_path.forged(product, "stain", np.random.default_rng(2))
    report = screen_evidence(synthetic.jpeg(stained, 90), references=[reference])
    assert report.verdict == "derived_from_reference"
    edit = report.finding("local_edit")
    assert edit is not None
    assert union_iou([camera_path.damage_box(mask)], list(edit.regions), report.width, report.height) >= 0.5


def test_the_enlarged_knit_without_a_stain_has_no_box(knit):
    product, reference = knit
    rng = np.random.default_rng(2)
    big = camera_path._fit(product.image, 3600).astype(np.float32)
    big = np.clip(big + rng.normal(0, 2.0, big.shape[:2] + (1,)), 0, 255).astype(np.uint8)
    report = screen_evidence(synthetic.jpeg(big, 90), references=[reference])
    assert report.verdict == "derived_from_reference"
    assert report.finding("local_edit") is None
