"""``Idempotency-Key`` on API POSTs (invariant 9): a replay gets the first response back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework.request import Request
from rest_framework.response import Response

from refunds.errors import Conflict, InvalidInput
from refunds.models import IdempotencyRecord

RETENTION = timedelta(hours=48)
HEADER = "Idempotency-Key"


def request_digest(request: Request) -> str:
    """Digest the request's meaning, not its bytes: multipart boundaries differ between retries."""
    digest = hashlib.sha256(f"{request.method} {request.path}".encode())
    data = request.data
    if hasattr(data, "lists"):  # form or multipart: fields and files by name
        for name, values in sorted(data.lists()):
            for value in values:
                if hasattr(value, "chunks"):
                    file_digest = hashlib.sha256()
                    for chunk in value.chunks():
                        file_digest.update(chunk)
                    value.seek(0)
                    digest.update(f"\0{name}@{file_digest.hexdigest()}".encode())
                else:
                    digest.update(f"\0{name}={value}".encode())
    else:
        digest.update(json.dumps(data, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap an API POST handler so that requests repeating an ``Idempotency-Key`` replay the
    first response; the same key with another request is refused with 422, and a repeat
    while the first is still running with 409."""

    @wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise InvalidInput("invalid_idempotency_key", _("The Idempotency-Key must have 1 to 255 characters."))
        platform = request.auth.platform
        digest = request_digest(request)
        record = _claim(platform, key, digest, f"{request.method} {request.path}")
        if record.status_code is not None:
            replay = Response(record.response_body, status=record.status_code)
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = view(self, request, *args, **kwargs)
        except Exception:
            # Nothing was done (the service is atomic): free the key for a corrected retry.
            IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()
            raise
        IdempotencyRecord.objects.filter(pk=record.pk).update(status_code=response.status_code, response_body=response.data)
        return response

    return wrapper


def _claim(platform: Any, key: str, digest: str, method_path: str) -> IdempotencyRecord:
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(platform=platform, key=key, request_digest=digest, method_path=method_path)
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.get(platform=platform, key=key)
    if record.request_digest != digest:
        raise InvalidInput("idempotency_key_reused", _("This Idempotency-Key was used with a different request."),
                           details={"key": key}, status=422)
    if record.status_code is None:
        raise Conflict("idempotency_in_progress", _("A request with this Idempotency-Key is still being processed."),
                       details={"key": key})
    return record


def purge_expired() -> int:
    """Delete records older than the retention period; return how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()
    return deleted
