"""A real plane (the finer plane's luma, a reference's lattice) is whitened through the real FFT,
at about half the cost of the complex transform the chroma needs, and to the same values within
float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from screening.core import display


def _no_complex_transform(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a real plane went through the complex transform")

    monkeypatch.setattr(scipy.fft, "fft2", refused)


def test_it_whitens_real_tiles_as_their_complex_copies_to_float_rounding():
    tiles = np.random.default_rng(5).normal(0, 20, (40, 64, 64)).astype(np.float32)
    complex_way = display._whitened(tiles.astype(np.complex64), display._WINDOW, 9)
    real_way = display._whitened(tiles, display._WINDOW, 9)
    assert np.allclose(real_way, complex_way, rtol=1e-5, atol=0)


def test_it_reads_a_references_lattice_without_the_complex_transform(monkeypatch):
    rng = np.random.default_rng(6)
    grey = (128 + 60 * np.sin(np.arange(256) * 2 * np.pi / 7)[None, :] + rng.normal(0, 3, (192, 256))).clip(0, 255)
    reference = np.repeat(grey[:, :, None], 3, axis=2).astype(np.uint8)
    before = display.reference_lattice(reference)
    _no_complex_transform(monkeypatch)
    assert display.reference_lattice(reference) == pytest.approx(before, rel=1e-5)


def test_it_reads_the_finer_plane_without_the_complex_transform(monkeypatch):
    rng = np.random.default_rng(7)
    reference = rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)
    finer = np.repeat(np.repeat(reference, 2, axis=0), 2, axis=1)
    stripes = (20 * np.sin(np.arange(finer.shape[1]) * 2 * np.pi / 3.3))[None, :, None]
    finer = (finer.astype(np.float32) + stripes).clip(0, 255).astype(np.uint8)
    valid = np.ones((240, 320), bool)
    valid[:8], valid[-8:], valid[:, :8], valid[:, -8:] = False, False, False, False
    before = display.display_moire_fine_reading(finer, reference, np.eye(3), valid)
    _no_complex_transform(monkeypatch)
    after = display.display_moire_fine_reading(finer, reference, np.eye(3), valid)
    assert np.isfinite(before.strength)
    assert after.strength == pytest.approx(before.strength, rel=1e-5)
