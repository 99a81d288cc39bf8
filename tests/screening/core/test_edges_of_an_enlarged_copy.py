"""Damage painted on a hard-edged catalogue picture enlarged by nearest neighbour: only the damage is boxed.

An editor that enlarges a drawn picture (here source 3's horse silhouette) by repeating
its pixels leaves steps along every edge that no blur of the reference reproduces; the
residual then follows the picture's own outline, and used to be boxed as one region as
large as the picture. The paint is boxed; the outline is not.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench import camera_path, synthetic
from bench.accuracy import union_iou
from screening.core import analyse_reference, screen_evidence
from tests.screening.core.test_thin_damage import boxed_iou, hairline_crack


@pytest.fixture(scope="module")
def silhouette() -> np.ndarray:
    """Source 3's tuning-half picture of a horse: two flat colours, hard-edged."""
    return camera_path.make_product(8100, 16).image


@pytest.fixture(scope="module")
def reference(silhouette: np.ndarray):
    return analyse_reference(synthetic.jpeg(silhouette, 92))


def enlarged(picture: np.ndarray, long_side: int, seed: int) -> np.ndarray:
    """The picture enlarged by repeating its pixels, with a little grain, as source 3's forgers export it."""
    h, w = picture.shape[:2]
    k = long_side / max(h, w)
    big = cv2.resize(picture, (round(w * k), round(h * k)), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    grain = np.random.default_rng(seed).normal(0, 2.0, big.shape[:2] + (1,))
    return np.clip(big + grain, 0, 255).astype(np.uint8)


def test_a_crack_on_an_enlarged_silhouette_is_boxed_without_the_outline(silhouette, reference):
    big = enlarged(silhouette, 3200, 1)
    centre, size = (0.45 * big.shape[1], 0.45 * big.shape[0]), 0.12 * big.shape[0]
    painted, mask = hairline_crack(big, np.random.default_rng(3), centre, size)
    report = screen_evidence(synthetic.jpeg(painted, 90), references=[reference])
    assert report.verdict == "derived_from_reference"
    assert boxed_iou(report, mask) >= 0.5


def test_the_enlarged_silhouette_without_damage_has_no_box(silhouette, reference):
    report = screen_evidence(synthetic.jpeg(enlarged(silhouette, 3200, 4), 80), references=[reference])
    assert report.verdict == "derived_from_reference"
    assert report.finding("local_edit") is None


def _redrawn(seed: int, index: int, kinds: tuple[str, ...]):
    """Return (report, truth box) of the last of `kinds` drawn again on a product of source 3's tuning
    half (the product's own stream 3, one damage after another, as each forgery draws its own)."""
    product = camera_path.make_product(seed, index)
    rng = np.random.default_rng([seed, index, 3])
    for kind in kinds:
        edited, mask = camera_path.forged(product, kind, rng)
        img, m = camera_path._crop_keep(edited, mask, rng, 0.02)
        data, _, _ = camera_path.encode(img, rng, (82, 95))
    reference = analyse_reference(synthetic.jpeg(product.image, 92))
    return screen_evidence(data, references=[reference], with_artifacts=False), camera_path.damage_box(m)


@pytest.mark.parametrize(
    ("seed", "index", "kinds"),
    [(8500, 32, ("crack",)), (8500, 12, ("crack", "scratch"))],
    ids=["crack-beside-a-stepped-ring", "scratch-beside-a-flower-s-outlines"],
)
def test_dots_along_an_enlarged_picture_s_own_edges_are_not_boxed_beside_the_damage(seed, index, kinds):
    # Each dot the steps leave along a hard edge is too small a piece to be judged on its
    # own; the join chained them into boxes beside the damage (union IoU 0.36 and 0.37).
    report, truth = _redrawn(seed, index, kinds)
    assert report.verdict == "derived_from_reference"
    edit = report.finding("local_edit")
    assert edit is not None
    assert union_iou([truth], list(edit.regions), report.width, report.height) >= 0.5


def test_a_woven_label_s_frame_line_is_not_boxed_around_a_scratch():
    # The label's thin border, re-rendered a pixel off, left a residual ring that the working
    # plane boxed as one region around the whole picture (union IoU 0.01).
    report, truth = _redrawn(8500, 22, ("crack", "scratch"))
    assert report.verdict == "derived_from_reference"
    edit = report.finding("local_edit")
    assert edit is not None
    assert union_iou([truth], list(edit.regions), report.width, report.height) >= 0.5
