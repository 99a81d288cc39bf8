"""File storage keyed by content hash: the same bytes are stored once, under one name."""

from typing import Any

from django.core.files.storage import FileSystemStorage


class ContentAddressedStorage(FileSystemStorage):
    """Store files under names derived from their SHA-256 (see ``refunds.integration.uploads``).

    A name that exists already holds the same bytes, so saving it again is a no-op
    instead of a renamed copy.
    """

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name

    def _save(self, name: str, content: Any) -> str:
        if self.exists(name):
            return name
        return super()._save(name, content)
