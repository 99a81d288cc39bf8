"""Forgeries of dark, nearly featureless catalogue photos: aligned, flagged and boxed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench import synthetic
from bench.accuracy import _boxes, union_iou
from screening.core import analyse_reference, screen_evidence


def _forgeries(name: str, seed: int, count: int):
    """Yield (reference bytes, evidence bytes, true boxes) of damaged, rescaled JPEG copies of a crop of `name`."""
    rng = np.random.default_rng(seed)
    img = synthetic.photo(name)
    img = img if img.ndim == 3 else np.stack([img] * 3, axis=2)
    h, w = img.shape[:2]
    for _ in range(count):
        cw, ch = int(w * rng.uniform(0.6, 0.9)), int(h * rng.uniform(0.6, 0.9))
        x, y = int(rng.uniform(0, w - cw)), int(rng.uniform(0, h - ch))
        crop = np.ascontiguousarray(img[y : y + ch, x : x + cw])
        while True:
            edited, mask = synthetic.paint_damage(crop, rng)
            if mask.mean() >= 0.002:
                break
        k = float(rng.uniform(0.8, 1.4))
        size = (round(cw * k), round(ch * k))
        out = cv2.resize(edited, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
        m = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        yield synthetic.jpeg(crop, 92), synthetic.jpeg(out, int(rng.integers(75, 96))), _boxes(m)


@pytest.mark.parametrize("name", ["clock", "moon"])
def test_forgeries_of_dark_smooth_photos_are_flagged_and_boxed(name):
    flagged, boxed = 0, 0
    cases = list(_forgeries(name, seed=7, count=6))
    for ref, evidence, truth in cases:
        report = screen_evidence(evidence, references=[analyse_reference(ref)], with_artifacts=False)
        flagged += report.verdict == "derived_from_reference"
        edit = report.finding("local_edit")
        regions = list(edit.regions) if edit else []
        boxed += union_iou(truth, regions, report.width, report.height) >= 0.5
    assert flagged == len(cases), f"{flagged}/{len(cases)} flagged"
    assert boxed >= len(cases) - 1, f"{boxed}/{len(cases)} boxed at IoU >= 0.5"
