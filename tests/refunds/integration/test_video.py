"""Packing videos: checked on upload by what they hold, and converted to a copy browsers play."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from django.utils import translation
from PIL import Image

from refunds.errors import ErrorCode, UploadRejected
from refunds.integration.uploads import validate_attachment
from refunds.integration.video import VideoNotPlayable, prepare
from tests.factories import upload
from tests.refunds.portal.media import mp4_with_sound, small_mp4, sound_only_mp4, upright_phone_mp4


def streams(data: bytes) -> dict[str, object]:
    with av.open(io.BytesIO(data)) as container:
        return {
            stream.type: (stream.codec_context.name, getattr(stream.codec_context, "pix_fmt", None))
            for stream in container.streams
        }


def top_level_boxes(data: bytes) -> list[bytes]:
    kinds, pos = [], 0
    while pos < len(data):
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        kinds.append(kind)
        pos += size
    return kinds


def test_an_mpeg4_part_2_video_becomes_h264_in_yuv420p_with_its_header_first_and_a_poster():
    assert streams(small_mp4())["video"][0] == "mpeg4"
    prepared = prepare(io.BytesIO(small_mp4()))
    data = prepared.video.read()
    assert streams(data)["video"] == ("h264", "yuv420p")
    boxes = top_level_boxes(data)
    assert boxes.index(b"moov") < boxes.index(b"mdat"), "moov first: playing starts before the download ends"
    with av.open(io.BytesIO(data)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 10
    poster = Image.open(io.BytesIO(prepared.poster))
    assert (poster.format, poster.size) == ("JPEG", (64, 48))


def test_the_sound_of_a_video_is_kept_as_aac():
    prepared = prepare(io.BytesIO(mp4_with_sound()))
    kinds = streams(prepared.video.read())
    assert kinds["video"][0] == "h264" and kinds["audio"][0] == "aac"


def test_a_large_picture_is_scaled_down_to_even_sides_for_watching(settings):
    settings.VIDEO_MAX_EDGE = 33
    prepared = prepare(io.BytesIO(small_mp4()))
    assert (prepared.width, prepared.height) == (32, 24)


def white_corner(poster: bytes) -> str:
    """Name the quarter of the poster that is white."""
    pixels = np.asarray(Image.open(io.BytesIO(poster)).convert("L"), dtype=float)
    h, w = pixels.shape
    quarters = {
        "top left": pixels[: h // 2, : w // 2],
        "top right": pixels[: h // 2, w // 2 :],
        "bottom left": pixels[h // 2 :, : w // 2],
        "bottom right": pixels[h // 2 :, w // 2 :],
    }
    return max(quarters, key=lambda name: quarters[name].mean())


@pytest.mark.parametrize(
    ("rotation", "corner"), [(-90, "top right"), (90, "bottom left"), (180, "bottom right"), (0, "top left")]
)
def test_a_video_filmed_with_the_phone_upright_is_turned_the_way_it_was_filmed(rotation, corner):
    prepared = prepare(io.BytesIO(upright_phone_mp4(rotation)))
    upright = rotation % 180 != 0
    assert (prepared.width, prepared.height) == ((32, 64) if upright else (64, 32))
    assert white_corner(prepared.poster) == corner
    with av.open(prepared.video) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 10, "no frame lost to reading the display matrix first"
    assert {(f.width, f.height, f.rotation) for f in frames} == {(prepared.width, prepared.height, 0)}


def test_a_file_without_a_picture_cannot_be_prepared():
    with pytest.raises(VideoNotPlayable) as caught:
        prepare(io.BytesIO(sound_only_mp4()))
    assert caught.value.code == ErrorCode.UNPLAYABLE_VIDEO


def test_an_upload_without_a_picture_is_refused_with_the_reason():
    with pytest.raises(UploadRejected) as caught:
        validate_attachment(upload(sound_only_mp4(), "sound.mp4"))
    assert caught.value.code == ErrorCode.UNPLAYABLE_VIDEO
    assert caught.value.status == 415


def test_an_upload_longer_than_the_limit_is_refused_naming_the_limit(settings):
    settings.VIDEO_MAX_SECONDS = 0
    with pytest.raises(UploadRejected) as caught, translation.override("en"):
        validate_attachment(upload(small_mp4(), "long.mp4"))
    assert caught.value.code == ErrorCode.VIDEO_TOO_LONG
    assert "0 seconds" in str(caught.value.message)


def test_an_upload_with_too_many_pixels_per_frame_is_refused(settings):
    settings.UPLOAD_MAX_PIXELS = 64 * 48 - 1
    with pytest.raises(UploadRejected) as caught:
        validate_attachment(upload(small_mp4(), "huge.mp4"))
    assert caught.value.code == ErrorCode.VIDEO_TOO_LARGE


def test_a_playable_upload_is_accepted_byte_for_byte():
    checked = validate_attachment(upload(mp4_with_sound(), "packing.mp4"))
    assert checked.content == mp4_with_sound()
    assert checked.content_type == "video/mp4"
