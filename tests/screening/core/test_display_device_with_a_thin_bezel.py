"""A phone that is the product, photographed switched on, is not "a photograph of a screen" for a thin bezel.

Its own screen's fringes come near the footprint's outline when the bezel is thin; what tells
it from a screen showing the catalogue photo is the device's body around its reference.
"""

from __future__ import annotations

from tests.screening.core.source_three import screened_case


def test_an_honest_photograph_of_a_phone_with_a_thin_bezel_is_not_called_a_screen(tmp_path):
    # Source 3's phone 9500-35: a bezel 4 % of its width; its fringes read 1.1 times the
    # edge's limit and 1.2 times the border's, and it was called a screen (0.55).
    report = screened_case(tmp_path, 9500, 35, "screen-product-device-9500-35-0")
    assert report.verdict != "derived_from_reference"
    assert all(f.code != "derived_from_reference" for f in report.findings)


def test_a_screen_showing_a_gift_box_is_still_called_a_screen(tmp_path):
    # Source 3's gift box 9500-33 on a screen: frame 8.8 times the limit, fringes to the edge.
    report = screened_case(tmp_path, 9500, 33, "evasive-screen-giftbox-9500-33-0-tear")
    assert report.verdict == "derived_from_reference"
    assert "screen" in report.finding("derived_from_reference").detail
