"""content_box cuts a screenshot's bars and margins off the evidence, never a product's own flat or patterned rows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bench import camera_path, synthetic
from screening.core.decode import WORK_LONG_SIDE
from screening.core.localise import _row_medians, content_box
from tests.screening.core import devset


def _working_plane(img: np.ndarray) -> np.ndarray:
    """The picture as screening compares it: its long side at most WORK_LONG_SIDE."""
    h, w = img.shape[:2]
    k = WORK_LONG_SIDE / max(h, w)
    if k >= 1:
        return img
    return cv2.resize(img, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)


# Catalogue photos of source 3's tuning half (bench/camera_path.py, seeds 7000 and 8000)
# whose patterned rows engine 2026.12.9 cut off as screenshot bars: knits and a woven
# label (a stitch or a thread changes from row to row), gift papers (sparse stars or
# dots on one paper colour, a ribbon across every row).
@pytest.mark.parametrize(
    ("seed", "index"),
    [(7000, 34), (8000, 10), (8000, 26), (7000, 14), (7000, 25), (7000, 9), (8000, 1)],
    ids=["knit", "knit-2", "knit-3", "woven", "gift-paper", "gift-paper-2", "gift-paper-3"],
)
def test_a_patterned_product_keeps_every_row_and_column(seed, index):
    product = camera_path.make_product(seed, index)
    plane = _working_plane(product.image)
    assert content_box(plane) == (0, 0, plane.shape[1], plane.shape[0])


def _picture_box(frame_mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(frame_mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _assert_cut_to(box: tuple[int, int, int, int], picture: tuple[int, int, int, int]) -> None:
    """The bars and margins are gone and the picture stays, but for a pixel or two of its resampled edge."""
    assert all(abs(a - b) <= 2 for a, b in zip(box, picture, strict=True)), (box, picture)


@pytest.mark.parametrize(
    ("photo", "seed"), [("astronaut", 1), ("coffee", 0), ("astronaut", 2)], ids=["desktop", "desktop-2", "phone"]
)
def test_a_screenshot_of_a_forgery_loses_its_status_bar_app_bars_and_margins(photo, seed):
    img = synthetic.photo(photo)
    frame, picture = camera_path.screenshot_frame(img, np.ones(img.shape[:2], bool), np.random.default_rng(seed))
    plane = _working_plane(frame)
    k = plane.shape[1] / frame.shape[1]
    _assert_cut_to(content_box(plane), tuple(round(v * k) for v in _picture_box(picture)))


def test_a_screenshot_of_an_order_page_loses_its_header_and_the_text_lines_below_the_photo():
    img = synthetic.photo("coffee")
    frame, picture = devset.screenshot_frame(img, np.ones(img.shape[:2], np.uint8), np.random.default_rng(2))
    plane = _working_plane(frame)
    k = plane.shape[1] / frame.shape[1]
    _assert_cut_to(content_box(plane), tuple(round(v * k) for v in _picture_box(picture)))


@pytest.mark.parametrize("width", [639, 640])
def test_the_rows_medians_are_numpys_to_the_bit(width):
    rng = np.random.default_rng(width)
    levels = np.clip(rng.normal(128, 40, (96, width)), 0, 255).astype(np.uint8)
    levels[:8] = rng.integers(0, 256, (8, width), dtype=np.uint8)
    for plane in (levels, levels.T):
        expected = np.median(plane.astype(np.float32), axis=1, keepdims=True)
        found = _row_medians(plane)
        assert found.dtype == expected.dtype
        assert np.array_equal(found, expected)
