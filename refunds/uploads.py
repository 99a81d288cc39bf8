"""Validate uploads by their content, before anything of a request is stored (invariant 7)."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.translation import gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from refunds.errors import UploadRejected

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
        raise UploadRejected("file_too_large", _("The file is larger than %(limit)d bytes.") % {"limit": limit},
                             details={"field": field, "limit": limit}, status=413)
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise UploadRejected("file_too_large", _("The file is larger than %(limit)d bytes.") % {"limit": limit},
                             details={"field": field, "limit": limit}, status=413)
    if not data:
        raise UploadRejected("empty_file", _("The file is empty."), details={"field": field})
    return data


def validate_image(upload: IO[bytes], *, field: str = "evidence") -> ValidatedUpload:
    """Return the upload as a checked image; raise UploadRejected if it is anything else."""
    data = _read_bounded(upload, limit=settings.UPLOAD_MAX_BYTES, field=field)
    name = getattr(upload, "name", "") or ""
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that; make it an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                fmt = image.format
                width, height = image.size
                if fmt not in IMAGE_FORMATS:
                    raise UploadRejected("unsupported_media_type",
                                         _("Only JPEG, PNG, WebP and HEIC images are accepted."),
                                         details={"field": field, "detected": fmt}, status=415)
                if width * height > settings.UPLOAD_MAX_PIXELS:
                    raise UploadRejected("too_many_pixels",
                                         _("The image has more than %(limit)d pixels.") % {"limit": settings.UPLOAD_MAX_PIXELS},
                                         details={"field": field, "width": width, "height": height}, status=413)
                # Decode the whole stream: a truncated or corrupt file fails here, not in a worker.
                # A JPEG is decoded at 1/8 scale in the DCT domain (draft mode): every byte of its
                # entropy-coded data is still read and checked, at a fraction of the cost.
                if fmt == "JPEG":
                    image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
                image.load()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRejected("too_many_pixels", _("The image is too large to decode safely."),
                             details={"field": field}, status=413) from None
    except UnidentifiedImageError:
        raise UploadRejected("unsupported_media_type", _("The file is not an image of a supported type."),
                             details={"field": field}, status=415) from None
    except (OSError, SyntaxError, ValueError):
        raise UploadRejected("corrupt_image", _("The image is damaged or incomplete."), details={"field": field}) from None
    mime, ext = IMAGE_FORMATS[fmt]
    return ValidatedUpload(name[:255], data, hashlib.sha256(data).hexdigest(), mime, ext, width, height)


def validate_attachment(upload: IO[bytes], *, field: str = "attachments") -> ValidatedUpload:
    """Return an image or MP4 video upload checked by content; raise UploadRejected otherwise."""
    head = upload.read(12)
    upload.seek(0)
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        data = _read_bounded(upload, limit=settings.UPLOAD_MAX_VIDEO_BYTES, field=field)
        name = getattr(upload, "name", "") or ""
        return ValidatedUpload(name[:255], data, hashlib.sha256(data).hexdigest(), "video/mp4", "mp4", None, None)
    return validate_image(upload, field=field)


def store(upload: ValidatedUpload, *, folder: str) -> str:
    """Write the bytes under their content hash and return the storage name."""
    return default_storage.save(f"{folder}/{upload.storage_name}", ContentFile(upload.content))


def image_fields(upload: ValidatedUpload, *, name: str) -> dict[str, object]:
    """Return the fields every stored-image row takes, for a checked upload stored under `name`."""
    return {"file": name, "sha256": upload.sha256, "content_type": upload.content_type, "byte_size": len(upload.content),
            "width": upload.width, "height": upload.height, "original_name": upload.original_name}
