"""Safe, content-typed, downscaled decoding of uploaded images.

Only JPEG, PNG, WebP and HEIC are accepted, recognised by their leading bytes, never
by file name. Size limits are checked on the header before any pixel is decoded, so
a decompression bomb costs a header read. JPEGs are decoded in Pillow's draft mode
(1/2, 1/4 or 1/8 scale in the DCT domain) because screening only needs a plane of
about 500 pixels on the long side; that is what keeps screening within the cost of
a plain full decode (see bench/screening.py).
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image, ImageOps

from .errors import UnreadableImage
from .metadata import RawMetadata, collect_raw_metadata

__all__ = ["DecodedImage", "decode_image", "decode_plane", "sniff_format", "WORK_LONG_SIDE", "FINE_LONG_SIDE"]

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 30 * 1024 * 1024
# Nothing smaller can show damage to a reviewer (or give ORB a keypoint).
MIN_SIDE = 32

# Long side of the working plane. 640 keeps a 12 MP JPEG on the 1/8 draft scale
# (500x375), whose decode costs ~30 ms against ~73 ms for the full decode on the
# bench machine; ORB still finds >1000 keypoints on such a plane, and the painted
# edits in the dev set (>= 1 % of the area) stay >= 20 px wide on it.
WORK_LONG_SIDE = 640
# Draft decoding picks the smallest DCT scale whose result is at least this share of the
# plane's long side (480 px for the working plane).
_DRAFT_MIN_SHARE = 0.75
# The finer plane (see DecodedImage.finer_rgb): twice the working plane's resolution.
FINE_LONG_SIDE = 2 * WORK_LONG_SIDE

_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heic": "HEIF"}
MIME_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "heic": "image/heic"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}


@dataclass(frozen=True, eq=False)
class DecodedImage:
    """An image decoded once, at working resolution, with its raw metadata.

    `rgb` is the working plane (uint8, H x W x 3, long side <= WORK_LONG_SIDE);
    `width`/`height` are the full-resolution size after EXIF orientation, and
    `scale` maps full-resolution coordinates to working-plane coordinates; `source`
    keeps the file's bytes (already in memory) for the one check that needs a finer plane.
    """

    sha256: str
    format: str
    width: int
    height: int
    rgb: np.ndarray
    scale: float
    metadata: RawMetadata = field(repr=False)
    source: bytes = field(default=b"", repr=False)

    @property
    def gray(self) -> np.ndarray:
        """Return the working plane in grey levels (uint8)."""
        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)

    def finer_rgb(self) -> np.ndarray | None:
        """Return the image at up to FINE_LONG_SIDE on its long side (uint8 RGB), or None (see plane)."""
        return self.plane(FINE_LONG_SIDE)

    def plane(self, long_side: int) -> np.ndarray | None:
        """Return the image at up to `long_side` on its long side (uint8 RGB), or None.

        None when the working plane already holds every pixel of the file, or the source
        is not kept. Decoding it again cannot fail where the first decode succeeded; were
        it to, the finer look is skipped, never the screening.
        """
        return decode_plane(self.source, long_side) if self.source and self.rgb.shape[1] < self.width else None


def decode_plane(data: bytes, long_side: int) -> np.ndarray | None:
    """Return the already accepted image `data` at up to `long_side` on its long side, or None if it fails.

    The pixels only: the content hash and the metadata were taken by the first decode
    (the hash of a 12 MP phone JPEG and its metadata scan cost ~10 ms on the bench
    machine, for each finer plane), and the pixels come out of the same code.
    """
    try:
        return _decode(data, DEFAULT_MAX_PIXELS, DEFAULT_MAX_BYTES, long_side, pixels_only=True).rgb
    except UnreadableImage:
        return None


def sniff_format(data: bytes) -> str:
    """Return the image format named by the leading bytes, raise UnreadableImage if none is accepted."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 40), 4)}
        if brands & _HEIF_BRANDS:
            return "heic"
        raise UnreadableImage("unsupported_format", "ISO media file that is not a HEIC image")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith((b"<svg", b"<?xml")):
        raise UnreadableImage("unsupported_format", "SVG/XML documents are not accepted as images")
    if stripped.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<")):
        raise UnreadableImage("unsupported_format", "HTML/markup is not an image")
    if head[:4] == b"PK\x03\x04":
        raise UnreadableImage("unsupported_format", "ZIP archives are not images")
    if head.startswith(b"GIF8"):
        raise UnreadableImage("unsupported_format", "GIF is not an accepted image format")
    raise UnreadableImage("unsupported_format", "content is not a JPEG, PNG, WebP or HEIC image")


