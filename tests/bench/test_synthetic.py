"""The second simulation is deterministic and its ground truth lines up with its pixels."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bench import synthetic

PRODUCT = synthetic.photo("coffee")[50:350, 80:560]
TEXTURES = [synthetic.photo("brick")]


def test_a_phone_photo_is_the_same_for_the_same_seed_and_differs_for_another():
    a, pa = synthetic.product_photo(PRODUCT, np.random.default_rng(7), TEXTURES, kind="object")
    b, pb = synthetic.product_photo(PRODUCT, np.random.default_rng(7), TEXTURES, kind="object")
    c, _ = synthetic.product_photo(PRODUCT, np.random.default_rng(8), TEXTURES, kind="object")
    assert a == b and pa == pb and a != c
    assert Image.open(io.BytesIO(a)).format == "JPEG"


def test_painted_damage_is_marked_where_the_pixels_changed():
    edited, mask = synthetic.paint_damage(PRODUCT, np.random.default_rng(3))
    assert mask.shape == PRODUCT.shape[:2] and mask.any()
    changed = np.abs(edited.astype(int) - PRODUCT.astype(int)).max(axis=2) > 20
    assert not (mask & ~changed).any()


def test_a_screen_photo_carries_its_mask_into_photo_pixels():
    edited, mask = synthetic.paint_damage(PRODUCT, np.random.default_rng(4))
    data, moved, params = synthetic.screen_photo(edited, mask, np.random.default_rng(4))
    photo = Image.open(io.BytesIO(data))
    assert moved.shape == (photo.height, photo.width) and moved.any()
    assert params["kind"] == "screen"
