"""Perceptual hash for the Django side's near-duplicate index."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from screening.core import decode_image, hamming, perceptual_hash


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
