"""A sliver of a smooth picture, magnified, is no proof of a copy: the pixels align a quiet patch
of a colour wheel onto any smooth photograph (a beige table under a knit once), so where neither
fine detail nor corners can be measured, the light vouches for a copy only of a larger share."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench import camera_path, synthetic
from screening.core import analyse_reference, screen_evidence
from screening.core.align import shown_share


@pytest.fixture(scope="module")
def wheel() -> np.ndarray:
    return camera_path.skimage_picture("colorwheel", np.random.default_rng(1))


def _magnified(wheel: np.ndarray, share: float, centre: tuple[float, float]) -> bytes:
    """Return a 1600-px JPEG of the square `share` of the wheel's area around `centre` (fractions)."""
    h, w = wheel.shape[:2]
    side = np.sqrt(share)
    x0, y0 = int((centre[0] - side / 2) * w), int((centre[1] - side / 2) * h)
    crop = wheel[y0 : y0 + int(side * h), x0 : x0 + int(side * w)]
    big = cv2.resize(crop, (1600, int(1600 * crop.shape[0] / crop.shape[1])), interpolation=cv2.INTER_CUBIC)
    grain = np.random.default_rng(2).normal(0, 2, big.shape)
    return synthetic.jpeg(np.clip(big + grain, 0, 255).astype(np.uint8), 90)


def _verdict(wheel: np.ndarray, data: bytes) -> str:
    return screen_evidence(
        data, references=[analyse_reference(synthetic.jpeg(wheel, 92))], with_artifacts=False
    ).verdict


def test_a_magnified_sliver_of_a_colour_wheel_s_smooth_part_is_not_called_a_copy(wheel):
    assert _verdict(wheel, _magnified(wheel, 0.022, (0.62, 0.35))) == "consistent"


def test_a_crop_of_a_seventh_of_the_colour_wheel_is_still_a_copy(wheel):
    assert _verdict(wheel, _magnified(wheel, 0.135, (0.45, 0.55))) == "derived_from_reference"


def test_the_share_shown_is_that_of_the_reference_inside_the_evidence_frame():
    # The evidence plane shows the reference's middle quarter, enlarged twice.
    homography = np.array([[2.0, 0, -100], [0, 2.0, -100], [0, 0, 1]])
    assert shown_share(homography, (200, 200), (200, 200)) == pytest.approx(0.25)
    # A small reference inside a large frame is shown whole.
    assert shown_share(np.eye(3), (100, 100), (400, 400)) == pytest.approx(1.0)
