"""The one error type of the screening core."""

from __future__ import annotations

__all__ = ["UnreadableImage"]


class UnreadableImage(Exception):
    """An upload that is not an image we accept, or cannot be decoded within the limits.

    `reason_code` is stable and machine-readable (empty, too_large, unsupported_format,
    too_many_pixels, too_small, truncated, corrupt); `message` is an English sentence for people.
    """

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(reason_code, message)
        self.reason_code = reason_code
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason_code}: {self.message}"
