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
