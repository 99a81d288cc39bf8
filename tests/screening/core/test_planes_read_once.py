"""The pixel alignments read what they need off a plane by itself (its grey levels, texture,
content key, the search's small planes) once per plane: a worker aligns every evidence file
with the same few references, each in turn."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data as photographs

from screening.core import align


def _plane(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)


def test_a_planes_grey_levels_are_read_once():
    rgb = _plane(1)
    first = align.grey(rgb)
    assert align.grey(rgb) is first
    assert np.array_equal(first, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def test_another_plane_with_the_same_pixels_is_read_for_itself():
    rgb = _plane(2)
    other = rgb.copy()
    assert align.grey(other) is not align.grey(rgb)
    assert np.array_equal(align.grey(other), align.grey(rgb))


def test_no_more_than_the_planes_kept_are_held():
    planes = [_plane(seed) for seed in range(align._READ_KEPT + 8)]
    for rgb in planes:
        align.grey(rgb)
    assert len(align._READ) <= align._READ_KEPT
    assert all(kept is not planes[0] for kept, _ in align._READ.values())


def test_a_reference_is_searched_with_what_was_read_off_it_before(monkeypatch: pytest.MonkeyPatch):
    reference = np.ascontiguousarray(photographs.astronaut()[::2, ::2])
    evidence = np.ascontiguousarray(cv2.resize(reference[40:200, 30:220], (380, 300), interpolation=cv2.INTER_AREA))
    read: list[int] = []
    search_reference = align._search_reference

    def counted(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        read.append(id(plane))
        return search_reference(plane)

    monkeypatch.setattr(align, "_search_reference", counted)
    first = align.searched_alignment(reference, evidence)
    again = align.searched_alignment(reference, evidence)
    assert read == [id(reference)]
    assert first is not None and again is not None
    assert np.array_equal(first.homography, again.homography)
