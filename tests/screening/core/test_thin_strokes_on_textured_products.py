"""A stroke across a lattice or a blocky picture is boxed where its core stands clear of the texture.

The texture a copy re-renders beside a crack or a scratch raises the level its seeds must
clear, so that their median stands only 1.16-1.28 times above it, as the texture's own groups
do. The stroke's core still stands clear: its upper quartile and its residual are a painted
line's, not a re-rendered stitch's.
"""

from __future__ import annotations

import numpy as np

from screening.core import lines
from tests.screening.core.source_three import derived_box_iou, screened_forgery


def test_a_crack_on_enlarged_pixel_art_is_boxed(tmp_path):
    # Source 3's pixel-art product 9600-7: its crack's seeds at a median of 1.20 times their
    # level, the upper quartile at 3.2, 41 grey levels of residual; unboxed before.
    report, truth = screened_forgery(tmp_path, 9600, 7, "forgery-pixel-9600-7-1-crack")
    assert derived_box_iou(report, truth) >= 0.5


def test_a_scratch_on_a_mesh_is_boxed(tmp_path):
    # Source 3's mesh 9500-29: the scratch's seeds at 1.25, the upper quartile at 1.54.
    report, truth = screened_forgery(tmp_path, 9500, 29, "forgery-mesh-9500-29-0-scratch")
    assert derived_box_iou(report, truth) >= 0.5


def test_a_group_standing_clear_by_its_median_counts():
    assert lines._stands_clear(np.full(50, 1.35, np.float32), np.full(50, 5.0, np.float32))


def test_a_group_below_the_median_counts_only_with_a_visible_core():
    ratios = np.concatenate([np.full(30, 1.18), np.full(20, 1.6)]).astype(np.float32)
    assert lines._stands_clear(ratios, np.full(50, 30.0, np.float32))
    # The same ratios with the residual of a knit's faint re-rendered stitches.
    assert not lines._stands_clear(ratios, np.full(50, 6.0, np.float32))
    # A texture's group: its upper quartile hugs the median.
    flat = np.full(50, 1.2, np.float32)
    assert not lines._stands_clear(flat, np.full(50, 30.0, np.float32))
