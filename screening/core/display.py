"""Moiré of a display's pixel grid: the trace a photographed screen leaves and a print does not.

A screen is a lattice of red, green and blue sub-pixels. A camera samples that lattice
with its own pixel grid, and the beat between the two periods folds down into coloured
fringes (moiré) at a frequency set by how large the screen's pixels appear in the
photograph. The fringes are narrow-band: in a small tile of the picture they are one
sharp peak in the spectrum of the chroma. A real object has no such lattice, nor does a
photo print or an inkjet print (continuous tone or dithered finer than a phone
resolves); light, shading, sensor noise and misregistration all leave broad-band
chroma residuals. An offset-printed card's halftone screen is a lattice too and can
beat with the camera's pixels when photographed close up; the simulated cards have no
halftone, so that case is not measured here. Nor is a product that is itself a screen
(a phone or a monitor photographed switched on), which shows the same fringes.

Chroma is read as the residual against the warped reference after its colour map, so
that the product's own periodic patterns (a brick wall, lines of text) cancel: the
reference never went through a screen. The peak is measured against the local spectral
envelope (whitened), so that the 1/f fall-off of any residual does not pass for a peak.

Moiré is the artefact real phones leave on real screens unless the lens is defocused;
what is fitted to the simulation of `screening.synthetic.screen_photo` is only the
threshold. Where the beat frequency lies beyond what the working plane resolves (in the
simulation mostly when a screen pixel spans 1.3-1.7 photo pixels), the fringes are gone
from the working plane and the screen is not recognised: the signal is a one-way test.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["display_moire"]

# Tiles of 64 px on the working plane, overlapping by half: small enough that the
# fringe frequency (which drifts with the screen's tilt and the lens distortion) stays
# within a bin or two, large enough to resolve it. Tuning material (the set described
# at _DISPLAY_LIMIT in screen.py), screens above 1.5 times the highest honest value:
# 64 px tiles 56 of 74 aligned, 128 px tiles 54.
_TILE = 64
# Frequencies below 0.12 cycles/px are left out: every residual rises toward DC faster
# than the whitening envelope follows, and the honest photos' highest peaks all sat at
# the band's lower edge (from 0.06: honest maximum 13.1 and 50 of 74 screens above 1.5
# times it; from 0.12: 6.5 and 56 of 74). The JPEG block grid of the evidence
# (multiples of 1/8 cycle/px on an axis) is left out too.
_MIN_FREQ = 0.12
# Whitening envelope: the geometric mean of the power over 9x9 bins around each bin.
_ENVELOPE_BINS = 9
# A tile says nothing unless it lies wholly inside the reference's footprint; fewer
# than 4 such tiles (a 96x96 px overlap) is too little to judge.
_MIN_TILES = 4
# A tile's spectrum is averaged with those of its neighbours on the half-overlapping
# grid (3x3 tiles, 128x128 px) that lie inside the footprint, at least 3 of them: a
# fringe's peak stays in place from tile to tile, a noise peak does not. On the tuning
# material this lowered the highest honest value from 10.8 to 6.5 (screens above 1.5
# times it: 53 of 74 aligned without, 56 with).
_MIN_NEIGHBOURS = 3
# The upper quartile of the tiles' peaks: fringes may fade where the beat moves past
# the working plane's resolution across a tilted screen, so half of the tiles need not
# show them; a quarter of the tiles peaking together is no accident of noise. (Median:
# honest maximum 5.7, 52 of 74 screens above 1.5 times it; 90th percentile: 11.5, 55;
# upper quartile: 6.5, 56.)
_TILE_QUANTILE = 75


def _band(size: int) -> np.ndarray:
    f = np.fft.fftshift(np.fft.fftfreq(size))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    band = np.hypot(fx, fy) >= _MIN_FREQ
    near = 1.5 / size
    for k in (0.125, 0.25, 0.375, 0.5):
        band &= ~((np.abs(np.abs(fx) - k) < near) & (np.abs(fy) < near))
        band &= ~((np.abs(np.abs(fy) - k) < near) & (np.abs(fx) < near))
    return band


_BAND = _band(_TILE)
_WINDOW = np.outer(np.hanning(_TILE), np.hanning(_TILE)).astype(np.float32)


def display_moire(evidence_rgb: np.ndarray, mapped_rgb: np.ndarray, valid: np.ndarray) -> float:
    """Return the strength of a narrow-band chroma peak over the aligned region (nan if too small).

    Both images are float32 RGB in 0..1 on the evidence plane; `valid` marks the
    reference's footprint. Each tile's chroma-residual power spectrum is whitened by its
    own envelope and averaged with its neighbours' (fringes drift slowly across a screen,
    noise peaks do not repeat); the value is the upper quartile, over tiles, of the
    highest averaged peak: about 2-7 for photographs of prints and objects, tens for a
    photographed screen.
    """
    ev = evidence_rgb * 255.0
    mp = mapped_rgb * 255.0
    # Opponent chroma (R - G, B - G) of the evidence, less that of the warped reference.
    red = (ev[:, :, 0] - ev[:, :, 1]) - (mp[:, :, 0] - mp[:, :, 1])
    blue = (ev[:, :, 2] - ev[:, :, 1]) - (mp[:, :, 2] - mp[:, :, 1])
    t, step = _TILE, _TILE // 2
    h, w = valid.shape
    if h < t or w < t:
        return float("nan")
    inside = cv2.integral(valid.astype(np.uint8))
    rows, cols = (h - t) // step + 1, (w - t) // step + 1
    ys, xs = np.arange(rows) * step, np.arange(cols) * step
    full = (
        inside[ys[:, None] + t, xs[None, :] + t]
        - inside[ys[:, None], xs[None, :] + t]
        - inside[ys[:, None] + t, xs[None, :]]
        + inside[ys[:, None], xs[None, :]]
    ) == t * t
    where = np.argwhere(full)
    if len(where) < _MIN_TILES:
        return float("nan")
    # Both chroma planes in one complex transform: with z = red + i blue,
    # |RED(f)|^2 + |BLUE(f)|^2 = (|Z(f)|^2 + |Z(-f)|^2) / 2, at half the cost of two.
    chroma = (red + 1j * blue).astype(np.complex64)
    tiles = np.stack([chroma[y : y + t, x : x + t] for y, x in where * step])
    tiles = tiles - tiles.mean(axis=(1, 2), keepdims=True)
    spectrum = np.abs(np.fft.fft2(tiles * _WINDOW)) ** 2
    mirrored = np.roll(np.flip(spectrum, axis=(1, 2)), 1, axis=(1, 2))  # |Z(-f)|^2
    power = np.fft.fftshift(spectrum + mirrored, axes=(1, 2)).astype(np.float32) + 1e-3
    # Whitened spectra on the tile grid: a peak of 3x3 bins (the window's main lobe, plus
    # a little drift) over the envelope.
    whitened = np.zeros((rows, cols, t, t), np.float32)
    for (i, j), p in zip(where, power):
        lobe = cv2.blur(p, (3, 3), borderType=cv2.BORDER_REFLECT)
        envelope = np.exp(cv2.blur(np.log(p), (_ENVELOPE_BINS, _ENVELOPE_BINS), borderType=cv2.BORDER_REFLECT))
        whitened[i, j] = lobe / envelope
    # Average each tile's whitened spectrum with its neighbours' on the grid.
    total = np.zeros_like(whitened)
    count = np.zeros((rows, cols), np.float32)
    present = full.astype(np.float32)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            src_i = slice(max(0, di), rows + min(0, di))
            src_j = slice(max(0, dj), cols + min(0, dj))
            dst_i = slice(max(0, -di), rows + min(0, -di))
            dst_j = slice(max(0, -dj), cols + min(0, -dj))
            total[dst_i, dst_j] += whitened[src_i, src_j]
            count[dst_i, dst_j] += present[src_i, src_j]
    pick = full & (count >= _MIN_NEIGHBOURS)
    if pick.sum() < _MIN_TILES:
        return float("nan")
    averaged = total[pick] / count[pick][:, None, None]
    peaks = averaged[:, _BAND].max(axis=1)
    return float(np.percentile(peaks, _TILE_QUANTILE))
