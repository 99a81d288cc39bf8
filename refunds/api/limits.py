"""Request limits of the API (a rate per key, upload sizes refused before the body is read) and its clock."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.conf import settings
from django.core.cache.backends.locmem import LocMemCache
from django.core.files.uploadhandler import FileUploadHandler
from django.core.validators import ProhibitNullCharactersValidator
from django.http import JsonResponse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from refunds import outage
from refunds.errors import DomainError, ErrorCode
from refunds.models import ApiKey

log = logging.getLogger(__name__)
_local_counts = LocMemCache("reviewhub-throttle-fallback", {})
_warned_cache_down = False


def _too_large(limit: int) -> DomainError:
    return DomainError(
        ErrorCode.REQUEST_TOO_LARGE,
        limit=limit,
        details={"limit": limit},
        status=413,
    )


def _state(throttle: SimpleRateThrottle) -> RateLimitState:
    """Where a throttle whose ``history`` (newest first) is read stands: its limit, what is left
    in the window, and the seconds until the oldest count leaves it."""
    remaining = max(0, throttle.num_requests - len(throttle.history))
    reset = math.ceil(throttle.duration - (throttle.now - throttle.history[-1])) if throttle.history else 0
    return RateLimitState(limit=throttle.num_requests, remaining=remaining, reset=max(0, reset))


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


class ApiKeyRateThrottle(SimpleRateThrottle):
    """API_RATE_LIMIT requests per key (e.g. ``1200/min``); 429 with Retry-After beyond it."""

    scope = "api_key"

    def get_rate(self) -> str:
        return settings.API_RATE_LIMIT

    def allow_request(self, request: Request, view: Any) -> bool:
        allowed = self._count(request, view)
        if getattr(self, "key", None) is not None:
            # The answer tells the client where it stands (ApiHeadersMiddleware writes it out).
            request._request.rate_limit = self.state()
        return allowed

    def _count(self, request: Request, view: Any) -> bool:
        # Fail open: an unreachable cache must not take the API down with it. Each process
        # then counts on its own until the cache answers again.
        try:
            return super().allow_request(request, view)
        except outage.OUTAGE_ERRORS as exc:
            global _warned_cache_down
            if not _warned_cache_down:
                log.warning("rate-limit cache unreachable, counting per process: %r", exc)
                _warned_cache_down = True
            self.cache = _local_counts
            return super().allow_request(request, view)

    def state(self) -> RateLimitState:
        """The limit, the requests left in the window, and the seconds until the oldest request
        counted leaves it (and one more may be made)."""
        return _state(self)

    @classmethod
    def peek(cls, prefix: str) -> RateLimitState | None:
        """Where a key stands without counting a request (for answers given before the count:
        a key lacking a scope); None if the cache cannot tell."""
        throttle = cls()
        throttle.key, throttle.now = f"throttle:api:{prefix}", throttle.timer()
        try:
            history = throttle.cache.get(throttle.key, [])
        except outage.OUTAGE_ERRORS:
            return None
        throttle.history = [t for t in history if t > throttle.now - throttle.duration]
        return throttle.state()

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = request.auth
        return f"throttle:api:{key.prefix}" if isinstance(key, ApiKey) else None


class InvalidApiKeyThrottle(SimpleRateThrottle):
    """API_INVALID_KEY_LIMIT refused keys (wrong, revoked, expired, malformed) per client address
    (e.g. ``20/min``). Beyond it the address's requests are answered 429 with Retry-After before
    their key is checked at all, so keys cannot be tried faster than that: a right guess made
    while over the limit is refused like the wrong ones. The address is the one the trusted
    proxies saw (DRF's ``NUM_PROXIES``), not an X-Forwarded-For the client wrote."""

    scope = "api_invalid_key"

    def get_rate(self) -> str:
        return settings.API_INVALID_KEY_LIMIT

    def get_cache_key(self, request: Request, view: Any) -> str:
        return f"throttle:api-invalid-key:{self.get_ident(request)}"

    def refuse_if_over(self, request: Request) -> None:
        """Raise Throttled while the address is over its limit."""
        self.key, self.now = self.get_cache_key(request, None), self.timer()
        self.history = [t for t in self._cached(lambda: self.cache.get(self.key, [])) if t > self.now - self.duration]
        if len(self.history) >= self.num_requests:
            # Allowed again once the refusals counted in the window are one fewer than the limit.
            raise exceptions.Throttled(wait=self.history[self.num_requests - 1] + self.duration - self.now)

    @classmethod
    def peek(cls, request: Any) -> RateLimitState | None:
        """Where the client's address stands against the limit of refused keys, without counting
        (the rate-limit headers of an answer to a request without a valid key); None if the
        cache cannot tell."""
        throttle = cls()
        throttle.key, throttle.now = throttle.get_cache_key(request, None), throttle.timer()
        try:
            history = throttle.cache.get(throttle.key, [])
        except outage.OUTAGE_ERRORS:
            return None
        throttle.history = [t for t in history if t > throttle.now - throttle.duration]
        return _state(throttle)

    def count_refusal(self) -> None:
        """Count a refused key of the address checked by ``refuse_if_over``."""
        self.history.insert(0, self.now)
        self._cached(lambda: self.cache.set(self.key, self.history, self.duration))

    def _cached(self, operation: Any) -> Any:
        # Fail open, as the rate per key does: each process counts on its own while the
        # cache is unreachable.
        try:
            return operation()
        except outage.OUTAGE_ERRORS:
            self.cache = _local_counts
            return operation()


class FileSizeLimitHandler(FileUploadHandler):
    """Stop reading an upload as soon as one file passes UPLOAD_MAX_BYTES (before it is all received)."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        limit = settings.UPLOAD_MAX_VIDEO_BYTES if self.content_type == "video/mp4" else settings.UPLOAD_MAX_BYTES
        if self.received > limit:
            raise DomainError(
                ErrorCode.FILE_TOO_LARGE,
                limit=limit,
                details={"param": self.field_name, "limit": limit},
                status=413,
            )
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, refusing a body nested deeper than Python's recursion limit with a
    400 (``parse_error``) instead of letting the RecursionError become a 500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError() from None


class LimitedMultiPartParser(MultiPartParser):
    """Refuse a body whose declared length is over the limit before reading any of it."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        request = (parser_context or {}).get("request")
        limit = settings.API_MAX_REQUEST_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared = 0
        if declared > limit:
            raise _too_large(limit)
        if request is not None:
            request.upload_handlers.insert(0, FileSizeLimitHandler(request._request))
        return super().parse(stream, media_type, parser_context)


class UtcApiMiddleware:
    """Speak UTC in the API whatever zone the admin and portal display times in."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        if request.path.startswith("/api/"):
            with timezone.override(UTC):
                return self.get_response(request)
        return self.get_response(request)


class QueryTextMiddleware:
    """Refuse a NUL character in the query string of an API request (400, naming the parameter),
    whatever the view: no stored text holds one (PostgreSQL refuses it), and a parameter that
    no view reads as text (a cursor, a time) would otherwise let it through. The schema's
    patterns say so (refunds/api/schema.py, NO_NUL)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        name = next(
            (key for key, values in request.GET.lists() if "\x00" in key or any("\x00" in v for v in values)), None
        )
        if name is None:
            return self.get_response(request)
        shown = name.replace("\x00", "\\0")
        error = DomainError(
            ErrorCode.INVALID_PARAMETER,
            param=shown,
            hint=ProhibitNullCharactersValidator.message,
            details={"param": shown},
        )
        body = {"error": {"code": str(error.code), "message": str(error.message), "details": error.details}}
        return JsonResponse(body, status=400)
