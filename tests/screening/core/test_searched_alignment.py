"""Copies that neither corners nor spectra align are found by searching the reference over scales.

A woven label whose lettering differs from its dye in colour only shows, in grey, nothing but
its twill: ORB pairs no corner, and phase correlation lands a period off. A crop of a smooth
picture (a colour field with soft veins) has no corner and no spectral peak to tell its scale
by. Both are the catalogue picture transformed in software, so an alignment exists: the
reference is searched for the evidence at scales a step apart, on the reference's own
principal colour axis, and ECC refines the best place.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from screening.core import align, analyse_reference, screen_evidence
from screening.core.align import searched_alignment


def jpeg(img: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def woven_label(width: int = 660, height: int = 440) -> np.ndarray:
    """Return a twill (4 px) dyed purple, with lettering and a frame in a brown of the same lightness."""
    yy, xx = np.mgrid[0:height, 0:width]
    twill = ((xx // 4 + yy // 4) % 3 == 0).astype(np.float32)
    shade = np.where(twill > 0, 0.7 + 0.3 * np.sin(np.pi * (yy % 4) / 4), 0.7 + 0.3 * np.sin(np.pi * (xx % 4) / 4))
    text = np.zeros((height, width), np.uint8)
    cv2.putText(text, "MADE IN EU", (50, 220), cv2.FONT_HERSHEY_DUPLEX, 2.0, 255, 6)
    cv2.putText(text, "MAISON", (70, 350), cv2.FONT_HERSHEY_DUPLEX, 1.0, 255, 3)
    cv2.rectangle(text, (20, 26), (width - 20, height - 26), 255, 4)
    purple, brown = np.float32([180, 30, 200]), np.float32([130, 80, 40])  # luma 94 and 90
    lettering = (text > 127).astype(np.float32)[:, :, None]
    return np.clip((purple * (1 - lettering) + brown * lettering) * shade[:, :, None], 0, 255).astype(np.uint8)


def smooth_picture(width: int = 600, height: int = 560) -> np.ndarray:
    """Return a green field with slow shading and a few soft dark veins: no corner, no spectral peak."""
    rng = np.random.default_rng(5)
    shading = cv2.resize(rng.normal(0, 1, (5, 5)).astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    veins = np.zeros((height, width), np.float32)
    for _ in range(4):
        x, y, angle = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0, np.pi)
        points = []
        for _ in range(40):
            angle += rng.normal(0, 0.15)
            x, y = x + 20 * np.cos(angle), y + 20 * np.sin(angle)
            points.append((x, y))
        cv2.polylines(veins, [np.int32(points).reshape(-1, 1, 2)], False, 1.0, 9, cv2.LINE_AA)
    veins = cv2.GaussianBlur(veins, (0, 0), 4)
    green = np.float32([100, 178, 100])
    img = green * (1 + 0.06 * shading[:, :, None]) - 45 * veins[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def crack(img: np.ndarray, start: tuple[int, int], length: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Return (image, truth box) with a jittered dark polyline 3 px wide."""
    rng = np.random.default_rng(2)
    x, y, angle = float(start[0]), float(start[1]), 0.6
    points = [(x, y)]
    for _ in range(12):
        angle += rng.normal(0, 0.35)
        x, y = x + np.cos(angle) * length / 12, y + np.sin(angle) * length / 12
        points.append((x, y))
    out = img.copy()
    cv2.polylines(out, [np.int32(points).reshape(-1, 1, 2)], False, (235, 235, 235), 3, cv2.LINE_AA)
    ys, xs = np.nonzero(np.abs(out.astype(np.int16) - img.astype(np.int16)).max(axis=2) > 20)
    return out, (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))


def turned(img: np.ndarray, degrees: float, scale: float) -> np.ndarray:
    """Return `img` scaled and turned about its centre, the corners filled white as an editor fills them."""
    h, w = img.shape[:2]
    size = (round(w * scale), round(h * scale))
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, scale)
    matrix[:, 2] += (np.array(size) - np.array([w, h])) / 2
    return cv2.warpAffine(img, matrix, size, flags=cv2.INTER_AREA, borderValue=(255, 255, 255))


@pytest.fixture(scope="module")
def label() -> np.ndarray:
    return woven_label()


@pytest.fixture(scope="module")
def label_reference(label: np.ndarray):
    return analyse_reference(jpeg(label, 92))


