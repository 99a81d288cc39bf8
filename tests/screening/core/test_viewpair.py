"""The two-view check: a real item seen from two angles is three-dimensional, a flat picture is not.

The buyer's first photo and the second one asked for from another angle: a real pair (the
stereo photographs of a motorcycle scikit-image ships), items the tests render in 3-D and
photograph twice, the flat pictures a forger could offer instead, and inputs that are not
photos at all. Seeds are fixed and none belongs to bench/viewpair.py's tuning half.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from bench import synthetic, viewpair_scenes
from screening.core import ViewPairResult, ViewPairVerdict, compare_views

ITEM_SEEDS = (11, 12)


@pytest.fixture(scope="module")
def motorcycle() -> tuple[bytes, bytes]:
    return synthetic.jpeg(synthetic.photo("motorcycle")), synthetic.jpeg(synthetic.photo("motorcycle_right"))


def test_a_real_motorcycle_photographed_by_a_stereo_camera_reads_as_three_dimensional(motorcycle):
    result = compare_views(*motorcycle)
    assert result.verdict == ViewPairVerdict.CONSISTENT_3D, result
    assert result.matches >= 100 and result.parallax_px > 10
    assert result.damage_in_both is None


@pytest.mark.parametrize("seed", ITEM_SEEDS)
def test_a_damaged_item_photographed_from_two_angles_is_three_dimensional_with_its_damage_in_both(seed):
    pair = viewpair_scenes.item_views(seed)
    result = compare_views(pair.first, pair.second, damage_box=pair.damage_box)
    assert result.verdict == ViewPairVerdict.CONSISTENT_3D, result
    assert result.homography_inlier_share < 0.9
    assert result.damage_in_both is True, result


@pytest.mark.parametrize("seed", ITEM_SEEDS)
def test_the_damaged_picture_printed_and_photographed_again_reads_flat(seed):
    pair = viewpair_scenes.reprinted(seed)
    result = compare_views(pair.first, pair.second, damage_box=pair.damage_box)
    assert result.verdict == ViewPairVerdict.FLAT, result
    assert result.homography_inlier_share >= 0.9
    # The print carries the painted damage: it is there, and flatness is what gives it away.
    assert result.damage_in_both is True, result


@pytest.mark.parametrize("seed", ITEM_SEEDS)
def test_a_second_view_generated_from_a_painted_edit_reads_flat_and_lacks_the_damage(seed):
    pair = viewpair_scenes.generated_view(seed)
    result = compare_views(pair.first, pair.second, damage_box=pair.damage_box)
    assert result.verdict == ViewPairVerdict.FLAT, result
    assert result.damage_in_both is False, result
    assert "does not appear" in result.explanation


def test_the_same_photo_sent_twice_reads_flat(motorcycle):
    result = compare_views(motorcycle[0], motorcycle[0])
    assert result.verdict == ViewPairVerdict.FLAT
    assert result.homography_inlier_share == 1.0 and result.parallax_px == 0.0


def test_photos_of_unrelated_things_read_unrelated():
    pair = viewpair_scenes.unrelated(ITEM_SEEDS[0])
    result = compare_views(pair.first, pair.second)
    assert result.verdict == ViewPairVerdict.UNRELATED, result
    assert result.damage_in_both is None


def test_the_motorcycle_and_a_rendered_item_are_unrelated(motorcycle):
    result = compare_views(motorcycle[0], viewpair_scenes.item_views(ITEM_SEEDS[0]).second)
    assert result.verdict == ViewPairVerdict.UNRELATED, result


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00" * 100, b"<html><body>not a photo</body></html>", b"\xff\xd8\xff\xe0" + b"\x13" * 500],
    ids=["empty", "zeros", "html", "broken-jpeg"],
)
def test_garbage_reads_unreadable_without_raising(motorcycle, garbage):
    for first, second, which in ((garbage, motorcycle[1], "first"), (motorcycle[0], garbage, "second")):
        result = compare_views(first, second, damage_box=(10, 10, 20, 20))
        assert result.verdict == ViewPairVerdict.UNREADABLE
        assert result.matches == 0 and result.damage_in_both is None
        assert result.explanation.startswith(f"The {which} photo cannot be read")


def test_a_blank_photo_is_unreadable_for_lack_of_texture(motorcycle):
    blank = synthetic.jpeg(np.full((600, 800, 3), 128, np.uint8))
    result = compare_views(motorcycle[0], blank)
    assert result.verdict == ViewPairVerdict.UNREADABLE
    assert "too little texture" in result.explanation


def test_a_truncated_second_photo_is_unreadable(motorcycle):
    result = compare_views(motorcycle[0], motorcycle[1][: len(motorcycle[1]) // 3])
    assert result.verdict == ViewPairVerdict.UNREADABLE


def test_a_box_of_no_area_or_a_tiny_working_size_is_the_callers_mistake(motorcycle):
    with pytest.raises(ValueError, match="damage_box"):
        compare_views(*motorcycle, damage_box=(10, 10, 0, 5))
    with pytest.raises(ValueError, match="max_side"):
        compare_views(*motorcycle, max_side=32)


def test_a_box_outside_the_second_view_cannot_be_judged(motorcycle):
    # The stereo pair's right camera does not see the left image's leftmost 100 px.
    result = compare_views(*motorcycle, damage_box=(0, 200, 12, 40))
    assert result.damage_in_both is None


def test_the_result_is_json_ready_with_the_verdict_as_its_value(motorcycle):
    result = compare_views(*motorcycle, damage_box=(300, 200, 60, 60))
    data = json.loads(json.dumps(result.as_dict()))
    assert set(data) == {
        "verdict",
        "matches",
        "homography_inlier_share",
        "parallax_px",
        "damage_in_both",
        "explanation",
    }
    assert data["verdict"] == "consistent_3d" and isinstance(data["damage_in_both"], bool)
    assert 0.0 <= data["homography_inlier_share"] <= 1.0


def test_parallax_is_stated_at_the_normalised_size_whatever_the_working_size(motorcycle):
    small = compare_views(*motorcycle, max_side=512)
    large = compare_views(*motorcycle, max_side=1024)
    assert small.verdict == large.verdict == ViewPairVerdict.CONSISTENT_3D
    assert small.parallax_px == pytest.approx(large.parallax_px, rel=0.35)


def test_a_result_is_a_frozen_value():
    result = ViewPairResult(ViewPairVerdict.FLAT, 10, 1.0, 0.0, None, "x")
    with pytest.raises(AttributeError):
        result.matches = 3  # type: ignore[misc]


def test_exif_rotated_photos_are_compared_upright(motorcycle):
    # A phone stores the pixels sideways and says so in EXIF; the box is in upright pixels.
    left = cv2.imdecode(np.frombuffer(motorcycle[0], np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    sideways = np.ascontiguousarray(np.rot90(left, k=1))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90° clockwise to show
    rotated = synthetic.jpeg(sideways, 92, exif=exif.tobytes())
    result = compare_views(rotated, motorcycle[1])
    assert result.verdict == ViewPairVerdict.CONSISTENT_3D, result
