"""Bad files through the portal's forms: each one a form error, and nothing of the request stored."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from refunds.models import Rebuttal, RebuttalAttachment, ReferenceImage, RefundApplication
from tests.factories import jpeg
from tests.refunds.portal.media import mp4_header_claiming, small_mp4

pytestmark = pytest.mark.django_db


def png(size: tuple[int, int], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, "PNG")
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, "GIF")
    return buffer.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + os.urandom(400)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"PE\x00\x00" + os.urandom(300)
BAD_FILES = {
    "plain text": ("notes.jpg", b"the cup was fine when it left"),
    "gif": ("photo.gif", gif()),
    "pdf renamed": ("receipt.jpg", b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"),
    "elf renamed": ("photo.jpg", ELF),
    "exe renamed to mp4": ("packing.mp4", WINDOWS_EXE),
    "truncated jpeg": ("photo.jpg", jpeg(seed=1)[:1500]),
    "truncated png": ("photo.png", png((200, 200))[:-40]),
    "truncated mp4": ("packing.mp4", small_mp4()[:-200]),
    "mp4 claiming 10000 frames": ("packing.mp4", mp4_header_claiming(frames=10_000)),
    "mp4 without a movie header": ("packing.mp4", small_mp4()[:32] + b"\0" * 0),
    "decompression bomb": ("bomb.png", png((10_000, 10_000), mode="1")),
    "empty": ("photo.jpg", b""),
}


def stored_files() -> set[Path]:
    root = Path(settings.MEDIA_ROOT)
    return {path for path in root.rglob("*") if path.is_file()}


def contest(client, application, *files):
    return client.post(
        f"/portal/applications/{application.public_id}/contest/",
        {
            "reason_codes": ["shipped_intact"],
            "statement": "Intact.",
            "confirm": "on",
            "attachments": [SimpleUploadedFile(name, data) for name, data in files],
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )


def assert_refused_and_nothing_stored(response, before: set[Path]) -> None:
    assert response.status_code == 400, response.status_code
    page = response.content.decode()
    assert "error-summary" in page and "Packing photos, packing video, shipping proof:" in page
    assert not Rebuttal.objects.exists() and not RebuttalAttachment.objects.exists()
    assert stored_files() == before


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_attachment_is_a_form_error_and_nothing_is_stored(owner_client, awaiting, case):
    before = stored_files()
    response = contest(owner_client, awaiting, ("packing.jpg", jpeg(seed=2)), BAD_FILES[case])
    assert_refused_and_nothing_stored(response, before)
    assert RefundApplication.objects.get(pk=awaiting.pk).state == "awaiting_merchant"


def test_an_attachment_over_the_size_limit_is_refused_with_the_limit(owner_client, awaiting, settings):
    settings.UPLOAD_MAX_BYTES = 10_000
    before = stored_files()
    response = contest(owner_client, awaiting, ("big.jpg", jpeg(seed=3, size=(800, 600), quality=95)))
    assert_refused_and_nothing_stored(response, before)
    assert "larger than 10000 bytes" in response.content.decode()


def test_a_video_over_the_video_limit_is_refused(owner_client, awaiting, settings):
    settings.UPLOAD_MAX_VIDEO_BYTES = 1_024
    before = stored_files()
    assert_refused_and_nothing_stored(contest(owner_client, awaiting, ("packing.mp4", small_mp4())), before)


def test_more_files_than_allowed_are_refused(owner_client, awaiting, settings):
    settings.UPLOAD_MAX_FILES = 2
    before = stored_files()
    response = contest(owner_client, awaiting, *[(f"p{i}.jpg", jpeg(seed=i)) for i in range(3)])
    assert_refused_and_nothing_stored(response, before)


def test_a_real_packing_video_passes_the_same_checks(owner_client, awaiting):
    response = contest(owner_client, awaiting, ("packing.mp4", small_mp4()))
    assert response.status_code == 302 and RebuttalAttachment.objects.get().content_type == "video/mp4"


@pytest.mark.parametrize("case", sorted(set(BAD_FILES) | {"real mp4"}))
def test_a_bad_reference_photo_is_a_form_error_and_nothing_is_stored(owner_client, product, case):
    name, data = BAD_FILES.get(case) or ("packing.mp4", small_mp4())
    before, references = stored_files(), ReferenceImage.objects.count()
    response = owner_client.post(
        f"/portal/products/{product.public_id}/",
        {"kind": "shipped_item", "image": SimpleUploadedFile(name, data)},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400 and "Photo:" in response.content.decode()
    assert ReferenceImage.objects.count() == references and stored_files() == before


@hypothesis_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prefix=st.sampled_from([b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"\x00\x00\x00\x18ftypisom", b"RIFF"]),
    body=st.binary(min_size=1, max_size=2_000),
)
def test_random_bytes_behind_any_magic_number_are_a_form_error(owner_client, awaiting, prefix, body):
    before = stored_files()
    response = contest(owner_client, awaiting, ("file.bin", prefix + body))
    assert_refused_and_nothing_stored(response, before)