def derived(report) -> dict:
    assert report.verdict == "derived_from_reference", [f.code for f in report.findings]
    return next(f for f in report.findings if f.code == "derived_from_reference").params


def test_a_label_lettered_in_its_dyes_lightness_shows_nothing_but_twill_in_grey(label):
    grey = cv2.cvtColor(label, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lettering = cv2.GaussianBlur(grey, (0, 0), 4)
    assert float(lettering.std()) < 3.0  # the twill averaged out leaves (almost) no lettering


def test_a_painted_label_enlarged_and_trimmed_is_aligned_by_the_search_and_judged_derived(label, label_reference):
    big = cv2.resize(label, (label.shape[1] * 4, label.shape[0] * 4), interpolation=cv2.INTER_NEAREST)
    painted, _ = crack(big, (1300, 500), 500)
    trimmed = np.ascontiguousarray(painted[30:-20, 40:-25])
    params = derived(screen_evidence(jpeg(trimmed, 88), references=[label_reference], with_artifacts=False))
    assert params["alignment"] == "dense"


def test_a_painted_label_scaled_by_0_7_and_turned_5_degrees_is_judged_derived(label, label_reference):
    painted, _ = crack(label, (330, 120), 160)
    evidence = turned(painted, 5.0, 0.7)
    params = derived(screen_evidence(jpeg(evidence, 90), references=[label_reference], with_artifacts=False))
    assert params["alignment"] == "dense"


def test_a_crop_of_a_smooth_picture_is_aligned_and_its_crack_boxed():
    picture = smooth_picture()
    reference = analyse_reference(jpeg(picture, 92))
    big = cv2.resize(picture, (picture.shape[1] * 4, picture.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    crop = np.ascontiguousarray(big[500:1700, 400:1900])  # half the picture, enlarged
    painted, box = crack(crop, (500, 500), 420)
    report = screen_evidence(jpeg(painted, 90), references=[reference], with_artifacts=False)
    assert derived(report)["alignment"] == "dense"
    from bench.accuracy import union_iou

    regions = [r for f in report.findings if f.code == "local_edit" for r in f.regions]
    assert union_iou([box], regions, painted.shape[1], painted.shape[0]) >= 0.5


def test_the_search_finds_the_crops_scale_and_place():
    picture = smooth_picture()
    crop = picture[125:425, 100:475]  # a crop enlarged 1.6 times on its way to 600 px
    evidence = cv2.resize(crop, (600, 480), interpolation=cv2.INTER_CUBIC)
    alignment = searched_alignment(picture, evidence)
    assert alignment is not None
    corner = alignment.homography @ np.array([100.0, 125.0, 1.0])
    assert np.allclose(corner[:2] / corner[2], (0, 0), atol=2.0)
    assert alignment.homography[0, 0] == pytest.approx(1.6, rel=0.02)


def test_flat_fields_are_not_searched(monkeypatch):
    def no_search(*args):
        raise AssertionError("a flat field was searched")

    monkeypatch.setattr(align, "_search", no_search)
    flat = np.full((400, 500, 3), 200, np.uint8)
    assert searched_alignment(flat, np.full((420, 520, 3), 198, np.uint8)) is None


def test_unrelated_pictures_find_no_alignment(label):
    rng = np.random.default_rng(0)
    unrelated = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (0, 0), 6)
    assert searched_alignment(label, unrelated) is None
    assert searched_alignment(smooth_picture(), unrelated) is None


def test_an_uncropped_copy_is_aligned_as_the_whole_reference_before_any_search(monkeypatch, label):
    def no_search(*args):
        raise AssertionError("an uncropped copy was searched")

    monkeypatch.setattr(align, "_search", no_search)
    trimmed = label[4:-4, 6:-6]  # a forgery's trimmed edges
    evidence = cv2.resize(
        trimmed, (trimmed.shape[1] * 13 // 10, trimmed.shape[0] * 13 // 10), interpolation=cv2.INTER_AREA
    )
    alignment = searched_alignment(label, evidence)
    assert alignment is not None
    corner = alignment.homography @ np.array([6.0, 4.0, 1.0])
    assert np.allclose(corner[:2] / corner[2], (0, 0), atol=2.0)
    assert alignment.homography[0, 0] == pytest.approx(1.3, rel=0.02)
