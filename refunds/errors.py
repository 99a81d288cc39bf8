"""The one domain error type. Every surface maps it once: API → JSON + status,
admin and portal → a message, CLI → stderr + exit code 2."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class DomainError(Exception):
    """A refused request, with a stable machine-readable code and a translatable message."""

    status = 400

    def __init__(
        self, code: str, message: str | Promise, *, details: dict[str, Any] | None = None, status: int | None = None
    ):
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.details = details or {}
        if status is not None:
            self.status = status


class Conflict(DomainError):
    """The application is not (or no longer) in a state that allows this; a lost race ends here."""

    status = 409


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class InvalidInput(DomainError):
    status = 400


class UploadRejected(DomainError):
    status = 400
