"""Provenance metadata: AIGC implicit labels, C2PA manifests, software, camera data, capture time."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from PIL import Image, PngImagePlugin

from screening.core import screen_evidence
from screening.core.metadata import RawMetadata, read_c2pa
from tests.screening.core import devset

PLAIN = Image.new("RGB", (96, 64), (120, 80, 40))
AIGC = devset.aigc_json()
LABEL_CODES = {"aigc_label", "c2pa_ai_generated"}


def _jpeg(**kw) -> bytes:
    buf = io.BytesIO()
    PLAIN.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def _png(text: dict[str, str] | None = None, itxt: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    for k, v in (itxt or {}).items():
        info.add_itxt(k, v)
    buf = io.BytesIO()
    PLAIN.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _webp(**kw) -> bytes:
    buf = io.BytesIO()
    PLAIN.save(buf, "WEBP", **kw)
    return buf.getvalue()


def _codes(data: bytes, **kw) -> set[str]:
    return set(screen_evidence(data, references=[], **kw).codes)


XMP_ATTRIBUTE = devset.xmp_packet(
    'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" TC260:AIGC="' + AIGC.replace('"', "&quot;") + '">'
)
XMP_ELEMENT = devset.xmp_packet(
    'xmlns:aigc="http://example.com/any/ns/">' + "<aigc:AIGC>" + AIGC.replace("<", "&lt;") + "</aigc:AIGC>"
)

LABELLED = {
    "XMP attribute in JPEG": lambda: _jpeg(xmp=XMP_ATTRIBUTE),
    "XMP element in JPEG": lambda: _jpeg(xmp=XMP_ELEMENT),
    "XMP in WebP": lambda: _webp(xmp=XMP_ATTRIBUTE),
    "XMP in PNG iTXt": lambda: _png(itxt={"XML:com.adobe.xmp": XMP_ELEMENT.decode()}),
    "EXIF UserComment UNICODE": lambda: _jpeg(
        exif=devset.exif_bytes(user_comment=b"UNICODE\0" + ('{"AIGC": ' + AIGC + "}").encode("utf-16-be"))
    ),
    "EXIF UserComment ASCII": lambda: _jpeg(
        exif=devset.exif_bytes(user_comment=b"ASCII\0\0\0" + ("AIGC=" + AIGC).encode())
    ),
    "EXIF ImageDescription": lambda: _jpeg(exif=devset.exif_bytes(description='{"AIGC": ' + AIGC + "}")),
    "PNG tEXt AIGC": lambda: _png(text={"AIGC": AIGC}),
    "PNG iTXt AIGC": lambda: _png(itxt={"AIGC": AIGC}),
}


@pytest.mark.parametrize("where", sorted(LABELLED))
def test_an_aigc_implicit_label_is_found_wherever_the_standard_allows_it(where):
    report = screen_evidence(LABELLED[where](), references=[])
    label = report.finding("aigc_label")
    assert label is not None, where
    assert label.params["producer"] == devset.AIGC_VALUE["ContentProducer"]
    assert label.params["label"] == "1"
    assert devset.AIGC_VALUE["ContentProducer"] in label.detail
    assert report.risk >= 0.9


UNLABELLED = {
    "plain JPEG": lambda: _jpeg(),
    "camera JPEG": lambda: _jpeg(exif=devset.exif_bytes(make="Xiaomi", model="14 Ultra", taken="2026:11:29 09:00:00")),
    "PNG with unrelated JSON": lambda: _png(text={"Comment": json.dumps({"Label": "fragile", "weight": 3})}),
    "XMP without AIGC": lambda: _jpeg(
        xmp=devset.xmp_packet('xmlns:dc="http://purl.org/dc/elements/1.1/" dc:title="box">')
    ),
    "UserComment prose": lambda: _jpeg(exif=devset.exif_bytes(user_comment=b"ASCII\0\0\0shot on my phone {not json}")),
    "ComfyUI workflow": lambda: _png(
        text={
            "workflow": json.dumps({"nodes": [{"type": "KSampler"}]}),
            "prompt": json.dumps({"3": {"class_type": "KSampler"}}),
        }
    ),
}


@pytest.mark.parametrize("what", sorted(UNLABELLED))
def test_a_file_without_a_label_is_never_flagged_for_one(what):
    assert not (_codes(UNLABELLED[what]()) & LABEL_CODES)


def test_no_dev_set_image_is_flagged_for_a_label(dev_set):
    for s in dev_set.samples:
        assert not (set(dev_set.reports[s.name].codes) & LABEL_CODES), s.name


# --- C2PA -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def c2pa_signer():
    c2pa = pytest.importorskip("c2pa")
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "reviewhub tests"),
            ]
        )

    def usage(*, sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(
            digital_signature=not sign,
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=sign,
            crl_sign=sign,
            encipher_only=False,
            decipher_only=False,
        )

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    validity = dict(not_valid_before=now - dt.timedelta(days=1), not_valid_after=now + dt.timedelta(days=7))
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Throwaway test CA"))
        .issuer_name(name("Throwaway test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity["not_valid_before"])
        .not_valid_after(validity["not_valid_after"])
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("Throwaway test signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity["not_valid_before"])
        .not_valid_after(validity["not_valid_after"])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    info = c2pa.C2paSignerInfo(alg=c2pa.C2paSigningAlg.ES256, sign_cert=chain, private_key=pem, ta_url=None)
    return c2pa.Signer.from_info(info)


def _signed(signer, source_type: str, fmt: str) -> bytes:
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": "ImageGen Test", "version": "1.0"}],
        "title": "generated",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": f"http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}",
                        }
                    ]
                },
            }
        ],
    }
    source = io.BytesIO(_jpeg() if fmt == "jpeg" else _png())
    out = io.BytesIO()
    c2pa.Builder(json.dumps(manifest)).sign(signer, f"image/{fmt}", source, out)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
@pytest.mark.parametrize("source_type", ["trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia"])
def test_a_c2pa_manifest_declaring_ai_generation_is_flagged_even_if_untrusted(c2pa_signer, fmt, source_type):
    report = screen_evidence(_signed(c2pa_signer, source_type, fmt), references=[])
    finding = report.finding("c2pa_ai_generated")
    assert finding is not None
    assert finding.params["source_types"] == [source_type]
    assert finding.params["generator"] == "ImageGen Test"
    assert finding.params["trusted"] is False


def test_a_c2pa_manifest_of_a_camera_capture_is_not_flagged(c2pa_signer):
    assert "c2pa_ai_generated" not in _codes(_signed(c2pa_signer, "digitalCapture", "jpeg"))


def test_a_manifest_store_the_reader_refuses_is_still_read_from_its_bytes():
    junk = (
        b"\xff\xd8\xff\xeb\x00\x40JP\x00\x01jumbc2pa"
        + b"digitalSourceType"
        + b"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    )
    info = read_c2pa(junk, "jpeg")
    assert info["ai_source_types"] == ["trainedAlgorithmicMedia"] and info["reader"] == "bytes"


# --- software ----------------------------------------------------------------------------

SOFTWARE = {
    "Photoshop in EXIF Software": (
        lambda: _jpeg(exif=devset.exif_bytes(software="Adobe Photoshop 26.1 (Windows)")),
        "Adobe Photoshop",
        False,
    ),
    "Meitu in EXIF Software": (lambda: _jpeg(exif=devset.exif_bytes(software="美图秀秀".encode())), "Meitu", False),
    "GIMP as XMP CreatorTool": (
        lambda: _jpeg(xmp=devset.xmp_packet('xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="GIMP 2.10">')),
        "GIMP",
        False,
    ),
    "Snapseed in EXIF Software": (lambda: _jpeg(exif=devset.exif_bytes(software="Snapseed 2.0")), "Snapseed", False),
    "Stable Diffusion parameters": (
        lambda: _png(text={"parameters": "a cracked vase\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M"}),
        "Stable Diffusion",
        True,
    ),
    "ComfyUI workflow": (
        lambda: _png(text={"prompt": json.dumps({"3": {"class_type": "KSampler", "inputs": {}}})}),
        "ComfyUI",
        True,
    ),
    "Midjourney description": (
        lambda: _png(text={"Description": "cracked vase --v 6 Job ID: 1234 Midjourney"}),
        "Midjourney",
        True,
    ),
    "DALL-E software": (lambda: _png(text={"Software": "DALL·E 3"}), "DALL-E", True),
}


@pytest.mark.parametrize("what", sorted(SOFTWARE))
def test_editing_and_generating_software_is_named(what):
    make, name, generator = SOFTWARE[what]
    finding = screen_evidence(make(), references=[]).finding("editing_software")
    assert finding is not None and name in finding.params["software"]
    assert finding.params["generator"] is generator
    assert finding.score == (0.7 if generator else 0.4)


def test_camera_firmware_is_not_editing_software():
    data = _jpeg(exif=devset.exif_bytes(make="HUAWEI", model="P60", software="HarmonyOS 4.2.0"))
    assert "editing_software" not in _codes(data)


# --- camera metadata and capture time ----------------------------------------------------------------

DELIVERED = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def test_missing_camera_metadata_is_a_weak_finding():
    report = screen_evidence(_jpeg(), references=[])
    finding = report.finding("no_camera_metadata")
    assert finding is not None and finding.score <= 0.2
    assert report.verdict == "consistent" and report.risk < 0.1


def test_camera_make_and_model_silence_the_missing_metadata_finding():
    assert "no_camera_metadata" not in _codes(_jpeg(exif=devset.exif_bytes(make="Apple", model="iPhone 16")))


def test_a_photo_taken_before_delivery_is_flagged_using_its_utc_offset():
    # 19:30 at +08:00 is 11:30 UTC, half an hour before delivery.
    data = _jpeg(exif=devset.exif_bytes(make="Apple", taken="2026:11:25 19:30:00", offset="+08:00"))
    finding = screen_evidence(data, references=[], delivered_at=DELIVERED).finding("captured_before_delivery")
    assert finding is not None and finding.params["zone_known"] is True
    assert finding.params["hours_before"] == 0.5


def test_a_photo_taken_after_delivery_is_not_flagged():
    data = _jpeg(exif=devset.exif_bytes(make="Apple", taken="2026:11:25 20:30:00", offset="+08:00"))
    assert "captured_before_delivery" not in _codes(data, delivered_at=DELIVERED)


def test_without_an_offset_only_a_capture_more_than_14_hours_earlier_is_certain():
    near = _jpeg(exif=devset.exif_bytes(make="Apple", taken="2026:11:25 02:00:00"))
    far = _jpeg(exif=devset.exif_bytes(make="Apple", taken="2026:11:24 20:00:00"))
    assert "captured_before_delivery" not in _codes(near, delivered_at=DELIVERED)
    assert "captured_before_delivery" in _codes(far, delivered_at=DELIVERED)


def test_a_naive_delivery_time_is_taken_as_utc():
    data = _jpeg(exif=devset.exif_bytes(make="Apple", taken="2026:11:25 19:30:00", offset="+08:00"))
    assert "captured_before_delivery" in _codes(data, delivered_at=DELIVERED.replace(tzinfo=None))


def test_raw_metadata_with_nothing_in_it_gives_only_the_weak_finding():
    from screening.core.metadata import provenance_findings

    assert [f.code for f in provenance_findings(RawMetadata(), delivered_at=DELIVERED)] == ["no_camera_metadata"]


# --- Stable Diffusion parameters in EXIF ----------------------------------------------------

SD_PARAMETERS = (
    "a cracked ceramic vase on a wooden table, photo\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567, Size: 768x768, Model: sdxl_base"
)


@pytest.mark.parametrize(
    "encoding",
    [
        ("ASCII", b"ASCII\0\0\0" + SD_PARAMETERS.encode()),
        ("UNICODE big-endian", b"UNICODE\0" + SD_PARAMETERS.encode("utf-16-be")),
        ("UNICODE little-endian", b"UNICODE\0" + SD_PARAMETERS.encode("utf-16-le")),
    ],
    ids=lambda e: e[0],
)
def test_stable_diffusion_parameters_in_a_jpeg_user_comment_name_the_generator(encoding):
    _, comment = encoding
    finding = screen_evidence(_jpeg(exif=devset.exif_bytes(user_comment=comment)), references=[]).finding(
        "editing_software"
    )
    assert finding is not None and finding.params["software"] == ["Stable Diffusion"]
    assert finding.params["generator"] is True and finding.params["location"] == "EXIF UserComment"


def test_stable_diffusion_parameters_in_a_webp_user_comment_name_the_generator():
    data = _webp(exif=devset.exif_bytes(user_comment=b"UNICODE\0" + SD_PARAMETERS.encode("utf-16-be")))
    finding = screen_evidence(data, references=[]).finding("editing_software")
    assert finding is not None and finding.params["generator"] is True


def test_a_comfyui_graph_in_a_user_comment_names_comfyui():
    graph = json.dumps({"3": {"class_type": "KSampler", "inputs": {"steps": 20}}})
    data = _jpeg(exif=devset.exif_bytes(user_comment=b"ASCII\0\0\0" + graph.encode()))
    assert screen_evidence(data, references=[]).finding("editing_software").params["software"] == ["ComfyUI"]


@pytest.mark.parametrize(
    "comment",
    [b"ASCII\0\0\0Steps: 3 flights up to my door", b"ASCII\0\0\0box arrived crushed", b"\0" * 8 + b"    "],
    ids=["steps-prose", "prose", "blank"],
)
def test_an_ordinary_user_comment_names_no_software(comment):
    assert "editing_software" not in _codes(_jpeg(exif=devset.exif_bytes(make="Apple", user_comment=comment)))
