"""A copy of a blocky or stitched picture is judged again low-passed when its own pixels, not a new photograph, fail it.

Enlarged pixel art and a mesh's stitches, resampled a fraction of a pixel off, scatter the
tile shifts and leave residual over the whole footprint, so that geometry or agreement reads
as a new photograph's would. Where the copy keeps one photometric map and shows no scene, the
comparison is made again with both planes low-passed, where every signal still has to hold.
"""

from __future__ import annotations

import pytest

from tests.screening.core.source_three import derived_box_iou, screened_forgery


@pytest.mark.parametrize(
    ("seed", "index", "name"),
    [
        # Source 3's pixel-art horse 9500-31: light 0.39 units, above the old limit of 0.28;
        # non-rigid residual 3.8 px from tile shifts on its flat insides and stepped outline.
        (9500, 31, "forgery-pixel-9500-31-0-tear"),
        # Source 3's mesh 9500-29: 78 corner pairs, every physical signal in, but only 0.03 of
        # its footprint explained by one transform: the stitches re-rendered decide agreement.
        (9500, 29, "forgery-mesh-9500-29-1-stain"),
    ],
    ids=["a tear on enlarged pixel art", "a stain on a mesh"],
)
def test_the_copy_is_found_and_its_damage_boxed(tmp_path, seed, index, name):
    report, truth = screened_forgery(tmp_path, seed, index, name)
    assert derived_box_iou(report, truth) >= 0.5
