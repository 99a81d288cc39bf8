"""A picture shown small on a screen is aligned by the evidence's keypoints on the finer plane.

A catalogue photo shown on a phone lying tilted on a table fills a fifth of the photograph, and
the screen's pixels spoil its corners: neither the working plane's keypoints nor those at half
size pair with the reference's. Where nothing paired at either size, the evidence's keypoints
are taken again on the finer plane, where the picture has four times as many pixels. What
pairs only there counts for a copy or a screen, not for the weaker finding of a resemblance.
"""

from __future__ import annotations

import numpy as np

from screening.core import screen
from screening.core.align import EVIDENCE_FEATURES
from tests.screening.core.source_three import screened_case


def test_a_gift_box_forgery_shown_small_on_a_phone_is_found(tmp_path):
    # Source 3's gift box 9600-17 on a phone tilted into the picture: no pairs at the working
    # plane or at half size; 50 on the finer plane.
    report = screened_case(tmp_path, 9600, 17, "evasive-screen-giftbox-9600-17-0-crack")
    assert report.verdict == "derived_from_reference"


def test_a_photograph_of_the_product_paired_only_on_the_finer_plane_is_not_said_to_resemble(tmp_path):
    # Source 3's mesh 9600-13 photographed: paired only on the finer plane (15 inliers), it read
    # as a new photograph, and its fine detail would have sent it to a person as resembling.
    report = screened_case(tmp_path, 9600, 13, "rephoto-mesh-9600-13-0")
    assert report.verdict != "derived_from_reference"
    assert report.finding("resembles_reference") is None


def test_the_finer_planes_keypoints_are_given_in_working_plane_pixels():
    rng = np.random.default_rng(5)
    working = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    finer = np.kron(working, np.ones((2, 2, 1), np.uint8))
    features = screen._finer_features(finer, (80, 60))
    assert features.size == (80, 60)
    assert len(features.points) <= 2 * EVIDENCE_FEATURES
    # A pixel centre of the finer plane, x = 2 u + 0.5, is the working plane's u.
    if len(features.points):
        assert features.points.min() >= -0.5
        assert features.points[:, 0].max() <= 80 and features.points[:, 1].max() <= 60
