"""Validate uploads by their content, before anything of a request is stored (invariant 7)."""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

from refunds.errors import ErrorCode, UploadRejected

# Pillow format name → (MIME type, extension). The declared name and content type of an
# upload are ignored: only what the bytes are counts.
IMAGE_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
    "HEIF": ("image/heic", "heic"),
}
MP4_BRANDS = {b"isom", b"iso2", b"mp41", b"mp42", b"avc1", b"M4V ", b"qt  "}


@dataclass(frozen=True)
class ValidatedUpload:
    original_name: str
    content: bytes
    sha256: str
    content_type: str
    extension: str
    width: int | None
    height: int | None

    @property
    def storage_name(self) -> str:
        return f"{self.sha256[:2]}/{self.sha256[2:4]}/{self.sha256}.{self.extension}"


def _read_bounded(upload: IO[bytes], *, limit: int, field: str) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > limit:
        raise UploadRejected(
            ErrorCode.FILE_TOO_LARGE, limit=limit, details={"param": field, "limit": limit}, status=413
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise UploadRejected(
            ErrorCode.FILE_TOO_LARGE, limit=limit, details={"param": field, "limit": limit}, status=413
        )
    if not data:
        raise UploadRejected(ErrorCode.EMPTY_FILE, details={"param": field})
    return data


def _metadata_bytes(image: Image.Image) -> int:
    """Bytes of metadata the header parse found: a JPEG's APPn and COM segments, the EXIF, XMP,
    ICC and text blocks of the other formats."""
    applist = getattr(image, "applist", None)
    if applist is not None:
        return sum(len(segment) for _, segment in applist)
    return sum(len(value) for value in image.info.values() if isinstance(value, bytes | str))


_ZIP_END = b"PK\x05\x06"
_ZIP_END_SIZE = 22


def _carries_archive(data: bytes) -> bool:
    """True if a ZIP archive ends the file (an image with an archive appended: a polyglot that
    unpacks as code elsewhere). Only an end record that closes the file exactly and points at
    a central directory counts, so the bytes of a photo do not match by chance."""
    tail_start = max(0, len(data) - _ZIP_END_SIZE - 0xFFFF)
    at = data.rfind(_ZIP_END, tail_start)
    while at >= 0:
        if len(data) - at >= _ZIP_END_SIZE:
            directory_size, _, comment = struct.unpack_from("<IIH", data, at + 12)
            directory = at - directory_size
            if at + _ZIP_END_SIZE + comment == len(data) and (
                directory_size == 0 or (directory >= 0 and data.startswith(b"PK\x01\x02", directory))
            ):
                return True
        at = data.rfind(_ZIP_END, tail_start, at)
    return False


def _refuse_archive(data: bytes, *, field: str) -> None:
    if _carries_archive(data):
        raise UploadRejected(ErrorCode.UNSUPPORTED_MEDIA_TYPE, details={"param": field, "detected": "ZIP"}, status=415)


def validate_image(upload: IO[bytes], *, field: str = "evidence") -> ValidatedUpload:
    """Return the upload as a checked image; raise UploadRejected if it is anything else."""
    data = _read_bounded(upload, limit=settings.UPLOAD_MAX_BYTES, field=field)
    _refuse_archive(data, field=field)
    name = getattr(upload, "name", "") or ""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                width, height = image.size
                if fmt not in IMAGE_FORMATS:
                    raise UploadRejected(
                        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
                        details={"param": field, "detected": fmt},
                        status=415,
                    )
                if width * height > settings.UPLOAD_MAX_PIXELS:
                    raise UploadRejected(
                        ErrorCode.TOO_MANY_PIXELS,
                        limit=settings.UPLOAD_MAX_PIXELS,
                        details={"param": field, "width": width, "height": height},
                        status=413,
                    )
                metadata = _metadata_bytes(image)
                if metadata > settings.UPLOAD_MAX_METADATA_BYTES:
                    raise UploadRejected(
                        ErrorCode.METADATA_TOO_LARGE,
                        limit=settings.UPLOAD_MAX_METADATA_BYTES,
                        details={"param": field, "limit": settings.UPLOAD_MAX_METADATA_BYTES, "bytes": metadata},
                        status=413,
                    )
                # Decode the whole stream: a truncated or corrupt file fails here, not in a worker.
                # A JPEG is decoded at 1/8 scale in the DCT domain (draft mode): every byte of its
                # entropy-coded data is still read and checked, at a fraction of the cost.
                if fmt == "JPEG":
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected(
            ErrorCode.TOO_MANY_PIXELS, limit=settings.UPLOAD_MAX_PIXELS, details={"param": field}, status=413
        ) from None
    except UnidentifiedImageError:
        raise UploadRejected(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            details={"param": field},
            status=415,
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise UploadRejected(ErrorCode.CORRUPT_IMAGE, details={"param": field}) from None
    mime, ext = IMAGE_FORMATS[fmt]
    return ValidatedUpload(name[:255], data, hashlib.sha256(data).hexdigest(), mime, ext, width, height)


# Boxes whose payload is nothing but boxes, on the way from the movie header to its sample tables.
_MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex"}


def _mp4_boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """Yield (type, payload start, end) of the boxes that tile data[start:end]; raise ValueError
    for a box that is cut short or overruns its container."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise ValueError("truncated box header")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if end - pos < 16:
                raise ValueError("truncated box header")
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"box {kind!r} overruns its container")
        yield kind, pos + header, pos + size
        pos += size


def _mp4_declared_media(data: bytes, start: int, end: int) -> int:
    """Return the bytes of media the sample tables under data[start:end] declare, checking that
    every table fits its box and every chunk starts inside the file."""
    declared = 0
    for kind, payload, box_end in _mp4_boxes(data, start, end):
        if kind in _MP4_CONTAINERS:
            declared += _mp4_declared_media(data, payload, box_end)
        elif kind == b"stsz":
            sample_size, count = struct.unpack_from(">II", data, payload + 4)
            if sample_size:
                declared += sample_size * count
            else:
                if payload + 12 + 4 * count > box_end:
                    raise ValueError("sample size table cut short")
                declared += sum(struct.unpack_from(f">{count}I", data, payload + 12))
        elif kind in (b"stco", b"co64"):
            width = 4 if kind == b"stco" else 8
            (count,) = struct.unpack_from(">I", data, payload + 4)
            if payload + 8 + width * count > box_end:
                raise ValueError("chunk offset table cut short")
            offsets = struct.unpack_from(f">{count}{'I' if width == 4 else 'Q'}", data, payload + 8)
            if any(offset >= len(data) for offset in offsets):
                raise ValueError("a chunk starts beyond the end of the file")
    return declared


def _check_mp4(data: bytes, *, field: str) -> None:
    """Raise UploadRejected unless the MP4's boxes tile the file, it has a movie header, and the
    media its sample tables declare is really there (a header claiming thousands of frames over
    a few bytes of data is refused here, not in a reviewer's player)."""
    try:
        top = list(_mp4_boxes(data, 0, len(data)))
        kinds = [kind for kind, _, _ in top]
        if b"moov" not in kinds:
            raise ValueError("no movie header")
        declared = sum(_mp4_declared_media(data, payload, end) for kind, payload, end in top if kind == b"moov")
        held = sum(end - payload for kind, payload, end in top if kind == b"mdat")
        if declared > held:
            raise ValueError("the sample tables declare more media than the file holds")
    except (ValueError, struct.error):
        raise UploadRejected(ErrorCode.CORRUPT_VIDEO, details={"param": field}) from None


def validate_attachment(upload: IO[bytes], *, field: str = "attachments") -> ValidatedUpload:
    """Return an image or MP4 video upload checked by content; raise UploadRejected otherwise."""
    head = upload.read(12)
    upload.seek(0)
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        data = _read_bounded(upload, limit=settings.UPLOAD_MAX_VIDEO_BYTES, field=field)
        _refuse_archive(data, field=field)
        _check_mp4(data, field=field)
        # Imported here: PyAV loads FFmpeg's libraries, which only video uploads need.
        from refunds.integration.video import check_upload

        check_upload(data, field=field)
        name = getattr(upload, "name", "") or ""
        return ValidatedUpload(name[:255], data, hashlib.sha256(data).hexdigest(), "video/mp4", "mp4", None, None)
    return validate_image(upload, field=field)


def store(upload: ValidatedUpload, *, folder: str) -> str:
    """Write the bytes under their content hash and return the storage name."""
    return default_storage.save(f"{folder}/{upload.storage_name}", ContentFile(upload.content))


def store_derived(handle: IO[bytes], *, folder: str, extension: str) -> str:
    """Write a file made from an upload (a playable copy, a poster) under its content hash and
    return the storage name; read in chunks, since a video copy may be large."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1024 * 1024), b""):
        digest.update(chunk)
    handle.seek(0)
    sha = digest.hexdigest()
    return default_storage.save(f"{folder}/{sha[:2]}/{sha[2:4]}/{sha}.{extension}", File(handle))


def image_fields(upload: ValidatedUpload, *, name: str) -> dict[str, object]:
    """Return the fields every stored-image row takes, for a checked upload stored under `name`."""
    return {
        "file": name,
        "sha256": upload.sha256,
        "content_type": upload.content_type,
        "byte_size": len(upload.content),
        "width": upload.width,
        "height": upload.height,
        "original_name": upload.original_name,
    }
