"""``Idempotency-Key`` on API POSTs (invariant 9): a replay gets the first response back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from psycopg.errors import LockNotAvailable
from rest_framework.request import Request
from rest_framework.response import Response

from refunds.errors import Conflict, ErrorCode, InvalidInput
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
    first response; the same key with another request is refused with 422.

    The key's record, the effect and the stored response commit in one transaction. So the
    key is taken exactly when the effect happened: a request that fails or is cut off midway
    (a database or broker outage, a crash) leaves neither, and its retry runs afresh; one
    whose commit went through is replayed, never repeated. No record is ever left "in
    progress". A concurrent request with the same key waits for the first one's commit on
    the key's unique index (at most ``LOCK_WAIT``, then 409 ``idempotency_in_progress``)
    and then replays its answer.
    """

    @wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return view(self, request, *args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise InvalidInput(ErrorCode.INVALID_IDEMPOTENCY_KEY, details={"param": HEADER})
        platform = request.auth.platform
        digest = request_digest(request)
        with transaction.atomic():
            record = _claim(platform, key, digest, f"{request.method} {request.path}")
            if record.status_code is not None:
                replay = Response(record.response_body, status=record.status_code)
                replay["Idempotent-Replayed"] = "true"
                return replay
            request.idempotency_key = key
            response = view(self, request, *args, **kwargs)
            if response.status_code >= 500:
                # Not an answer worth replaying: undo everything, the retry runs afresh.
                transaction.set_rollback(True)
                return response
            record.status_code = response.status_code
            record.response_body = _without_secrets(response)
            record.save(update_fields=["status_code", "response_body"])
        return response

    return wrapper


# The attribute a view sets on its response to name fields that are shown once (a signing
# secret): they are not kept for replays, which answer them as null.
SHOWN_ONCE = "idempotency_shown_once"


def _without_secrets(response: Response) -> Any:
    """The response as it is kept for replays: a secret is never stored a second time, in
    another table, for the key's 48 hours (a replay says null; rotating gives a new one)."""
    fields = getattr(response, SHOWN_ONCE, ())
    if not fields or not isinstance(response.data, dict):
        return response.data
    return {**response.data, **{name: None for name in fields if name in response.data}}


# How long a request waits for a concurrent one holding the same key before answering 409.
LOCK_WAIT = "5s"


def _claim(platform: Any, key: str, digest: str, method_path: str) -> IdempotencyRecord:
    """Insert the key's record in the caller's transaction, or return the committed one."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # A concurrent insert of the same key blocks until the other transaction ends.
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")
            record = IdempotencyRecord.objects.create(
                platform=platform, key=key, request_digest=digest, method_path=method_path
            )
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = 0")
            return record
    except IntegrityError:
        pass
    except OperationalError as exc:
        if not isinstance(exc.__cause__, LockNotAvailable):
            raise
        raise Conflict(
            ErrorCode.IDEMPOTENCY_IN_PROGRESS,
            details={"param": HEADER, "key": key},
        ) from None
    record = IdempotencyRecord.objects.get(platform=platform, key=key)
    if record.request_digest != digest:
        raise InvalidInput(
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            details={"param": HEADER, "key": key},
            status=422,
        )
    return record


def purge_expired() -> int:
    """Delete records older than the retention period; return how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - RETENTION).delete()
    return deleted
