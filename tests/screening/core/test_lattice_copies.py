"""Copies of a lattice (knit, mesh, weave): corners that repeat cannot be paired, so pixels align them.

A knitted product's catalogue picture repeats one stitch: every ORB descriptor has a twin,
Lowe's ratio test keeps no match, and a forgery painted on the enlarged picture went
unaligned and so unflagged. The spectra of the two pictures tell the scale, phase
correlation the shift, and ECC refines the map; the derived decision then judges it as
any other candidate, and a stroke on the lattice is boxed against what the tile's own
lattice leaves, not against its steep edges.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from bench.accuracy import union_iou
from screening.core import align, analyse_reference, screen_evidence
from screening.core.align import dense_alignment, extract_features, match_features


def jpeg(img: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def stitches(width: int, height: int) -> np.ndarray:
    """Return one V-shaped stitch repeated over the picture (1 on the yarn, 0.35 between)."""
    stitch = np.zeros((8, 8), np.float32)
    for y in range(8):
        for x in range(8):
            stitch[y, x] = 1.0 if abs((x - 3.5) - (y - 4) * 0.5) < 1.6 or abs((x - 3.5) + (y - 4) * 0.5) < 1.6 else 0.35
    return np.tile(stitch, (height // 8 + 1, width // 8 + 1))[:height, :width]


def knit(width: int = 520, height: int = 420, seed: int = 3) -> np.ndarray:
    """Return a knitted picture: one V-shaped stitch repeated over yarn dyed in a slow gradient."""
    rng = np.random.default_rng(seed)
    lattice = stitches(width, height)
    start, end = rng.uniform(70, 230, 3), rng.uniform(70, 230, 3)
    across = np.linspace(0, 1, width, dtype=np.float32)[None, :, None]
    dye = start * (1 - across) + end * across
    return np.clip(lattice[:, :, None] * dye, 0, 255).astype(np.uint8)


def crack(img: np.ndarray, rng: np.random.Generator, centre: tuple[float, float], size: float):
    """Return (image, truth box) with a jittered dark polyline 2-3 px wide in a light halo."""
    core = np.zeros(img.shape[:2], np.float32)
    x, y, a = centre[0], centre[1], rng.uniform(0, 2 * np.pi)
    pts = [(x, y)]
    for _ in range(14):
        a += rng.normal(0, 0.3)
        x, y = x + np.cos(a) * size / 14, y + np.sin(a) * size / 14
        pts.append((x, y))
    cv2.polylines(core, [np.int32(pts).reshape(-1, 1, 2)], False, 1.0, 3, cv2.LINE_AA)
    halo = np.clip(cv2.GaussianBlur(core, (0, 0), 2.0) * 2 - core, 0, 1)
    out = img.astype(np.float32)
    out = out * (1 - 0.45 * halo[:, :, None]) + 225.0 * 0.45 * halo[:, :, None]
    out = out * (1 - 0.9 * core[:, :, None]) + 25.0 * 0.9 * core[:, :, None]
    out = np.clip(out, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(np.abs(out.astype(np.int16) - img.astype(np.int16)).max(axis=2) > 20)
    return out, (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


@pytest.fixture(scope="module")
def catalogue() -> np.ndarray:
    return knit()


@pytest.fixture(scope="module")
def reference(catalogue: np.ndarray):
    return analyse_reference(jpeg(catalogue, 92))


@pytest.fixture(scope="module")
def forgery(catalogue: np.ndarray):
    """The knit enlarged five times pixel for pixel (as a small original is), a crack painted, trimmed, saved at q88."""
    big = cv2.resize(catalogue, (catalogue.shape[1] * 5, catalogue.shape[0] * 5), interpolation=cv2.INTER_NEAREST)
    rng = np.random.default_rng(8)
    painted, (x, y, w, h) = crack(big, rng, (big.shape[1] * 0.45, big.shape[0] * 0.55), big.shape[0] * 0.3)
    top, left = round(big.shape[0] * 0.04), round(big.shape[1] * 0.03)
    trimmed = np.ascontiguousarray(painted[top:, left:])
    return jpeg(trimmed, 88), (x - left, y - top, w, h), trimmed.shape[:2]


def test_the_corners_of_a_knit_cannot_be_paired(reference, forgery):
    data, _, _ = forgery
    small = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    k = 640 / max(small.shape)
    small = cv2.resize(small, (round(small.shape[1] * k), round(small.shape[0] * k)), interpolation=cv2.INTER_AREA)
    assert match_features(reference.features, extract_features(small)) is None


def test_a_painted_copy_of_a_knit_is_found_by_its_pixels_and_its_crack_boxed(reference, forgery):
    data, box, (height, width) = forgery
    report = screen_evidence(data, references=[reference], with_artifacts=False)
    assert report.verdict == "derived_from_reference"
    derived = next(f for f in report.findings if f.code == "derived_from_reference")
    assert derived.params["alignment"] == "dense"
    assert "aligned by its pixels" in derived.detail
    regions = [r for f in report.findings if f.code == "local_edit" for r in f.regions]
    assert union_iou([box], regions, width, height) >= 0.5


def test_an_untouched_enlargement_of_the_knit_is_a_copy_with_nothing_boxed(catalogue, reference):
    big = cv2.resize(catalogue, (catalogue.shape[1] * 4, catalogue.shape[0] * 4), interpolation=cv2.INTER_NEAREST)
    report = screen_evidence(jpeg(big, 90), references=[reference], with_artifacts=False)
    assert report.verdict == "derived_from_reference"
    assert [f for f in report.findings if f.code == "local_edit"] == []


def test_pixels_align_nothing_between_flat_fields_or_unrelated_pictures(catalogue):
    flat = np.full((400, 500), 200, np.uint8)
    other_flat = np.full((420, 520), 205, np.uint8)
    assert dense_alignment(flat, other_flat) is None
    rng = np.random.default_rng(0)
    unrelated = cv2.GaussianBlur(rng.integers(0, 255, (480, 640), dtype=np.uint8), (0, 0), 3)
    assert dense_alignment(cv2.cvtColor(catalogue, cv2.COLOR_RGB2GRAY), unrelated) is None


def test_a_knit_of_the_same_stitch_in_other_colours_is_refused_before_ecc(catalogue, monkeypatch):
    """The spectra agree (the same stitch, at the same scale), the blurred colours do not: no ECC is spent."""
    rng = np.random.default_rng(4)
    height, width = 420, 520
    blotches = cv2.GaussianBlur(rng.uniform(0, 1, (height, width)).astype(np.float32), (0, 0), 40)
    dye = (blotches - blotches.mean()) / blotches.std() * 50 + 150
    other = np.clip(stitches(width, height) * dye, 0, 255).astype(np.uint8)
    other = cv2.resize(other, (round(width * 1.3), round(height * 1.3)), interpolation=cv2.INTER_NEAREST)
    reference = cv2.cvtColor(catalogue, cv2.COLOR_RGB2GRAY)
    _, _, response = align.spectral_scale(reference, other)
    assert response >= align._DENSE_MIN_SPECTRUM

    def no_ecc(*args):
        raise AssertionError("ECC ran on a pair the gate should have refused")

    monkeypatch.setattr(align, "_ecc", no_ecc)
    assert dense_alignment(reference, other) is None
