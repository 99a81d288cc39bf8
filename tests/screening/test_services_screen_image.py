"""The worker screens through the engine's one entry point, with the same error contract as the CLI."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from refunds import policy
from refunds.models import Policy
from refunds.states import RiskLevel
from screening import core
from screening import services as screening_services


def _photo() -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)


def _save(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, fmt, **kw)
    return buf.getvalue()


def test_it_returns_the_report_with_the_hash_of_the_plane_it_screened_and_that_plane():
    data = _save("JPEG", quality=90)
    report, decoded = screening_services.screen_image(data, references=[], delivered_at=None)
    assert report.verdict == "consistent"
    assert report.phash == core.perceptual_hash(decoded) == core.perceptual_hash(core.decode_image(data))
    assert report.findings == core.screen_evidence(data, references=[]).findings


def test_a_png_with_damaged_idat_is_refused_as_unreadable():
    png = bytearray(_save("PNG"))
    at = png.index(b"IDAT") + 4
    png[at + 100 : at + 400] = bytes(range(256)) + bytes(44)
    with pytest.raises(core.UnreadableImage) as info:
        screening_services.screen_image(bytes(png), references=[], delivered_at=None)
    assert info.value.reason_code in ("corrupt", "truncated")


def test_damaged_metadata_sends_the_application_to_people():
    ex = Image.Exif()
    ex[0x010F] = "Apple"
    tiff = bytearray(ex.tobytes().removeprefix(b"Exif\x00\x00"))
    (ifd0,) = struct.unpack(">I", tiff[4:8])
    tiff[ifd0 : ifd0 + 2] = b"\xff\xff"
    exif = b"Exif\x00\x00" + bytes(tiff)
    report, _ = screening_services.screen_image(_save("JPEG", quality=90, exif=exif), references=[], delivered_at=None)
    finding = report.finding(core.FindingCode.MALFORMED_METADATA)
    assert finding is not None
    views = [policy.FindingView(f.code, f.score, f.detail) for f in report.findings]
    assessment = policy.assess(Policy(), views)
    assert assessment.level == RiskLevel.SUSPICIOUS
    assert assessment.score == core.combined_risk([f for f in views if f.score >= 0.5])


def test_an_image_that_cannot_be_analysed_is_unreadable_as_the_engine_says(monkeypatch):
    from screening.core import screen as engine

    def degenerate(*args, **kwargs):
        raise ValueError("degenerate plane")

    monkeypatch.setattr(core, "screen_decoded", degenerate)
    monkeypatch.setattr(engine, "screen_decoded", degenerate)
    with pytest.raises(core.UnreadableImage) as info:
        screening_services.screen_image(_save("JPEG", quality=90), references=[], delivered_at=None)
    assert (info.value.reason_code, info.value.message) == (
        "analysis_failed",
        "the image could not be analysed (ValueError: degenerate plane)",
    )
