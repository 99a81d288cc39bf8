"""Paint joined on the working plane with the outlines a copy re-rendered is boxed without them.

A copy of a picture with strong outlines (a snake's scales, a horse's silhouette) leaves
residual along them, above the level an edit is seeded at; paint laid across the picture
joins that residual into one region. As a whole the region is no outline (the paint lies off
the edges), but its box spans the outlines around the paint. Its pixels lie on steep
reference edges far more often than its box's do, and the box is drawn around those off them.
"""

from __future__ import annotations

import numpy as np

from screening.core.localise import _EDGE_JOINED_MARGIN, _off_outlines
from tests.screening.core.source_three import derived_box_iou, screened_forgery


def test_a_crack_across_a_snake_s_scales_is_boxed_without_the_scales_outlines(tmp_path):
    # Source 3's picture 9100-0: the scales' outlines joined the crack into a box of 504 x 460
    # px around a crack of 283 x 193 (IoU 0.24).
    report, truth = screened_forgery(tmp_path, 9100, 0, "forgery-picture-9100-0-0-crack")
    assert derived_box_iou(report, truth) >= 0.5


def test_a_region_on_edges_far_more_than_its_box_is_framed_by_its_pixels_off_them():
    on_edges = np.zeros((100, 100), bool)
    on_edges[:, 60:70] = True  # an outline, a tenth of the plane
    core = np.zeros((100, 100), bool)
    core[20:30, 10:30] = True  # paint off the outline
    core[0:100, 60:70] = True  # the outline's residual joined to it
    inside, around = on_edges[core], on_edges[0:100, 10:70]
    assert inside.mean() - around.mean() >= _EDGE_JOINED_MARGIN
    framing = _off_outlines(core, on_edges, inside, around)
    ys, xs = np.nonzero(framing)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (20, 29, 10, 29)


def test_a_region_lying_on_edges_as_often_as_its_box_keeps_its_box():
    # A tear on a busy pattern: steep edges everywhere, as many under the tear as around it.
    on_edges = np.zeros((100, 100), bool)
    on_edges[::2, :] = True
    core = np.zeros((100, 100), bool)
    core[20:60, 20:60] = True
    inside, around = on_edges[core], on_edges[20:60, 20:60]
    assert _off_outlines(core, on_edges, inside, around) is core
