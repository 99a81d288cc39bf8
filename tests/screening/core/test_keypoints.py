"""Keypoints for the reuse index: keys that survive a crop and a turn, a geometric check that
links copies and never strangers, and a compact stored form."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as photographs

from screening.core import ReuseFeatures, decode_image, evidence_reuse_features, matching_points
from screening.core.keypoints import MATCHING_POINTS, STORED_KEYPOINTS, STORED_POINTS


def _jpeg(img: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _features(img: np.ndarray) -> ReuseFeatures:
    return evidence_reuse_features(decode_image(_jpeg(img)))


def _stored(img: np.ndarray) -> ReuseFeatures:
    return ReuseFeatures.from_bytes(_features(img).stored().to_bytes())


def _turned(img: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(img).rotate(degrees, resample=Image.BICUBIC))


def test_stored_keypoints_round_trip_to_a_sixty_fourth_of_a_pixel():
    features = _features(photographs.astronaut())
    back = ReuseFeatures.from_bytes(features.stored().to_bytes())
    assert len(back.points) == STORED_POINTS and back.size == features.size
    assert np.abs(back.points - features.points[:STORED_POINTS]).max() <= 1 / 128
    assert np.array_equal(back.descriptors, features.descriptors[:STORED_POINTS])


def test_something_else_than_stored_keypoints_is_refused():
    with pytest.raises(ValueError, match="not stored reuse features"):
        ReuseFeatures.from_bytes(b"\x01" + bytes(39))


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


def test_a_picture_shown_small_inside_another_is_not_taken_for_a_copy():
    # Its keypoints agree on one transform, but it covers too little of the new image: a
    # print photographed in a scene, not the picture cropped or framed.
    img = photographs.astronaut()
    scene = np.asarray(Image.fromarray(photographs.grass()).convert("RGB").resize((1024, 1024)))
    scene = scene.copy()
    scene[300:556, 300:556] = np.asarray(Image.fromarray(img).resize((256, 256)))
    assert matching_points(_features(scene), _stored(img)) == 0
