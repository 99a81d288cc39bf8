"""Moiré of a display's pixel grid: the trace a photographed screen leaves and a print does not.

A screen is a lattice of red, green and blue sub-pixels. A camera samples that lattice
with its own pixel grid, and the beat between the two periods folds down into coloured
fringes (moiré) at a frequency set by how large the screen's pixels appear in the
photograph. The fringes are narrow-band: in a small tile of the picture they are one
sharp peak in the spectrum of the chroma. Light, shading, sensor noise and
misregistration leave broad-band chroma residuals. Each peak is measured against the
local spectral envelope (whitened), so that the 1/f fall-off of any residual does not
pass for a peak.

Every phone photograph carries periodic structure of its own, and so may the product:
- the evidence file's JPEG block grid (8 px in the luma, 16 px in 4:2:0 chroma) and the
  Bayer mosaic's 2 px period, at the file's full resolution. The planes read here are
  DCT draft decodes of the file, resized; file_grid maps those periods, their harmonics
  the draft keeps and their aliases onto the plane, and they are left out;
- the product's own fine texture (a weave, a knit, a mesh, a halftone, the pixels of a
  small original enlarged): it shows in the reference too. Chroma is read as the
  residual against the warped reference after its colour map, so such patterns mostly
  cancel, and the frequencies at which the warped reference peaks, a bin either side,
  are left out. The finer plane reads the reference decoded at its own finer size
  (ReferenceAnalysis.plane), not its working plane enlarged, which has lost that
  texture;
- sharpening halos, a reflection, an edge: local, at frequencies of their own.
A display's grid is one lattice over the whole screen, its moiré at one frequency, or
one drifting smoothly with the tilt. So a tile's peak counts only where the tiles
around it peak at the same frequency (_consistent); the statistic is an upper quantile
over all tiles of the footprint, and the median over the tiles at its edge, each of
which must show the peak in every quarter of itself (_quietest_part): a product that is
itself a screen (a phone or monitor photographed switched on) has its grid on part of
the reference only, and its bezel and backdrop at the footprint's edge are quiet.

Where the beat lies beyond what the working plane resolves (in the simulation mostly
when a screen pixel spans 1.3-1.7 photo pixels) the fringes are gone from it, and JPEG
has halved the chroma's resolution as well; they are still in the luma at the finer
plane, twice the working plane's resolution (display_moire_fine), read only when the
working plane shows nothing. A fine weave beats with the sensor there as a screen's grid
does, so the finer plane's fringes decide only where they also reach the reference's own
border on every side (display_moire_fine_reading: the edge tiles' quarter-size parts,
and the fringes demodulated within a few pixels of the border, where a device's bezel,
narrower than a part, makes them fade); elsewhere they only send the evidence to a
person.

What is measured (bench/display_material.py; numbers at _DISPLAY_LIMIT in screen.py):
photographed screens of synthetic.screen_photo against printed cards, objects, flat
products with procedural knit, mesh and weave or enlarged small originals (tilted
3-40 degrees, 1280-3000 px files, both OpenCV demosaics, sharpening, JPEG 80-92 4:2:0)
and devices switched on as the product; and, in part, bench/camera_path.py's tuning half
(other demosaicing and JPEG encoders). What it shows is not solved: a woven or meshed
product beats with the camera's own sensor much as a screen does, and on the finer
plane such moiré sits at aliases of the texture's frequency that the reference, read at
its own sampling, does not show; those are not left out yet. Such a beat differs
between the planes (Bayer sampling in the working plane's chroma, the pixels in the finer
plane's luma), a screen's moiré does not: same_fringes reads how much of the working
plane's fringes the finer plane shows at the same frequency. Not measured: HEIC
evidence (its grid is not left out); screens
whose picture is dark or flat at its borders, which the edge rule now misses more often;
devices whose bezel and backdrop are narrower than a quarter tile (16 px on the working
plane); on the finer plane, screens whose picture's border the homography misplaces by
more than a few pixels (a lens's barrel distortion) read like a bezel there and go to a
person only.
Moiré is what real phones leave on real screens unless the lens is defocused; what is
fitted to the simulation is the thresholds. A dark or smooth picture on a screen leaves
fringes too faint for the camera's noise: the signal is a one-way test.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, NamedTuple

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .decode import _DRAFT_MIN_SHARE, FINE_LONG_SIDE, WORK_LONG_SIDE

__all__ = [
    "FineMoire",
    "Fringes",
    "WorkingMoire",
    "display_moire",
    "display_moire_reading",
    "display_moire_fine",
    "display_moire_fine_reading",
    "file_grid",
    "reference_frame",
    "reference_lattice",
    "same_fringes",
    "shared_fringes",
    "working_fringes",
]

# Tiles of 64 px on the working plane, overlapping by half: small enough that the
# fringe frequency (which drifts with the screen's tilt and the lens distortion) stays
# within a bin or two, large enough to resolve it. Tuning material (the set described
# at _DISPLAY_LIMIT in screen.py), screens above 1.5 times the highest honest value:
# 64 px tiles 56 of 74 aligned, 128 px tiles 54.
_TILE = 64
# Frequencies below 0.12 cycles/px are left out: every residual rises toward DC faster
# than the whitening envelope follows, and the honest photos' highest peaks all sat at
# the band's lower edge (from 0.06: honest maximum 13.1 and 50 of 74 screens above 1.5
# times it; from 0.12: 6.5 and 56 of 74). The evidence file's own periods are left out
# too (file_grid).
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
# A tile's peak counts where it lies within _DRIFT_BINS (on either axis) of the median
# peak frequency of the tiles up to _AROUND grid steps around it (see _consistent): two
# bins is the drift of a tilted screen's fringes over 2 tile steps in the simulation.
_AROUND = 2
_DRIFT_BINS = 2
# A display's grid covers the whole reference when the evidence is a photographed
# screen; when the product is a screen (a phone or monitor switched on), it covers only
# part of the reference, and its bezel and backdrop are quiet. So the tiles at the
# footprint's edge must show the fringes too: half of them (_EDGE_QUANTILE, against a
# quarter inside), each in every one of its quarter-size parts (_PART; whitened over
# 5x5 bins, which span about what 9x9 bins of a full tile do) at least _QUIET_PART.
# Tuning material (see _DISPLAY_LIMIT in screen.py): the ring parts of devices measured
# 0.9-2.0 (medians), the edge parts of photographed screens 4-8 (lower deciles about
# 3). Gates of 1.5, 2.0, 2.5 and 3.0 kept every device and every other honest photograph
# below the working plane's limit; they caught 44, 43, 43 and 43 of 67 screens checked
# then (with the finer plane). 2.0 keeps a margin above the devices' rings.
_PART = _TILE // 2
_PART_ENVELOPE_BINS = 5
_QUIET_PART = 2.0
_EDGE_QUANTILE = 50
# On the finer plane the edge tiles are read by their parts only where the fringes are
# strong enough to count (FineMoire): the quietest part of each edge tile, at the tile's
# own frequency, and its lower quartile over the edge tiles (the limits are in screen.py,
# _DISPLAY_FINE_EDGE and _DISPLAY_FINE_BORDER). Only edge tiles at the reference's own
# border count: where the photograph's frame cuts the footprint, no bezel can show.
_FINE_EDGE_QUANTILE = 25
_REACH_QUANTILE = 50
# The border ratio (_border_ratio): fringes within _BORDER_STRIP px of the footprint's
# border (the footprint is eroded by 4 working-plane px, 8 here, so the strip reaches
# about 14 px from the reference's edge: a phone's bezel is 4 % of its width, 10-25 px on
# the finer plane) against those _BORDER_GAP px further in, over _BORDER_DEPTH px;
# low-passed with a Gaussian of _BORDER_SIGMA px (fringes 2-6 px apart).
_BORDER_STRIP = 6
_BORDER_GAP = 12
_BORDER_DEPTH = 40
_BORDER_SIGMA = 2.0
_BORDER_TILES = 32
# The periods (px at the file's full resolution) an evidence JPEG explains by itself: in
# the chroma, the 16 px blocks of 4:2:0 subsampling (and the 8 px ones within them); in
# the luma, the 8 px blocks and the Bayer mosaic's 2 px.
_CHROMA_PERIODS = (16, 8, 2)
_LUMA_PERIODS = (8, 2)


def _band(size: int, *, highest: float = 0.5, grid: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Return the mask of spectrum bins (fftshifted) that may show fringes: at least _MIN_FREQ
    from DC, at most `highest` cycle/px on either axis, off the file's own periodicities.

    `grid` holds the frequencies (x, y, cycle/px on the analysed plane) that the evidence
    file itself explains (see file_grid); every pair of them is left out. Without it, the
    JPEG block grid of a file decoded at the plane's own resolution (multiples of 1/8
    cycle/px on an axis) is.
    """
    f = np.fft.fftshift(np.fft.fftfreq(size))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    band = (np.hypot(fx, fy) >= _MIN_FREQ) & (np.maximum(np.abs(fx), np.abs(fy)) <= highest)
    near = 1.5 / size
    if grid is None:
        for k in (0.125, 0.25, 0.375, 0.5):
            band &= ~((np.abs(np.abs(fx) - k) < near) & (np.abs(fy) < near))
            band &= ~((np.abs(np.abs(fy) - k) < near) & (np.abs(fx) < near))
        return band
    gx, gy = grid

    def close(axis: np.ndarray, at: np.ndarray) -> np.ndarray:
        # Distance on the circle of frequencies: +-0.5 cycle/px are one frequency.
        d = np.abs(((np.abs(axis)[..., None] - at + 0.5) % 1.0) - 0.5)
        return d < near

    on_x, on_y = close(fx, gx), close(fy, gy)  # (size, size, len(g))
    band &= ~(on_x.any(axis=2) & on_y.any(axis=2))
    return band