_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def _oriented_size(im: Image.Image, w: int, h: int) -> tuple[int, int, int]:
    """Return (width, height, EXIF orientation) of a w x h header size after orientation."""
    try:
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # a broken EXIF block must not make the pixels unreadable
        orientation = 1
    if orientation in (5, 6, 7, 8):
        return h, w, orientation
    return w, h, orientation


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    work_long_side: int = WORK_LONG_SIDE,
    with_digest: bool = True,
) -> DecodedImage:
    """Decode `data` into a working plane plus metadata, raise UnreadableImage(reason_code, message) if refused.

    Reason codes: empty, too_large, unsupported_format, too_many_pixels, too_small,
    truncated, corrupt. Without `with_digest` the content hash is left empty, for a caller
    that never reads it (1.8 ms for a 3 MB JPEG of bench/screening.py).
    """
    return _decode(data, max_pixels, max_bytes, work_long_side, with_digest=with_digest)


def _decode(
    data: bytes,
    max_pixels: int,
    max_bytes: int,
    work_long_side: int,
    *,
    pixels_only: bool = False,
    with_digest: bool = True,
) -> DecodedImage:
    """decode_image; with `pixels_only`, the content hash and the metadata are left empty."""
    if not data:
        raise UnreadableImage("empty", "the file is empty")
    if len(data) > max_bytes:
        raise UnreadableImage("too_large", f"the file has {len(data)} bytes, more than the limit of {max_bytes}")
    fmt = sniff_format(data)
    if fmt == "heic":
        _register_heif()
    digest = "" if pixels_only or not with_digest else hashlib.sha256(data).hexdigest()
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard only warns below 2x its global limit; ours is explicit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im: Image.Image = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[fmt]])
            # Limits come from the header alone (orientation swaps the sides, never
            # their product or the shorter one), before a single pixel is decoded.
            full_w, full_h = im.size
            if full_w <= 0 or full_h <= 0:
                raise UnreadableImage("corrupt", "the image has no pixels")
            if min(full_w, full_h) < MIN_SIDE:
                raise UnreadableImage(
                    "too_small", f"the image is {full_w}x{full_h} pixels; at least {MIN_SIDE} on each side are needed"
                )
            if full_w * full_h > max_pixels:
                raise UnreadableImage(
                    "too_many_pixels",
                    f"the image has {full_w}x{full_h} pixels, more than the limit of {max_pixels}",
                )
            if getattr(im, "n_frames", 1) > 1:
                im.seek(0)
            if fmt == "jpeg":
                long_side = max(im.size)
                draft_min = _DRAFT_MIN_SHARE * work_long_side
                if long_side > draft_min:
                    ratio = draft_min / long_side
                    im.draft("RGB", (max(1, int(im.size[0] * ratio)), max(1, int(im.size[1] * ratio))))
            # Pixels first, metadata after: reading a PNG's EXIF makes Pillow load the
            # pixels as a side effect, and a failure swallowed there (damaged IDAT) would
            # leave a half-decoded image that a second load() no longer re-checks.
            im.load()
            if fmt == "png":
                _verify_png(data)
            full_w, full_h, orientation = _oriented_size(im, full_w, full_h)
            metadata = RawMetadata() if pixels_only else collect_raw_metadata(im, data, fmt)
            if orientation != 1:
                im = ImageOps.exif_transpose(im)
            im = _to_rgb(im)
            w, h = im.size
            if max(w, h) > work_long_side:
                k = work_long_side / max(w, h)
                new_size = (max(1, round(w * k)), max(1, round(h * k)))
                reduce_by = int(max(w, h) // (work_long_side * 2))
                if reduce_by >= 2:  # integer box reduction first: cheap and alias-free
                    im = im.reduce(reduce_by)
                im = im.resize(new_size, Image.Resampling.BILINEAR, reducing_gap=None)
            rgb = np.asarray(im, dtype=np.uint8)
    except UnreadableImage:
        raise
    except Image.DecompressionBombError as exc:
        raise UnreadableImage("too_many_pixels", str(exc)) from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        struct.error,
        IndexError,
        KeyError,
        TypeError,
        RuntimeError,
        MemoryError,
    ) as exc:
        message = str(exc) or type(exc).__name__
        code = "truncated" if "truncated" in message.lower() else "corrupt"
        raise UnreadableImage(code, f"the {fmt.upper()} data cannot be decoded: {message}") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise UnreadableImage("corrupt", "the decoded image has an unexpected shape")
    scale = rgb.shape[1] / full_w
    return DecodedImage(
        sha256=digest,
        format=fmt,
        width=full_w,
        height=full_h,
        rgb=np.ascontiguousarray(rgb),
        scale=scale,
        metadata=metadata,
        source=data,
    )


def _verify_png(data: bytes) -> None:
    """Check every chunk's CRC, raise SyntaxError/OSError on damage.

    zlib notices most damage to IDAT, but bytes scrambled inside a stored block decode
    to wrong pixels without complaint; the chunk CRCs catch them (a cheap pass: no
    decompression).
    """
    probe = Image.open(io.BytesIO(data), formats=["PNG"])
    probe.verify()


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        # Composite over white: transparent pixels of a screenshot are white on screen.
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float32)
        top = max(float(arr.max()), 1.0)
        return Image.fromarray(
            (arr * (255.0 / (65535.0 if top > 255 else 255.0))).clip(0, 255).astype(np.uint8)
        ).convert("RGB")
    return im.convert("RGB")
