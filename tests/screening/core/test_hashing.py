"""Perceptual hash and keypoints for the Django side's near-duplicate index."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as photographs

from screening.core import (
    ReuseFeatures,
    decode_image,
    evidence_reuse_features,
    hamming,
    matching_points,
    perceptual_hash,
    without_turn_fill,
)
from screening.core.hashing import MATCHING_POINTS, STORED_KEYPOINTS, STORED_POINTS


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


# --- keypoints: reuse beyond the hash ---------------------------------------------------------


def _features(img: np.ndarray) -> ReuseFeatures:
    return evidence_reuse_features(decode_image(_jpeg(img)))


def _stored(img: np.ndarray) -> ReuseFeatures:
    return ReuseFeatures.from_bytes(_features(img).stored().to_bytes())


def _turned(img: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(img).rotate(degrees, resample=Image.BICUBIC))


def test_stored_keypoints_round_trip_to_a_sixty_fourth_of_a_pixel():
    features = _features(photographs.astronaut())
    back = ReuseFeatures.from_bytes(features.stored().to_bytes())
    assert len(back.points) == STORED_POINTS
    assert np.abs(back.points - features.points[:STORED_POINTS]).max() <= 1 / 128
    assert np.array_equal(back.descriptors, features.descriptors[:STORED_POINTS])


def test_something_else_than_stored_keypoints_is_refused():
    with pytest.raises(ValueError, match="not stored reuse features"):
        ReuseFeatures.from_bytes(b"\x01" + bytes(35))


def test_a_cropped_and_turned_copy_agrees_on_one_transform_and_shares_keys():
    img = photographs.chelsea()
    h, w = img.shape[:2]
    copy = _turned(img[h // 10 : h - h // 10, w // 10 : w - w // 10], 2)
    original, query = _stored(img), _features(copy)
    assert matching_points(query, original) >= 2 * MATCHING_POINTS
    shared = set(original.keys(keypoints=STORED_KEYPOINTS)) & set(query.keys(keypoints=128))
    assert len(shared) >= 5


@pytest.mark.parametrize(("first", "second"), [("astronaut", "camera"), ("coffee", "rocket"), ("page", "text")])
def test_unrelated_photographs_agree_on_no_transform(first, second):
    a, b = (np.asarray(Image.fromarray(getattr(photographs, n)()).convert("RGB")) for n in (first, second))
    assert matching_points(_features(a), _stored(b)) < MATCHING_POINTS


def test_a_plane_without_corners_has_no_keypoints_and_matches_nothing():
    flat = np.full((200, 300, 3), 128, np.uint8)
    features = _features(flat)
    assert len(features.points) == 0 and features.keys(keypoints=STORED_KEYPOINTS) == []
    assert matching_points(features, _stored(photographs.astronaut())) == 0


def test_the_fill_of_a_turn_along_the_edges_is_not_an_edit_but_a_box_inside_is():
    img = _turned(photographs.astronaut()[50:462, 50:462], 3)
    decoded = decode_image(_jpeg(img))
    top_strip, inside = (0, 0, 200, 15), (150, 150, 60, 60)
    assert without_turn_fill(decoded, [top_strip, inside]) == [inside]
