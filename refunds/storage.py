"""File storage keyed by content hash: the same bytes are stored once, under one name.

Two backends, chosen by ``MEDIA_STORAGE``: the local disk (the embedded default) and an
S3-compatible bucket through django-storages, so that every web and worker host reads the
same files. Either way files are reached only through the application (``refunds.views``),
never by a URL of the storage itself.
"""

import os
import tempfile
from typing import Any

from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage


class ContentAddressed:
    """Store files under names derived from their SHA-256 (see ``refunds.integration.uploads``).

    A name that exists already holds the same bytes, so saving it again is a no-op
    instead of a renamed copy (or, on a bucket, a second upload of the same bytes).
    """

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name

    def _save(self, name: str, content: Any) -> str:
        if self.exists(name):  # type: ignore[attr-defined]
            return name
        return super()._save(name, content)  # type: ignore[misc]


class ContentAddressedStorage(ContentAddressed, FileSystemStorage):
    """Content-addressed files under ``MEDIA_ROOT``.

    Two requests may store the same new bytes at once (the same photo sent to two
    applications). Django's own save creates the file in place and, finding the name taken,
    asks for another one, which here is the same name: the second request would retry forever,
    and a reader (the screening worker) could meanwhile open a file still being written. So the
    bytes are written to a temporary file beside it and linked under their name in one step:
    the name appears complete or not at all, and the request that links second finds the same
    bytes there.
    """

    def _save(self, name: str, content: Any) -> str:
        if self.exists(name):
            return name
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        os.makedirs(directory, exist_ok=True)
        if self.directory_permissions_mode is not None:
            os.chmod(directory, self.directory_permissions_mode)
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".incoming-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                for chunk in content.chunks():
                    handle.write(chunk if isinstance(chunk, bytes) else chunk.encode())
            os.chmod(temporary, self.file_permissions_mode if self.file_permissions_mode is not None else 0o644)
            try:
                os.link(temporary, full_path)
            except FileExistsError:
                pass  # stored by a concurrent request meanwhile: the same bytes, under their hash
        finally:
            os.unlink(temporary)
        return name


class ContentAddressedS3Storage(ContentAddressed, S3Storage):
    """Content-addressed files in a private S3-compatible bucket.

    The application streams them to the people allowed to see them rather than redirecting to
    presigned URLs: a bucket's answer cannot carry our sandboxing ``Content-Security-Policy``,
    a presigned URL works for whoever holds it until it expires (it leaks through browser
    history, proxies' logs and copied links), and the bucket then never has to be reachable
    from browsers at all.
    """
