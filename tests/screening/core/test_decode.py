"""Safe decoding: accepted formats by content, limits, malformed files, orientation."""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from screening.core import UnreadableImage, decode_image, screen_evidence


def _photo(size=(640, 480), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def _encode(fmt: str, img: np.ndarray | None = None, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_photo() if img is None else img).save(buf, fmt, **kw)
    return buf.getvalue()


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height, with a tiny compressed first row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _corrupt_huffman(jpeg: bytes) -> bytes:
    i = jpeg.index(b"\xff\xc4")  # first DHT segment
    body = bytearray(jpeg)
    # Claim 255 codes of every length: more than any table can hold.
    for k in range(i + 5, i + 5 + 16):
        body[k] = 0xFF
    return bytes(body)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_it_decodes_each_accepted_format_by_content(fmt):
    decoded = decode_image(_encode(fmt))
    assert (decoded.width, decoded.height) == (640, 480)
    assert decoded.format == {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}[fmt]
    assert decoded.rgb.dtype == np.uint8 and decoded.rgb.shape[2] == 3


def test_it_decodes_heic_through_pillow_heif():
    pillow_heif = pytest.importorskip("pillow_heif")
    img = Image.fromarray(_photo())
    heif = pillow_heif.from_pillow(img)
    buf = io.BytesIO()
    try:
        heif.save(buf, quality=80)
    except Exception as exc:  # some builds ship the decoder only
        pytest.skip(f"HEIC encoder not available: {exc}")
    decoded = decode_image(buf.getvalue())
    assert decoded.format == "heic" and (decoded.width, decoded.height) == (640, 480)


def test_it_decodes_a_large_jpeg_in_draft_mode_to_a_small_plane():
    big = np.repeat(np.repeat(_photo((500, 375)), 8, axis=0), 8, axis=1)
    decoded = decode_image(_encode("JPEG", big, quality=85))
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert max(decoded.rgb.shape[:2]) <= 640
    assert decoded.scale == pytest.approx(decoded.rgb.shape[1] / 4000)


def test_it_applies_the_exif_orientation():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    data = _encode("JPEG", _photo((640, 480)), exif=exif.tobytes())
    decoded = decode_image(data)
    assert (decoded.width, decoded.height) == (480, 640)
    assert decoded.rgb.shape[:2] == (640, 480)


def test_a_jpeg_with_a_zip_appended_is_screened_as_the_image_it_is():
    jpeg = _encode("JPEG")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.html", "<script>alert(1)</script>")
    report = screen_evidence(jpeg + archive.getvalue(), references=[])
    assert report.verdict == "consistent"
    assert (report.width, report.height) == (640, 480)


MALFORMED = {
    "zero bytes": (b"", "empty"),
    "SVG": (
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "unsupported_format",
    ),
    "HTML named .png": (b"<!DOCTYPE html><html><body>not an image</body></html>", "unsupported_format"),
    "text named .jpg": (b"just some text, certainly not a JPEG\n", "unsupported_format"),
    "GIF": (b"GIF89a" + b"\x00" * 40, "unsupported_format"),
    "ZIP": (b"PK\x03\x04" + b"\x00" * 40, "unsupported_format"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_it_refuses_what_is_not_an_accepted_image(name):
    data, reason = MALFORMED[name]
    with pytest.raises(UnreadableImage) as info:
        decode_image(data)
    assert info.value.reason_code == reason
    assert info.value.message


def test_it_refuses_a_50000_by_50000_png_bomb_from_its_header_quickly_and_cheaply():
    bomb = _png_bomb(50_000, 50_000)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(UnreadableImage) as info:
        decode_image(bomb)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.value.reason_code == "too_many_pixels"
    assert elapsed < 1.0
    assert peak < 20 * 1024 * 1024


def test_it_refuses_files_over_the_byte_limit():
    with pytest.raises(UnreadableImage) as info:
        decode_image(_encode("PNG"), max_bytes=1000)
    assert info.value.reason_code == "too_large"


def test_it_refuses_images_over_the_pixel_limit():
    with pytest.raises(UnreadableImage) as info:
        decode_image(_encode("JPEG"), max_pixels=100_000)
    assert info.value.reason_code == "too_many_pixels"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_it_reports_a_truncated_file_as_unreadable(fmt):
    data = _encode(fmt)
    with pytest.raises(UnreadableImage) as info:
        decode_image(data[: len(data) // 2])
    assert info.value.reason_code in ("truncated", "corrupt")


def test_it_reports_a_corrupt_huffman_table_as_unreadable():
    with pytest.raises(UnreadableImage) as info:
        decode_image(_corrupt_huffman(_encode("JPEG")))
    assert info.value.reason_code == "corrupt"


@pytest.mark.parametrize("name", sorted(MALFORMED) + ["bomb", "truncated", "huffman"])
def test_screening_never_raises_and_says_why_a_file_is_unreadable(name):
    data = {
        "bomb": lambda: _png_bomb(50_000, 50_000),
        "truncated": lambda: _encode("JPEG")[:3000],
        "huffman": lambda: _corrupt_huffman(_encode("JPEG")),
    }.get(name, lambda: MALFORMED[name][0])()
    report = screen_evidence(data, references=[])
    assert report.verdict == "unreadable"
    (finding,) = report.findings
    assert finding.code == "unreadable" and finding.params["reason"]
    assert report.risk == 1.0


def test_random_garbage_after_a_jpeg_signature_never_escapes_as_an_exception():
    rng = np.random.default_rng(7)
    jpeg = _encode("JPEG")
    for _ in range(30):
        data = bytearray(jpeg)
        for pos in rng.integers(2, len(data), 20):
            data[pos] = int(rng.integers(0, 256))
        report = screen_evidence(bytes(data), references=[])
        assert report.verdict in ("consistent", "unreadable")


@pytest.mark.parametrize("size", [(1, 1), (1, 3000), (3000, 2)])
def test_it_refuses_images_too_small_to_screen(size):
    buf = io.BytesIO()
    Image.new("RGB", size).save(buf, "PNG")
    with pytest.raises(UnreadableImage) as info:
        decode_image(buf.getvalue())
    assert info.value.reason_code == "too_small"


@pytest.mark.parametrize(
    "make",
    [
        lambda: Image.fromarray(_photo()).convert("CMYK"),
        lambda: Image.fromarray((np.random.default_rng(1).random((120, 160)) * 65535).astype(np.uint16)),
        lambda: Image.fromarray(_photo()).convert("P"),
        lambda: Image.fromarray(_photo()).convert("LA"),
    ],
    ids=["CMYK JPEG", "16-bit PNG", "palette PNG", "grey+alpha PNG"],
)
def test_unusual_modes_are_decoded_to_rgb(make):
    im = make()
    buf = io.BytesIO()
    im.save(buf, "JPEG" if im.mode == "CMYK" else "PNG")
    decoded = decode_image(buf.getvalue())
    assert decoded.rgb.ndim == 3 and decoded.rgb.shape[2] == 3


def test_an_animated_webp_is_screened_as_its_first_frame():
    frames = [Image.fromarray(_photo(seed=1)), Image.fromarray(_photo(seed=2))]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:])
    assert screen_evidence(buf.getvalue(), references=[]).verdict == "consistent"


@settings(max_examples=60, deadline=None)
@given(
    st.binary(max_size=4096),
    st.sampled_from([b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP"]),
)
def test_arbitrary_bytes_never_escape_screening_as_an_exception(tail, head):
    report = screen_evidence(head + tail, references=[])
    assert report.verdict in ("consistent", "unreadable")
    assert 0.0 <= report.risk <= 1.0
