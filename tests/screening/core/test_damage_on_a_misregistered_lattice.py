"""Damage on a lattice is boxed although the working plane's homography is a pixel or two off on the finer plane.

The homography is fitted on the 640-px working plane; on the finer plane of a 3000-px
photograph it may be off by a pixel or two. A sharp edge's misregistration stays within the
residual's +-1 px tolerance, a knit's or a mesh's does not: every stitch leaves residual, and a
crack across it stands out from none of it. The finer plane's shift, read by phase correlation
on the tiles the working plane opened, corrects the homography where it explains the plane
better. A stain too faint for the level a lattice's residual needs is boxed where the rest of
the copy is clean and the stain stands alone, as a stain does.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from screening.core.lines import _TILE, _ReferenceGrey, _registered
from tests.screening.core.source_three import derived_box_iou, screened_forgery


@pytest.mark.parametrize(
    ("seed", "index", "name"),
    [
        # Source 3's knit 9100-18: its tiles lie 2.0 px across and 1.0 px down from the warped
        # reference on the finer plane; uncorrected, the crack was not boxed at all.
        (9100, 18, "forgery-knit-9100-18-0-crack"),
        # Source 3's woven label 9200-14: the stain's residual, 6.4-7.8, stays under the faint
        # patches' level of 12, on a plane whose median is 1.4.
        (9200, 14, "forgery-woven-9200-14-1-stain"),
    ],
    ids=["a crack across a knit off by two pixels", "a faint stain on a woven label"],
)
def test_damage_on_a_lattice_is_boxed(tmp_path, seed, index, name):
    report, truth = screened_forgery(tmp_path, seed, index, name)
    assert derived_box_iou(report, truth) >= 0.5


_IDENTITY_COLOUR = np.vstack([np.zeros((1, 3)), np.eye(3), np.zeros((6, 3))]).astype(np.float32)


def _knit(size: int = 512) -> np.ndarray:
    """Return a knit-like RGB lattice (period 9 px) under a slow colour change, uint8."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    stitch = 0.5 + 0.5 * np.sin(2 * np.pi * x / 9.0) * np.sin(2 * np.pi * (y + 0.5 * np.abs((x % 9) - 4.5)) / 9.0)
    slow = 0.5 + 0.3 * np.sin(x / 97.0) * np.cos(y / 71.0)
    rgb = np.stack([stitch * slow, stitch * (1 - slow), 0.3 + 0.4 * stitch], axis=2)
    return (np.clip(rgb, 0, 1) * 255).astype(np.uint8)


def _photographed(reference: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    moved = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float32)
    return cv2.warpAffine(
        reference, moved, reference.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )


def _tiles(size: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(size // _TILE) for j in range(size // _TILE)]


def test_the_finer_plane_s_shift_from_the_reference_is_corrected():
    reference = _knit()
    evidence = _photographed(reference, (1.6, -0.9))
    identity = np.eye(3)
    grey = _ReferenceGrey(reference, 0.0, _IDENTITY_COLOUR, identity)
    corrected = _registered(identity, grey, evidence, _tiles(512))[0]
    # Within a third of a pixel (phase correlation's sub-pixel peak leans towards the whole
    # pixel on a lattice): well inside the residual's +-1 px tolerance, where 1.6 px was not.
    assert abs(corrected[0, 2] - 1.6) < 0.34
    assert abs(corrected[1, 2] + 0.9) < 0.34


def test_no_correction_where_the_planes_already_agree():
    reference = _knit()
    grey = _ReferenceGrey(reference, 0.0, _IDENTITY_COLOUR, np.eye(3))
    assert np.array_equal(_registered(np.eye(3), grey, reference.copy(), _tiles(512))[0], np.eye(3))


def test_a_confident_shift_that_explains_the_plane_no_better_is_refused(monkeypatch):
    # The tiles a stain or a tear opened are mostly paint, whose edges no reference pixel
    # matches: the correlation's peak may lie anywhere, with confidence. A shift that leaves
    # the tiles' residual where it was is not taken.
    reference = _knit()
    evidence = _photographed(reference, (1.6, -0.9))
    grey = _ReferenceGrey(reference, 0.0, _IDENTITY_COLOUR, np.eye(3))
    monkeypatch.setattr(cv2, "phaseCorrelate", lambda a, b, window: ((-1.5, 1.0), 0.9))
    assert np.array_equal(_registered(np.eye(3), grey, evidence, _tiles(512))[0], np.eye(3))
    monkeypatch.setattr(cv2, "phaseCorrelate", lambda a, b, window: ((1.5, -1.0), 0.9))
    assert not np.array_equal(_registered(np.eye(3), grey, evidence, _tiles(512))[0], np.eye(3))


def test_a_shift_no_tile_reads_with_confidence_is_not_taken():
    # Flat paint over every tile: the correlation finds no peak worth trusting anywhere.
    reference = _knit()
    evidence = reference.copy()
    for i in range(4):
        for j in range(4):
            cv2.circle(evidence, (j * _TILE + 64 + 3 * i, i * _TILE + 64 - 2 * j), 50, (120, 60, 20), -1)
    grey = _ReferenceGrey(reference, 0.0, _IDENTITY_COLOUR, np.eye(3))
    assert np.array_equal(_registered(np.eye(3), grey, evidence, _tiles(512))[0], np.eye(3))
