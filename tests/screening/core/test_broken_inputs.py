"""Broken files are never read as fine: damaged pixels are unreadable, damaged metadata is a finding."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from screening.core import UnreadableImage, decode_image, screen_evidence
from screening.core.metadata import exif_problems
from tests.screening.core import devset


def _photo(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(40, 220, 480 * 360 * 3).reshape(360, 480, 3)
    return np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)


def _encode(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, fmt, **kw)
    return buf.getvalue()


def _chunks(png: bytes):
    pos = 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        yield pos, length, png[pos + 4 : pos + 8]
        pos += 12 + length


def _scramble_idat(png: bytes, *, fix_crc: bool) -> bytes:
    """Overwrite a run of IDAT bytes with noise, optionally with a CRC that matches the damage."""
    out = bytearray(png)
    rng = np.random.default_rng(7)
    for pos, length, kind in _chunks(png):
        if kind == b"IDAT":
            start = pos + 8 + length // 3
            out[start : start + 512] = rng.integers(0, 256, 512, dtype=np.uint8).tobytes()
            if fix_crc:
                crc = zlib.crc32(kind + bytes(out[pos + 8 : pos + 8 + length])) & 0xFFFFFFFF
                out[pos + 8 + length : pos + 12 + length] = struct.pack(">I", crc)
            break
    return bytes(out)


def _stored_png(img: np.ndarray) -> bytes:
    """A PNG whose IDAT holds uncompressed (stored) deflate blocks: damage there decodes silently."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    h, w = img.shape[:2]
    raw = b"".join(b"\x00" + img[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 0)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fix_crc", [True, False], ids=["crc-matching", "crc-stale"])
def test_a_png_with_scrambled_idat_bytes_is_unreadable_not_consistent(fix_crc):
    report = screen_evidence(_scramble_idat(_encode("PNG"), fix_crc=fix_crc), references=[])
    assert report.verdict == "unreadable"
    assert report.findings[0].params["reason"] in ("corrupt", "truncated")


def test_a_png_whose_stored_pixels_were_overwritten_is_caught_by_its_crc():
    png = bytearray(_stored_png(_photo()))
    idat = png.index(b"IDAT")
    png[idat + 4000 : idat + 4100] = bytes(100)  # zlib cannot notice: the block is stored
    with pytest.raises(UnreadableImage) as info:
        decode_image(bytes(png))
    assert info.value.reason_code == "corrupt"


def test_an_intact_stored_png_still_decodes():
    assert decode_image(_stored_png(_photo())).width == 480


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_a_truncated_webp_is_unreadable(fraction):
    data = _encode("WEBP", quality=85)
    report = screen_evidence(data[: int(len(data) * fraction)], references=[])
    assert report.verdict == "unreadable" and report.risk == 1.0


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_a_truncated_heic_is_unreadable(fraction):
    import pillow_heif

    pillow_heif.register_heif_opener()
    data = _encode("HEIF", quality=80)
    report = screen_evidence(data[: int(len(data) * fraction)], references=[])
    assert report.verdict == "unreadable" and report.risk == 1.0


# --- metadata ------------------------------------------------------------------------------


def _jpeg_with_exif(exif: bytes, *, padding: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, "JPEG", quality=90, exif=exif)
    data = buf.getvalue()
    # A comment segment pads the file to the size of a phone photo without touching EXIF.
    com = b""
    while padding > 0:
        part = min(padding, 65000)
        com += b"\xff\xfe" + struct.pack(">H", part + 2) + bytes(part)
        padding -= part
    return data[:2] + com + data[2:]


def _tiff(exif: bytes) -> bytearray:
    """The TIFF structure of an EXIF block as Pillow writes it (big-endian, after "Exif\\0\\0")."""
    tiff = bytearray(exif.removeprefix(b"Exif\x00\x00"))
    assert tiff[:4] == b"MM\x00*"
    return tiff


def _ifd0_count_claiming(exif: bytes, count: int) -> bytes:
    tiff = _tiff(exif)
    (ifd0,) = struct.unpack(">I", tiff[4:8])
    tiff[ifd0 : ifd0 + 2] = struct.pack(">H", count)
    return b"Exif\x00\x00" + bytes(tiff)


def test_an_exif_ifd_claiming_65535_entries_is_a_finding_not_silence():
    exif = _ifd0_count_claiming(devset.exif_bytes(make="Apple", model="iPhone 16"), 0xFFFF)
    data = _jpeg_with_exif(exif, padding=1_500_000)
    assert len(data) > 1_500_000
    report = screen_evidence(data, references=[])
    finding = report.finding("malformed_metadata")
    assert finding is not None and finding.score >= 0.5
    assert "65535 entries" in finding.detail
    # The pixels are fine, so the image is still screened as an image.
    assert report.verdict == "consistent" and report.risk >= 0.45


def test_a_value_pointing_past_the_exif_block_is_a_finding():
    exif = _tiff(devset.exif_bytes(make="Apple", model="iPhone 16 Pro Max with a long name"))
    (ifd0,) = struct.unpack(">I", exif[4:8])
    # First entry (Make, ASCII, > 4 bytes) gets an offset far beyond the block.
    exif[ifd0 + 2 + 8 : ifd0 + 2 + 12] = struct.pack(">I", 0x7FFF0000)
    problems = exif_problems(bytes(exif))
    assert problems and "past the end" in problems[0]


def test_an_exif_ifd_loop_is_a_finding():
    exif = _tiff(devset.exif_bytes(make="Apple"))
    (ifd0,) = struct.unpack(">I", exif[4:8])
    (count,) = struct.unpack(">H", exif[ifd0 : ifd0 + 2])
    exif[ifd0 + 2 + 12 * count : ifd0 + 6 + 12 * count] = struct.pack(">I", ifd0)  # next IFD = itself
    assert any("loop" in p for p in exif_problems(bytes(exif)))


@pytest.mark.parametrize(
    "exif",
    [
        devset.exif_bytes(make="Apple", model="iPhone 16", taken="2026:11:29 09:00:00", offset="+08:00"),
        devset.exif_bytes(software="Snapseed 2.0", user_comment=b"ASCII\0\0\0hello"),
        devset.exif_bytes(description="a parcel"),
    ],
    ids=["camera", "software", "description"],
)
def test_sound_exif_blocks_have_no_problems(exif):
    assert exif_problems(exif) == []
    assert "malformed_metadata" not in screen_evidence(_jpeg_with_exif(exif), references=[]).codes


def test_a_block_that_is_not_tiff_is_a_problem():
    assert exif_problems(b"Exif\x00\x00garbage!") == ["the EXIF block has no valid TIFF header"]
