"""Perceptual hash for the Django side's near-duplicate index, and what a turn leaves at the edges."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from skimage import data as photographs

from screening.core import decode_image, hamming, perceptual_hash, without_turn_fill


def _jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_it_is_a_64_bit_unsigned_integer(dev_set):
    value = perceptual_hash(decode_image(dev_set.references[0][2]))
    assert isinstance(value, int) and 0 <= value < 2**64


def test_a_recompressed_and_resized_copy_hashes_within_a_few_bits(dev_set):
    _, img, data = dev_set.references[1]
    small = np.asarray(Image.fromarray(img).resize((img.shape[1] // 2, img.shape[0] // 2)))
    a = perceptual_hash(decode_image(data))
    b = perceptual_hash(decode_image(_jpeg(small, 60)))
    assert hamming(a, b) <= 6


def test_the_same_bytes_hash_identically(dev_set):
    data = dev_set.references[2][2]
    assert hamming(perceptual_hash(decode_image(data)), perceptual_hash(decode_image(data))) == 0


def test_different_photos_are_far_apart(dev_set):
    hashes = [perceptual_hash(decode_image(data)) for _, _, data in dev_set.references]
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            assert hamming(hashes[i], hashes[j]) >= 16


def _turned(img: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(img).rotate(degrees, resample=Image.BICUBIC))


def test_the_fill_of_a_turn_along_the_edges_is_not_an_edit_but_a_box_inside_is():
    img = _turned(photographs.astronaut()[50:462, 50:462], 3)
    decoded = decode_image(_jpeg(img))
    top_strip, inside = (0, 0, 200, 15), (150, 150, 60, 60)
    assert without_turn_fill(decoded, [top_strip, inside]) == [inside]
