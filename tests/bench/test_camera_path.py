"""Source 3 of the accuracy benchmark: its cases are what they claim to be."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench import accuracy, camera_path

SEED = 7_000


def _decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def forgeries():
    """A forgery of each damage kind, of a few products, as `_task` makes them (enlarged, painted, cropped, encoded)."""
    out = []
    for index, kind in ((0, "scratch"), (1, "crack"), (5, "scratch"), (6, "tear")):
        product = camera_path.make_product(SEED, index)
        rng = np.random.default_rng([index, 99])
        edited, mask = camera_path.forged(product, kind, rng)
        img, m = camera_path._crop_keep(edited, mask, rng, 0.02)
        data, ext, _ = camera_path.encode(img, rng, (82, 95))
        out.append((kind, data, ext, camera_path.damage_box(m), m))
    return out


def test_products_are_deterministic_and_named_by_their_kind():
    a, b = camera_path.make_product(SEED, 3), camera_path.make_product(SEED, 3)
    assert np.array_equal(a.image, b.image)
    assert a.name == camera_path.product_names(SEED)[3] and a.name.startswith(a.kind)
    assert a.kind == "device" and a.screen is not None


def test_the_halves_share_no_seed_with_each_other_or_with_source_two():
    seeds = set(camera_path.SEEDS.values())
    assert len(seeds) == 2
    assert not seeds & {part.seed for parts in accuracy.HALVES.values() for part in parts}


def test_catalogue_pictures_are_not_source_two_photographs():
    used = set(accuracy.TUNING_PHOTOS) | set(accuracy.HOLDOUT_PHOTOS_WITH_CELL)
    assert not used & set(camera_path.SKIMAGE_PICTURES)


def test_thin_damage_is_at_least_half_of_the_forgeries():
    thin = sum(k in camera_path.THIN for k in camera_path.DAMAGE_CYCLE)
    assert thin * 2 >= len(camera_path.DAMAGE_CYCLE)


def test_forgeries_decode_at_two_to_four_thousand_pixels_with_their_box_inside(forgeries):
    for kind, data, _, box, mask in forgeries:
        img = _decode(data)
        h, w = img.shape[:2]
        assert 2000 <= max(h, w) <= 4000, kind
        assert mask.shape == (h, w)
        assert box is not None, kind
        x, y, bw, bh = box
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h, kind


def test_a_scratch_is_thin_relative_to_the_photo(forgeries):
    for kind, data, _, box, mask in forgeries:
        if kind != "scratch":
            continue
        img = _decode(data)
        x, y, bw, bh = box
        assert bw * bh <= 0.03 * img.shape[0] * img.shape[1]
        # Fine lines: they cover little of their own box.
        assert mask.sum() <= 0.35 * bw * bh


def test_a_screen_shows_its_sub_pixel_grid():
    content = np.full((20, 30, 3), 200, np.uint8)
    panel = camera_path.subpixel_panel(content, 30)
    assert panel.shape == (60, 90, 3)
    # Each pixel's three columns carry one primary each, and one row in three is black matrix.
    assert panel[0, 0, 0] > 0 and panel[0, 0, 1] == 0 and panel[0, 1, 1] > 0 and panel[0, 2, 2] > 0
    assert not panel[2::3].any()


def test_a_photograph_decodes_and_a_mask_follows_the_screen_into_it():
    product = camera_path.make_product(SEED, 3)  # a device
    rng = np.random.default_rng(5)
    content = product.content
    mask = np.zeros(content.shape[:2], bool)
    mask[content.shape[0] // 3 : content.shape[0] // 2, content.shape[1] // 3 : content.shape[1] // 2] = True
    data, ext, seen, params = camera_path.photograph(product, rng, "evasive-screen", mask=mask)
    img = _decode(data)
    assert img.shape[:2] == seen.shape and tuple(params["size"]) == (img.shape[1], img.shape[0])
    box = camera_path.damage_box(seen)
    assert box is not None
    x, y, bw, bh = box
    assert x + bw <= img.shape[1] and y + bh <= img.shape[0]
    assert 0.001 < seen.mean() < 0.2


def test_a_photograph_is_not_a_mirror_image_of_the_product():
    product = camera_path.make_product(SEED, 0)
    h, w = product.image.shape[:2]
    quadrants = {}
    for name, (ys, xs) in {"a": (0, 0), "b": (0, 1), "c": (1, 0)}.items():
        m = np.zeros((h, w), bool)
        m[ys * h // 2 : (ys + 1) * h // 2, xs * w // 2 : (xs + 1) * w // 2] = True
        quadrants[name] = m
    for seed in range(2):
        view = camera_path.View((400, 300), (3, 40), (0.3, 0.5), (0.0, 0.03), (0.0, 0.05), True, (0.0, 0.3), (0.3, 1.0))
        centres = {}
        for name, m in quadrants.items():
            _, seen, _ = camera_path.render(product, np.random.default_rng(seed), view, mask=m)
            ys, xs = np.nonzero(seen)
            centres[name] = np.array([xs.mean(), ys.mean()])
        ab, ac = centres["b"] - centres["a"], centres["c"] - centres["a"]
        # In the picture, right then down turns clockwise (positive with rows growing downward).
        assert ab[0] * ac[1] - ab[1] * ac[0] > 0, seed
