"""Labelled and broken evidence files, the same for every evaluation source.

AI-generation labels and generator texts that screening must find (GB 45438-2025 AIGC
fields in XMP, EXIF and PNG text; Stable Diffusion parameters, ComfyUI graphs and other
generators' texts) and damaged files it must handle (truncated, scrambled, bombs, markup,
damaged EXIF), each made from a source's own catalogue picture.
"""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image, PngImagePlugin

__all__ = ["BROKEN_VARIANTS", "LABEL_VARIANTS", "broken", "labelled", "png"]


def png(img: np.ndarray, info: PngImagePlugin.PngInfo | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def _save(img: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, **kw)
    return buf.getvalue()


AIGC = json.dumps(
    {
        "Label": "1",
        "ContentProducer": "001191330000MA2KXXXXXX0001",
        "ProduceID": "img-7781",
        "ReservedCode1": "",
        "ContentPropagator": "",
        "PropagateID": "",
        "ReservedCode2": "",
    }
)
SD = (
    "a broken ceramic mug on a kitchen table, photo, 50mm\nNegative prompt: cartoon, blurry\n"
    "Steps: 25, Sampler: Euler a, CFG scale: 6.5, Seed: 99182, Size: 1024x768, Model: sd_xl_base_1.0"
)


def _xmp(inner: str) -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" {inner}</rdf:Description></rdf:RDF></x:xmpmeta>'
    ).encode()


def _exif(**tags) -> bytes:
    ex = Image.Exif()
    sub = {}
    for key, value in tags.items():
        if key == "user_comment":
            sub[0x9286] = value
        else:
            ex[{"software": 0x0131, "description": 0x010E, "make": 0x010F}[key]] = value
    if sub:
        ex[0x8769] = sub
    return ex.tobytes()


def labelled(img: np.ndarray, variant: int) -> bytes:
    """Return `img` carrying one of the AI-generation labels or generator texts screening must find."""
    attr = 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/" TC260:AIGC="' + AIGC.replace('"', "&quot;") + '">'
    comfy = json.dumps({"4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}}})
    makers = [
        lambda: _save(img, "JPEG", quality=90, xmp=_xmp(attr)),
        lambda: _save(img, "WEBP", quality=90, xmp=_xmp(attr)),
        lambda: _save(
            img,
            "JPEG",
            quality=90,
            exif=_exif(user_comment=b"UNICODE\0" + ('{"AIGC": ' + AIGC + "}").encode("utf-16-be")),
        ),
        lambda: _save(img, "JPEG", quality=90, exif=_exif(user_comment=b"ASCII\0\0\0AIGC=" + AIGC.encode())),
        lambda: _save(img, "JPEG", quality=90, exif=_exif(description='{"AIGC": ' + AIGC + "}")),
        lambda: _png_text(img, "AIGC", AIGC),
        lambda: _png_text(img, "parameters", SD),
        lambda: _save(img, "JPEG", quality=90, exif=_exif(user_comment=b"ASCII\0\0\0" + SD.encode())),
        lambda: _save(img, "JPEG", quality=90, exif=_exif(user_comment=b"UNICODE\0" + SD.encode("utf-16-be"))),
        lambda: _save(img, "JPEG", quality=90, exif=_exif(user_comment=b"UNICODE\0" + SD.encode("utf-16-le"))),
        lambda: _save(img, "WEBP", quality=90, exif=_exif(user_comment=b"UNICODE\0" + SD.encode("utf-16-be"))),
        lambda: _png_text(img, "prompt", comfy),
        lambda: _save(img, "JPEG", quality=90, exif=_exif(user_comment=b"ASCII\0\0\0" + comfy.encode())),
        lambda: _png_text(img, "Description", "mug, cracked --ar 4:3 --v 6.1 Job ID: 5f1e Midjourney"),
        lambda: _png_text(img, "Software", "DALL·E 3"),
        lambda: _save(img, "JPEG", quality=90, exif=_exif(software="Adobe Firefly Image 3")),
    ]
    return makers[variant % len(makers)]()


LABEL_VARIANTS = 16


def _png_text(img: np.ndarray, key: str, value: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text(key, value)
    return png(img, info)


def broken(img: np.ndarray, variant: int) -> tuple[bytes, str]:
    """Return (bytes, expectation) of a damaged file: 'unreadable' or 'malformed_metadata'."""
    import struct
    import zlib

    jpg = _save(img, "JPEG", quality=88)
    whole_png = png(img)
    if variant == 0:
        return jpg[: len(jpg) // 2], "unreadable"
    if variant == 1:
        return whole_png[: len(whole_png) * 2 // 3], "unreadable"
    if variant in (2, 3):
        out = bytearray(whole_png)
        i = out.index(b"IDAT") + 4
        n = struct.unpack(">I", out[i - 8 : i - 4])[0]
        out[i + n // 3 : i + n // 3 + 256] = (
            np.random.default_rng(variant).integers(0, 256, 256, dtype=np.uint8).tobytes()
        )
        if variant == 3:
            out[i + n : i + n + 4] = struct.pack(">I", zlib.crc32(bytes(out[i - 4 : i + n])) & 0xFFFFFFFF)
        return bytes(out), "unreadable"
    if variant == 4:
        webp = _save(img, "WEBP", quality=85)
        return webp[: int(len(webp) * 0.9)], "unreadable"
    if variant == 5:
        import pillow_heif

        pillow_heif.register_heif_opener()
        heic = _save(img, "HEIF", quality=80)
        return heic[: int(len(heic) * 0.9)], "unreadable"
    if variant == 6:
        return b"", "unreadable"
    if variant == 7:
        return b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "unreadable"
    if variant == 8:
        ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0)
        chunk = lambda k, d: struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d) & 0xFFFFFFFF)  # noqa: E731
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(
            b"IEND", b""
        ), "unreadable"
    if variant == 9:
        out = bytearray(jpg)
        i = out.index(b"\xff\xc4")
        out[i + 5 : i + 21] = b"\xff" * 16
        return bytes(out), "unreadable"
    exif = bytearray(_exif(make="Apple").removeprefix(b"Exif\x00\x00"))
    (ifd0,) = struct.unpack(">I", exif[4:8])
    if variant == 10:  # an IFD claiming 65 535 entries, in a file of phone-photo size
        exif[ifd0 : ifd0 + 2] = b"\xff\xff"
        data = _save(img, "JPEG", quality=88, exif=b"Exif\x00\x00" + bytes(exif))
        pad = b"".join(b"\xff\xfe" + struct.pack(">H", 65002) + bytes(65000) for _ in range(22))
        return data[:2] + pad + data[2:], "malformed_metadata"
    if variant == 11:  # a value far past the block
        exif[ifd0 + 2 + 8 : ifd0 + 2 + 12] = struct.pack(">I", 0x7FFF0000)
        exif[ifd0 + 2 + 4 : ifd0 + 2 + 8] = struct.pack(">I", 4096)
        return _save(img, "JPEG", quality=88, exif=b"Exif\x00\x00" + bytes(exif)), "malformed_metadata"
    if variant == 12:  # an IFD chain that loops
        (count,) = struct.unpack(">H", exif[ifd0 : ifd0 + 2])
        exif[ifd0 + 2 + 12 * count : ifd0 + 6 + 12 * count] = struct.pack(">I", ifd0)
        return _save(img, "JPEG", quality=88, exif=b"Exif\x00\x00" + bytes(exif)), "malformed_metadata"
    if variant == 13:
        return b"GIF89a" + bytes(200), "unreadable"
    return jpg[:600], "unreadable"


BROKEN_VARIANTS = 15