def _draft_reduction(width: int, height: int, long_side: int) -> int:
    """Return the DCT scale reduction (1, 2, 4 or 8) decode.decode_image uses for a plane of `long_side`.

    The same rule as there (and as Pillow's JPEG draft mode): the largest reduction whose
    result still holds _DRAFT_MIN_SHARE of the plane's long side.
    """
    ratio = _DRAFT_MIN_SHARE * long_side / max(width, height)
    if ratio >= 1:
        return 1
    scale = min(width // max(1, int(width * ratio)), height // max(1, int(height * ratio)))
    return next(s for s in (8, 4, 2, 1) if scale >= s)


def file_grid(
    file_size: tuple[int, int], plane_size: tuple[int, int], long_side: int, *, periods: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Return the frequencies (x, y; cycle/px on the plane) at which a JPEG file's own periods show on a plane decoded from it.

    `file_size` and `plane_size` are (width, height) of the file at full resolution and of
    the plane decoded from it at `long_side` (a DCT draft scale, then a resize). A period P
    of the file (8 px: luma blocks; 16 px: chroma blocks of 4:2:0; 2 px: the Bayer mosaic)
    has harmonics k/P cycle/px; those the draft decode keeps (up to its Nyquist
    frequency) move to k/P times the file's size over the plane's, folded into +-0.5 by
    the resize's aliasing. Zero is always among them: a grid line on one axis is its
    own frequency.
    """
    reduction = _draft_reduction(file_size[0], file_size[1], long_side)
    kept = 0.5 / reduction + 1e-9
    out = []
    for full, plane in zip(file_size, plane_size):
        freqs = {0.0}
        for period in periods:
            for k in range(1, period):
                f = k / period
                if f <= kept:
                    folded = (f * full / plane + 0.5) % 1.0 - 0.5
                    freqs.add(abs(folded))
        out.append(np.array(sorted(freqs)))
    return out[0], out[1]


_BAND = _band(_TILE)


@functools.lru_cache(maxsize=64)
def _file_band(
    file_size: tuple[int, int], plane_size: tuple[int, int], long_side: int, periods: tuple[int, ...]
) -> np.ndarray:
    """Return _band's mask without the periods of a JPEG file of `file_size` on its plane (see file_grid), read-only.

    Made once per file and plane size (~0.6 ms each): a phone's files share a few sizes.
    """
    band = _band(_TILE, grid=file_grid(file_size, plane_size, long_side, periods=periods))
    band.setflags(write=False)
    return band


# On the finer plane the demosaicing of any honest photograph leaves a checkerboard in
# the luma at the corners of the spectrum (1/2, 1/2 cycle/px): the tuning material's
# highest honest peaks all sat there before frequencies beyond 0.45 on either axis were
# left out.
_FINE_BAND = _band(_TILE, highest=0.45)
_WINDOW = np.outer(np.hanning(_TILE), np.hanning(_TILE)).astype(np.float32)
# A frequency at which the warped reference itself peaks (a brick wall, a printed
# lattice) is no evidence of a screen: where the alignment is a fraction of a pixel off,
# the residual keeps a trace of the reference's own pattern. Bins where the reference's
# averaged whitened spectrum reaches 4 (its typical level is 1-2) are left out. On the
# tuning material this lowered the highest honest value on the working plane from 5.3 to
# 4.1, and on the finer plane from 18.5 (a printed card of a brick wall) to 5.1.
_REFERENCE_PEAK = 4.0
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _box(stack: np.ndarray, size: int) -> np.ndarray:
    """Return the size x size box mean of each 2-D slice of `stack`, borders reflected."""
    return _from_channels(_box_channels(_to_channels(np.asarray(stack, np.float32)), size))


# OpenCV filters the slices of a stack as the channels of one image, 64 at a time (OpenCV
# 5 refuses 256): a tenth of the cost of summed-area tables in numpy. The stack (N, t, t)
# is turned into groups of 64 channels (t, t, 64) by cv2.transpose of (64, t*t) blocks,
# a cache-blocked copy: numpy's strided transpose of the whole stack and back cost the
# finer plane ~70 % of its box filters (bench/screening.py's 1000x750 planes, 660 tiles:
# 145 ms of box filters, ~55 ms with blocked transposes). Each channel is filtered as it
# was before, so the values are the same to the bit.
_CHANNELS = 64


def _to_channels(stack: np.ndarray) -> list[np.ndarray]:
    """Return the (t, t, <= 64) channel groups of a (N, t, t) float32 stack."""
    n, h, w = stack.shape
    flat = np.ascontiguousarray(stack).reshape(n, h * w)
    return [cv2.transpose(flat[k : k + _CHANNELS]).reshape(h, w, -1) for k in range(0, n, _CHANNELS)]


def _from_channels(groups: list[np.ndarray], out: np.ndarray | None = None) -> np.ndarray:
    """Return the (N, t, t) stack of channel groups (the inverse of _to_channels), written into `out` if given."""
    h, w = groups[0].shape[:2]
    n = sum(g.shape[2] for g in groups)
    flat = np.empty((n, h * w), np.float32) if out is None else out.reshape(-1, h * w)[:n]
    k = 0
    for g in groups:
        c = g.shape[2]
        cv2.transpose(g.reshape(h * w, c), dst=flat[k : k + c])
        k += c
    return flat.reshape(n, h, w)


def _box_channels(groups: list[np.ndarray], size: int) -> list[np.ndarray]:
    """Return the size x size box mean of each channel of each group, borders reflected."""
    return [cv2.blur(g, (size, size), borderType=cv2.BORDER_REFLECT).reshape(g.shape) for g in groups]


def _whitened(tiles: np.ndarray, window: np.ndarray, envelope_bins: int, out: np.ndarray | None = None) -> np.ndarray:
    """Return each tile's power spectrum (fftshifted) whitened by its own spectral envelope (into `out` if given)."""
    # In place where numpy allows it: the same operations on the same values, fewer
    # copies of the stack (~4 MB per 100 tiles at each step).
    # scipy's FFT keeps single precision where numpy's computes in double: a quarter of the
    # cost. Imported here, on first use: importing scipy.fft (which imports scipy.special)
    # took ~0.3 s of every process's start-up, and the command line's parent process,
    # which only reads the manifest and hands the lines out, never needs it.
    import scipy.fft

    n, rows, cols = tiles.shape
    centred = tiles - tiles.mean(axis=(1, 2), keepdims=True)
    centred *= window
    if np.iscomplexobj(centred):
        stored = np.abs(scipy.fft.fft2(centred, overwrite_x=True))
    else:
        # A real signal's spectrum is conjugate-symmetric: the real FFT's half of the bins
        # holds every bin (see _folded_bins) at about half the cost of the complex transform
        # (the finer plane's luma and the reference's lattice are real; the working plane's
        # chroma is not). The values are those of the complex transform to float32 rounding
        # (relative 1e-6 after whitening), and the sum below stays exactly symmetric.
        stored = np.abs(scipy.fft.rfft2(centred, overwrite_x=True))
    np.square(stored, out=stored)
    # For a complex signal z = a + i b, |A(f)|^2 + |B(f)|^2 = (|Z(f)|^2 + |Z(-f)|^2) / 2:
    # both planes of the chroma in one transform at half the cost of two. Each bin of the
    # fftshifted sum is gathered straight from the transform's output, at f and at -f: the
    # full spectrum of a real tile, its shifted copy and the reversed one were never built
    # (bench/screening.py's finer planes, 600 tiles: 18-20 ms from the transform to this
    # sum, 13-15 ms so). Each bin adds the same two values as before: the same to the bit.
    at, mirrored = _folded_bins(rows, cols, stored.shape[2])
    flat = stored.reshape(n, -1)
    power = np.take(flat, at, axis=1)
    power += np.take(flat, mirrored, axis=1)
    power += 1e-3
    power = power.reshape(n, rows, cols)
    # Whitened: a peak of 3x3 bins (the window's main lobe, plus a little drift) over the
    # geometric mean of the power around it.
    groups = _to_channels(power)
    peaks = _box_channels(groups, 3)
    for g in groups:
        np.log(g, out=g)
    envelope = _box_channels(groups, envelope_bins)
    for p, e in zip(peaks, envelope):
        np.exp(e, out=e)
        np.divide(p, e, out=p)
    return _from_channels(peaks, out)


@functools.cache
def _folded_bins(rows: int, cols: int, stored: int) -> tuple[np.ndarray, np.ndarray]:
    """Return, for each bin of a (rows, cols) spectrum once fftshifted, where a transform's output
    `stored` columns wide (all `cols`, or the real FFT's cols // 2 + 1) holds the power at its
    frequency f and at -f (flat indices into one tile's output).

    Past the real FFT's half, Z(ky, kx) is the conjugate of Z(-ky, -kx): its power is the stored
    power there, mirrored.
    """
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")

    def held(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        # fftshift moves bin (y, x) of the shifted spectrum from (y - rows // 2, x - cols // 2).
        u, v = (y - rows // 2) % rows, (x - cols // 2) % cols
        return np.where(v < stored, u * stored + v, (-u % rows) * stored + (cols - v)).ravel()

    return held(i, j), held(-i % rows, -j % cols)


# The eight neighbours and the tile itself, in the order their spectra are summed.
_AROUND_ONE = tuple((di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1))


def _neighbour_count(full: np.ndarray) -> np.ndarray:
    """Return how many of each grid cell's 3x3 cells (itself included) hold a tile of `full`."""
    rows, cols = full.shape
    present = np.zeros((rows + 2, cols + 2), np.float32)
    present[1:-1, 1:-1] = full
    count = np.zeros((rows, cols), np.float32)
    for di, dj in _AROUND_ONE:
        count += present[1 + di : 1 + di + rows, 1 + dj : 1 + dj + cols]
    return count


def _averaged_spectra(
    signal: np.ndarray, where: np.ndarray, full: np.ndarray, pick: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return (the whitened spectra of the tiles at `pick` summed with their neighbours', in row order;
    the own whitened spectra of those tiles).

    `where` lists the cells of `full`, the tiles inside the footprint, and `pick` is a
    mask within `full`. The sums are taken tile by tile in the neighbours' fixed order and
    only for the tiles asked for: the grid of every cell's spectrum and its nine shifted
    sums (~200 ms on the finer plane of bench/screening.py's honest photographs, 660
    tiles) is never built. The neighbours are added in the order the grid's sums added
    them, so every value is the same to the bit.
    """
    t, step = _TILE, _TILE // 2
    rows, cols = full.shape
    tiles = sliding_window_view(signal, (t, t))[::step, ::step][where[:, 0], where[:, 1]]
    own = np.empty((len(where) + 1, t, t), np.float32)
    _whitened(tiles, _WINDOW, _ENVELOPE_BINS, out=own)
    own[-1] = 0.0
    index = np.full((rows + 2, cols + 2), len(where), np.intp)  # the last spectrum of `own` is zeros
    index[where[:, 0] + 1, where[:, 1] + 1] = np.arange(len(where))
    cells = np.argwhere(pick) + 1
    total = np.empty((len(cells), t, t), np.float32)
    chunk = 32  # 32 spectra of 16 kB at a time: the sums stay in the cache
    for k in range(0, len(cells), chunk):
        ci, cj = cells[k : k + chunk, 0], cells[k : k + chunk, 1]
        acc = total[k : k + chunk]
        acc[...] = own[index[ci - 1, cj - 1]]
        for di, dj in _AROUND_ONE[1:]:
            acc += own[index[ci + di, cj + dj]]
    return total, own[index[cells[:, 0], cells[:, 1]]]


def _any_around(mask: np.ndarray) -> np.ndarray:
    """Return whether any bin in the 3x3 around each bin of each (t, t) slice of `mask` is set, borders clipped."""
    out = mask.copy()
    out[:, 1:] |= mask[:, :-1]
    out[:, :-1] |= mask[:, 1:]
    rows = out.copy()
    out[:, :, 1:] |= rows[:, :, :-1]
    out[:, :, :-1] |= rows[:, :, 1:]
    return out


def tile_peaks(
    residual: np.ndarray, reference: np.ndarray, valid: np.ndarray, band: np.ndarray, *, parts: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Return each tile's highest averaged whitened peak, its frequency (bins), grid position and quietest part, or None.

    Bins outside `band`, or where `reference` (the warped reference's own signal) peaks,
    are left out. The frequency is folded onto one half-plane (the averaged spectrum is
    symmetric). A tile at the footprint's edge is read by its own spectrum too, and by
    its quietest part (see _quietest_part; 1e9 if `parts` is false, inf for the tiles
    within the footprint). None when too few
    tiles lie inside `valid`.
    """
    t, step = _TILE, _TILE // 2
    h, w = valid.shape
    if h < t or w < t:
        return None
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
        return None
    count = _neighbour_count(full)
    pick = full & (count >= _MIN_NEIGHBOURS)
    if pick.sum() < _MIN_TILES:
        return None
    total, own_picked = _averaged_spectra(residual, where, full, pick)
    averaged = total / count[pick][:, None, None]
    del total
    ref_total, _ = _averaged_spectra(reference, where, full, pick)  # the same tiles: the same counts
    # Left out a bin either side of where the reference peaks: the lens's distortion,
    # which one homography does not follow, moves a texture's frequency in the
    # evidence by a bin or so from the warped reference's.
    ref_peaks = ref_total / count[pick][:, None, None] >= _REFERENCE_PEAK
    # (The 3x3 box mean of 0/1 values, borders reflected, is 0 exactly where no bin of the
    # 3x3 around it, the tile's borders clipped, is 1.)
    allowed = band & ~_any_around(ref_peaks)
    flat = np.where(allowed, averaged, 0.0).reshape(len(averaged), -1)
    best = flat.argmax(axis=1)
    peaks = flat[np.arange(len(flat)), best]
    fy, fx = best // t - t // 2, best % t - t // 2
    flip = (fy < 0) | ((fy == 0) & (fx < 0))
    freq = np.stack([np.where(flip, -fy, fy), np.where(flip, -fx, fx)], axis=1)
    # A tile at the footprint's edge (some of its eight neighbours lie outside it) is
    # judged by its own spectrum at that frequency, not by the average that reaches a
    # tile further in: a screen that is part of the product leaves its edge quiet.
    edge = count[pick] < 9
    cells = np.argwhere(pick)
    own_peaks = own_picked.reshape(len(best), -1)[np.arange(len(best)), best]
    peaks = np.where(edge, np.minimum(peaks, own_peaks), peaks)
    quiet = np.where(edge, np.float32(1e9), np.inf).astype(np.float32)
    if parts and edge.any():
        quiet[edge] = _quietest_part(residual, valid, cells[edge] * step, freq[edge])
    return peaks.astype(np.float32), freq, cells, quiet


def _quietest_part(signal: np.ndarray, valid: np.ndarray, corners: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Return, for each tile at `corners` (y, x), the weakest whitened peak at `freq` (bins of a full tile)
    over its quarter-size parts (step: an eighth of a tile) that lie wholly inside `valid`.

    A screen that is only part of the product (a phone's or monitor's, the bezel and the
    backdrop around it in the reference) leaves a band at the footprint's edge without
    fringes, often narrower than a tile: a quarter-size part fits in it.
    """
    t, q = _TILE, _PART
    f = np.fft.fftshift(np.fft.fftfreq(q))
    window = np.outer(np.hanning(q), np.hanning(q)).astype(np.float32)
    out = np.full(len(corners), np.inf, np.float32)
    parts, owner, bins = [], [], []
    for n, ((y, x), (fy, fx)) in enumerate(zip(corners, freq)):
        # The full tile's bin, at the part's coarser resolution.
        by = int(np.argmin(np.abs(f - fy / t)))
        bx = int(np.argmin(np.abs(f - fx / t)))
        for dy in range(0, t - q + 1, q // 2):
            for dx in range(0, t - q + 1, q // 2):
                if valid[y + dy : y + dy + q, x + dx : x + dx + q].all():
                    parts.append(signal[y + dy : y + dy + q, x + dx : x + dx + q])
                    owner.append(n)
                    bins.append(by * q + bx)
    if parts:
        # All tiles' parts in one transform: each part's spectrum is computed alone
        # whatever else is in the batch (one call instead of one per tile: the working
        # plane's edge tiles cost ~40 ms in ~30 calls on bench/screening.py's photographs).
        whitened = _whitened(np.stack(parts), window, _PART_ENVELOPE_BINS).reshape(len(parts), q * q)
        values = whitened[np.arange(len(parts)), bins]
        np.minimum.at(out, np.array(owner), values)
    return out


def _consistent(freq: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Return which tiles peak where the tiles around them do: within _DRIFT_BINS of their median frequency.

    The neighbourhood is _AROUND tiles of the grid each way (the tile itself left out);
    a display's fringes keep their frequency, or let it drift smoothly with the tilt,
    over that span, while noise, sharpening halos at edges or a texture in one part of
    the picture peak at frequencies of their own.
    """
    rows, cols = cells.max(axis=0) + 1
    grid = np.full((rows + 2 * _AROUND, cols + 2 * _AROUND, 2), np.nan, np.float32)
    grid[cells[:, 0] + _AROUND, cells[:, 1] + _AROUND] = freq
    offsets = [(di, dj) for di in range(-_AROUND, _AROUND + 1) for dj in range(-_AROUND, _AROUND + 1) if di or dj]
    others = np.stack(
        [grid[cells[:, 0] + _AROUND + di, cells[:, 1] + _AROUND + dj] for di, dj in offsets], axis=1
    )  # (tiles, neighbours, 2)
    own = freq[:, None, :].astype(np.float32)
    # A frequency and its negative are one (folding can split a fringe near fy = 0).
    same = np.abs(others - own).max(axis=2)
    opposite = np.abs(others + own).max(axis=2)
    mirrored = np.where((opposite < same)[:, :, None], -others, others)
    present = ~np.isnan(mirrored[:, :, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a tile without neighbours: nan, no agreement
        centre = np.nanmedian(mirrored, axis=1)
    with np.errstate(invalid="ignore"):
        return present.any(axis=1) & (np.abs(freq - centre).max(axis=1) <= _DRIFT_BINS)


def _peak_strength(
    residual: np.ndarray, reference: np.ndarray, valid: np.ndarray, band: np.ndarray, *, parts: bool = True
) -> float:
    """Return the _TILE_QUANTILE over tiles of the consistent averaged whitened peak (nan if too small).

    A tile whose peak does not agree with its neighbours' frequency counts as no peak.
    """
    return _strength(tile_peaks(residual, reference, valid, band, parts=parts), parts=parts)


def _strength(found: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None, *, parts: bool) -> float:
    """Return _peak_strength's statistic of tile_peaks' answer `found` (nan if None)."""
    if found is None:
        return float("nan")
    peaks, freq, cells, quiet = found
    counted = np.where(_consistent(freq, cells) & (quiet >= _QUIET_PART), peaks, 0.0)
    strength = float(np.percentile(counted, _TILE_QUANTILE))
    edge = quiet < np.inf
    if edge.any():
        strength = min(strength, float(np.percentile(counted[edge], _EDGE_QUANTILE if parts else _TILE_QUANTILE)))
    return strength


def _edge_fringes(
    residual: np.ndarray, valid: np.ndarray, found: tuple[np.ndarray, ...], border_above: float = -float("inf")
) -> tuple[float, float, float]:
    """Return (the _FINE_EDGE_QUANTILE of the edge tiles' quietest parts, the _FINE_EDGE_QUANTILE of their border ratios);
    nan where no tile lies at the reference's own border; the ratios only where the parts
    reach `border_above`.

    `found` is tile_peaks' answer read without parts. Each edge tile's quarter-size parts
    are read at the tile's own peak frequency (see _quietest_part); and its fringes are
    demodulated at that frequency (_border_ratio), so that a bezel narrower than a part
    (a phone's, 6-20 px on the finer plane) still shows as fringes fading at the border.
    """
    peaks, freq, cells, quiet = found
    t, step = _TILE, _TILE // 2
    h, w = valid.shape
    # Only the tiles at the reference's own border: a tile whose neighbours fall outside
    # the footprint only because the photograph's frame cuts it (a device photographed
    # too close, its screen running off the picture) says nothing about a bezel.
    outside = cv2.integral((~valid).astype(np.uint8))
    y0, x0 = np.maximum(cells[:, 0] * step - step, 0), np.maximum(cells[:, 1] * step - step, 0)
    y1, x1 = np.minimum(cells[:, 0] * step + t + step, h), np.minimum(cells[:, 1] * step + t + step, w)
    near_border = (outside[y1, x1] - outside[y0, x1] - outside[y1, x0] + outside[y0, x0]) > 0
    edge = (quiet < np.inf) & near_border
    if not edge.any():
        return float("nan"), float("nan"), float("nan")
    # The fringes' reach: each border tile's own peak where it agrees with the frequency of
    # the tiles around it (0 where it does not: a bezel or backdrop peaks at random).
    reach = float(np.percentile(np.where(_consistent(freq, cells), peaks, 0.0)[edge], _REACH_QUANTILE))
    parts = _quietest_part(residual, valid, cells[edge] * step, freq[edge])
    parts = parts[np.isfinite(parts)]
    part_reading = float(np.percentile(parts, _FINE_EDGE_QUANTILE)) if len(parts) else float("nan")
    if not (part_reading >= border_above or reach >= border_above):
        return part_reading, float("nan"), reach
    # At most _BORDER_TILES of them, spread along the border: a quartile needs no more, and
    # each costs a demodulated window (~2.5 ms).
    pick = np.unique(np.linspace(0, int(edge.sum()) - 1, _BORDER_TILES).round().astype(int))
    centres, tile_freq = (cells[edge] * step + t // 2)[pick], freq[edge][pick]
    ratios = _border_ratio(residual.real.astype(np.float32), valid, centres, tile_freq)
    ratio = float(np.percentile(ratios, _FINE_EDGE_QUANTILE)) if len(ratios) else float("nan")
    return part_reading, ratio, reach


def _border_ratio(signal: np.ndarray, valid: np.ndarray, centres: np.ndarray, freq: np.ndarray) -> np.ndarray:
    """Return, for each edge tile centred at `centres` (y, x), the amplitude of its fringes (at `freq`, bins of a
    full tile) within _BORDER_STRIP px of the footprint's border over their amplitude further in.

    The signal around the tile (a window of two tiles, inside the footprint only) is
    demodulated at the tile's frequency and low-passed: a screen showing the reference
    keeps its fringes to the border (ratio about 1), a device's bezel leaves them fading
    there. The distance is to the footprint's border inside the picture, not to the
    photograph's frame. Tiles with too few pixels in either band are left out.
    """
    t = _TILE
    h, w = valid.shape
    dist = cv2.distanceTransform(valid.astype(np.uint8), cv2.DIST_L2, 3)
    out = []
    for (cy, cx), (fy, fx) in zip(centres, freq):
        y0, y1, x0, x1 = max(cy - t, 0), min(cy + t, h), max(cx - t, 0), min(cx + t, w)
        d = dist[y0:y1, x0:x1]
        strip = (d > 0) & (d <= _BORDER_STRIP)
        inner = (d > _BORDER_STRIP + _BORDER_GAP) & (d <= _BORDER_STRIP + _BORDER_GAP + _BORDER_DEPTH)
        if strip.sum() < 30 or inner.sum() < 200:
            continue
        v = valid[y0:y1, x0:x1].astype(np.float32)
        part = signal[y0:y1, x0:x1] * v
        part -= (part.sum() / v.sum()) * v
        # The carrier exp(-i phase) from its separable factors: no phase plane to take cos and sin of.
        carrier = np.outer(
            np.exp((-2j * np.pi / t) * fy * np.arange(y0, y1)), np.exp((-2j * np.pi / t) * fx * np.arange(x0, x1))
        ).astype(np.complex64)
        re = cv2.GaussianBlur(part * carrier.real, (0, 0), _BORDER_SIGMA)
        im = cv2.GaussianBlur(part * carrier.imag, (0, 0), _BORDER_SIGMA)
        amplitude = np.hypot(re, im) / (cv2.GaussianBlur(v, (0, 0), _BORDER_SIGMA) + 1e-6)
        out.append(float(amplitude[strip].mean() / (amplitude[inner].mean() + 1e-9)))
    return np.array(out, np.float32)


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Return the opponent chroma (R - G) + i (B - G) of a 0..255 RGB plane."""
    return ((rgb[:, :, 0] - rgb[:, :, 1]) + 1j * (rgb[:, :, 2] - rgb[:, :, 1])).astype(np.complex64)


def display_moire(
    evidence_rgb: np.ndarray,
    mapped_rgb: np.ndarray,
    valid: np.ndarray,
    *,
    file_size: tuple[int, int] | None = None,
    long_side: int = WORK_LONG_SIDE,
) -> float:
    """Return the strength of a narrow-band chroma peak over the aligned region (nan if too small).

    Both images are float32 RGB in 0..1 on the evidence's working plane; `valid` marks
    the reference's footprint; `file_size` (width, height) is a JPEG evidence file's full
    size, whose block grids (8 px luma, 16 px chroma) are left out where they fall on the
    plane decoded at `long_side` (None: not a JPEG, or unknown). Each tile's
    chroma-residual power spectrum is whitened by its own envelope and averaged with its
    neighbours' (fringes drift slowly across a screen, noise peaks do not repeat); the
    value is the _TILE_QUANTILE, over tiles, of the highest averaged peak at a frequency
    where the reference itself has none, counted only where it agrees with the
    frequency of the tiles around it: about 2-4 for photographs of prints and objects,
    tens for a photographed screen.
    """
    return display_moire_reading(evidence_rgb, mapped_rgb, valid, file_size=file_size, long_side=long_side).strength


class WorkingMoire(NamedTuple):
    """The working plane's reading: display_moire's strength, and tile_peaks' answer it was read from."""

    strength: float
    found: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None


def display_moire_reading(
    evidence_rgb: np.ndarray,
    mapped_rgb: np.ndarray,
    valid: np.ndarray,
    *,
    file_size: tuple[int, int] | None = None,
    long_side: int = WORK_LONG_SIDE,
) -> WorkingMoire:
    """Return display_moire's strength with the tiles it was read from (see working_fringes)."""
    reference = _chroma(mapped_rgb * 255.0)
    band = _BAND
    if file_size is not None:
        plane = (valid.shape[1], valid.shape[0])
        band = _file_band(file_size, plane, long_side, _CHROMA_PERIODS)
    found = tile_peaks(_chroma(evidence_rgb * 255.0) - reference, reference, valid, band)
    return WorkingMoire(_strength(found, parts=True), found)


class Fringes(NamedTuple):
    """The tiles whose fringes count on a plane: their grid cells (row, column, in steps of half a tile) and
    their frequencies (fy, fx, bins of a tile's spectrum), and the plane's scale against the working plane."""

    cells: np.ndarray
    freq: np.ndarray
    scale: int = 1


def _counted(found: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None, above: float, scale: int) -> Fringes:
    """Return the tiles of tile_peaks' answer `found` whose peak reaches `above` at their neighbours' frequency."""
    if found is None:
        return Fringes(np.zeros((0, 2), int), np.zeros((0, 2), int), scale)
    peaks, freq, cells, quiet = found
    keep = _consistent(freq, cells) & (quiet >= _QUIET_PART) & (peaks >= above)
    return Fringes(cells[keep], freq[keep], scale)


def working_fringes(reading: WorkingMoire, *, above: float) -> Fringes:
    """Return the tiles of the working plane's `reading` whose chroma fringes count (peaks at least `above`)."""
    return _counted(reading.found, above, 1)


# The working plane's fringes and the finer plane's are one pattern where, over the same
# part of the picture, the working plane's frequency is twice the finer plane's (bins of
# a tile on each: a tile of the finer plane spans half the picture), folded into the
# working plane's band: within _SAME_BINS on either axis (a bin of the finer plane is two
# of the working plane, and the fringes drift by up to _DRIFT_BINS over a tile's span).
_SAME_BINS = 3


def same_fringes(working: Fringes, finer: Fringes) -> float:
    """Return the share of `working`'s tiles whose frequency is that of a tile of `finer` within it (nan if none).

    A screen's moiré is one pattern of light in the photograph: both planes show it, the
    working plane in the chroma, the finer in the luma, at one frequency in the picture's
    own units. A woven or meshed product's beat with the sensor differs between the two:
    its chroma moiré comes of the Bayer mosaic's sampling, its luma moiré of the pixels'.
    """
    if not len(working.cells):
        return float("nan")
    step = _TILE // 2
    # The centres of the finer plane's tiles, in working-plane pixels.
    centres = (finer.cells * step + _TILE // 2) / finer.scale
    predicted = finer.freq * finer.scale
    matched = 0
    for (row, col), freq in zip(working.cells, working.freq):
        y0, x0 = row * step, col * step
        inside = (
            (centres[:, 0] >= y0) & (centres[:, 0] < y0 + _TILE) & (centres[:, 1] >= x0) & (centres[:, 1] < x0 + _TILE)
        )
        if not inside.any():
            continue
        for sign in (1, -1):
            d = np.abs((predicted[inside] - sign * freq + _TILE // 2) % _TILE - _TILE // 2).max(axis=1)
            if (d <= _SAME_BINS).any():
                matched += 1
                break
    return matched / len(working.cells)


def shared_fringes(fringes: Fringes, other: Fringes | None) -> float:
    """Return the share of `fringes`' tiles that `other`, read on the same plane of the same evidence against
    another reference, shows at the same frequency in the same place (nan if `fringes` has none; 0 where
    `other` is None: no fringes counted there).

    A screen's grid lies in the photograph, whatever reference it is held against; fringes
    that one reference shows and another does not are a difference between the two
    references, such as a lattice that one of them has. A tile of `other` matches where it
    sits on the same grid cell at a frequency within _DRIFT_BINS on either axis (a frequency
    and its negative are one).
    """
    if not len(fringes.cells):
        return float("nan")
    if other is None or not len(other.cells):
        return 0.0
    at = {(int(r), int(c)): f for (r, c), f in zip(other.cells, other.freq)}
    matched = 0
    for (row, col), freq in zip(fringes.cells, fringes.freq):
        theirs = at.get((int(row), int(col)))
        if theirs is None:
            continue
        if min(np.abs(theirs - freq).max(), np.abs(theirs + freq).max()) <= _DRIFT_BINS:
            matched += 1
    return matched / len(fringes.cells)


class FineMoire(NamedTuple):
    """The finer plane's reading: the fringes' strength, and how strongly they reach the footprint's edge.

    `edge` is nan unless `strength` reaches the caller's `edges_above` (the edge tiles'
    parts are read only then: a tenth of the finer plane's cost, paid by the few
    photographs whose fringes count).
    """

    strength: float
    edge: float
    border: float = float("nan")
    reach: float = float("nan")
    fringes: Fringes | None = None


def display_moire_fine(*args: Any, **kwargs: Any) -> float:
    """Return the strength of a narrow-band luma peak on the finer plane (nan if too small).

    The arguments are display_moire_fine_reading's; only its strength is returned.
    """
    return display_moire_fine_reading(*args, **kwargs).strength


def display_moire_fine_reading(
    finer_rgb: np.ndarray,
    reference_rgb: np.ndarray,
    homography: np.ndarray,
    valid: np.ndarray,
    *,
    reference_shape: tuple[int, int] | None = None,
    file_size: tuple[int, int] | None = None,
    long_side: int = FINE_LONG_SIDE,
    edges_above: float = float("inf"),
    border_above: float = -float("inf"),
) -> FineMoire:
    """Return the finer plane's reading: the strength of a narrow-band luma peak, and its edge (nan if too small).

    `finer_rgb` is the evidence at twice the working plane's resolution (uint8 RGB);
    `reference_rgb` (uint8) is the reference at a matching resolution (its finer plane),
    warped onto it by `homography` (the reference's working plane, of `reference_shape`
    (h, w), to the evidence's working plane; None: `reference_rgb` is that plane),
    sharp: its own patterns must show at full strength to be left out; `valid` is the
    working plane's footprint; `file_size` as for display_moire, at `long_side`.
    Fringes finer than the working plane resolves are read here, in the ratio of the
    evidence's luma to the reference's (a screen's lattice modulates the light of the
    picture it shows; JPEG keeps the luma at full resolution where it halves the
    chroma's). Same statistic as display_moire, with the demosaicing checkerboard's
    frequencies left out: about 3-5 for honest photographs. Where the strength reaches
    `edges_above`, the edge tiles are read by their quarter-size parts too (`edge`, see
    _edge_fringes), and where that reaches `border_above`, by the fringes' fall at the
    border (`border`): a screen showing the reference carries its fringes to the
    footprint's edge, a device that is the product has a bezel there.
    """
    h, w = finer_rgb.shape[:2]
    rh, rw = reference_rgb.shape[:2]
    sh, sw = reference_shape if reference_shape is not None else (rh, rw)
    up = np.diag([w / valid.shape[1], h / valid.shape[0], 1.0]) @ homography @ np.diag([sw / rw, sh / rh, 1.0])
    mapped = cv2.warpPerspective(reference_rgb.astype(np.float32), up, (w, h), flags=cv2.INTER_LINEAR)
    inside = cv2.resize(valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
    luma_e = np.log(finer_rgb.astype(np.float32) @ _LUMA + 8.0)
    luma_r = np.log(mapped @ _LUMA + 8.0)
    band = _FINE_BAND
    if file_size is not None:
        band = band & _file_band(file_size, (w, h), long_side, _LUMA_PERIODS)
    residual = luma_e - luma_r  # real: whitened through the real FFT (see _whitened)
    found = tile_peaks(residual, luma_r, inside, band, parts=False)
    strength = _strength(found, parts=False)
    if found is None or not strength >= edges_above:
        return FineMoire(strength, float("nan"))
    fringes = _counted(found, edges_above, round(w / valid.shape[1]))
    return FineMoire(strength, *_edge_fringes(residual, inside, found, border_above), fringes=fringes)


# A product with a lattice of its own (a weave, knit, mesh, patterned paper, the pixels of
# an enlarged small original) shows it in its reference; a screen's grid is in no
# reference: a catalogue picture shown on a display carries the display's lattice only in
# the photograph. The reference's lattice is read as the highest bin of its averaged
# whitened luma spectrum (tiles of _TILE, half overlapping, every tile of the plane) from
# _LATTICE_MIN_FREQ on (an 11 px knit is 0.09 cycle/px).
_LATTICE_MIN_FREQ = 0.05


def reference_lattice(reference_rgb: np.ndarray) -> float:
    """Return the strength of the reference's own lattice: its highest averaged whitened luma peak (nan if too small)."""
    luma = np.log(reference_rgb.astype(np.float32) @ _LUMA + 8.0)
    h, w = luma.shape
    t, step = _TILE, _TILE // 2
    if h < t or w < t:
        return float("nan")
    tiles = sliding_window_view(luma, (t, t))[::step, ::step].reshape(-1, t, t)
    total = np.zeros((t, t), np.float32)
    for k in range(0, len(tiles), 256):
        total += _whitened(np.ascontiguousarray(tiles[k : k + 256]), _WINDOW, _ENVELOPE_BINS).sum(axis=0)
    f = np.fft.fftshift(np.fft.fftfreq(t))
    fy, fx = np.meshgrid(f, f, indexing="ij")
    return float((total / len(tiles))[np.hypot(fx, fy) >= _LATTICE_MIN_FREQ].max())


# A device that is the product (a phone or monitor switched on) is pictured with its body
# or bezel on every side: its reference is framed by a uniform band, where no screen's grid
# can be. The band: 2 % of the reference's shorter side (at least 3 px), the outermost row
# left out (a JPEG's edge).
_FRAME_SHARE = 0.02


def reference_frame(reference_rgb: np.ndarray) -> float:
    """Return how much picture the reference carries at its border: the highest, over its four sides, of the
    90th percentile of the luma's deviation from the band's median (0..255; about 0 for a uniform frame)."""
    luma = reference_rgb.astype(np.float32) @ _LUMA
    h, w = luma.shape
    k = max(3, int(_FRAME_SHARE * min(h, w)))
    if h < 2 * k + 2 or w < 2 * k + 2:
        return float("nan")
    sides = (luma[1:k], luma[h - k : h - 1], luma[:, 1:k], luma[:, w - k : w - 1])
    return max(float(np.percentile(np.abs(side - np.median(side)), 90)) for side in sides)
