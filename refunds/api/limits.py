"""Request limits of the API (a rate per key, upload sizes refused before the body is read) and its clock."""

from __future__ import annotations

import logging
import math
import secrets
import weakref
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.core.files.uploadhandler import FileUploadHandler
from django.core.validators import ProhibitNullCharactersValidator
from django.http import JsonResponse
from django.utils import timezone
from redis.commands.core import Script
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


@dataclass(frozen=True)
class Window:
    """What a sliding log holds for one key: the requests counted in the window, the oldest
    one's time and, of the times newest first, the one at position ``limit`` (when the count
    falls below the limit); ``counted`` says whether this request was added."""

    counted: bool
    count: int
    oldest: float | None
    limit_th: float | None


class _ListLog:
    """A sliding log kept as a list of times, newest first, under one cache key (DRF's
    SimpleRateThrottle's way): read and written whole, so only for a cache in the process."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def run(self, key: str, *, now: float, window: int, limit: int, mode: str, member: str = "") -> Window:
        history = [t for t in self.cache.get(key, []) if t > now - window]
        counted = mode == "add" or (mode == "count" and len(history) < limit)
        if counted:
            history.insert(0, now)
            self.cache.set(key, history, window)
        return Window(
            counted,
            len(history),
            history[-1] if history else None,
            history[limit - 1] if 0 < limit <= len(history) else None,
        )

    def gate(
        self, peeked: _Check, counted: _Check, *, now: float, member: str, read: str | None = None
    ) -> tuple[Window, Window | None, Any]:
        """Peek at one log and, unless it is at its limit, count in the other (``_GATE_SCRIPT``).
        A cache in the process is no other process's: no entry is read from it (None)."""
        window = self.run(peeked.key, now=now, window=peeked.window, limit=peeked.limit, mode="peek")
        if window.limit_th is not None:
            return window, None, None
        return window, self.run(counted.key, now=now, window=counted.window, limit=counted.limit, mode="count"), None

    def take_back(self, key: str, *, now: float, window: int, member: str) -> None:
        history = self.cache.get(key, [])
        if now in history:
            history.remove(now)
            self.cache.set(key, history, window)


# One script run on Redis per check: drop the times older than the window, count, add this
# request's time if the mode says so, and answer the oldest time and the one at position
# `limit` from the newest. A sorted set is never read whole: DRF's list of times was read
# and written back at every request (two round trips, and 7 500 pickled times per request
# at the benchmark's rate of 125 reads per second).
_SLIDING_LOG_FUNCTION = """
local function sliding_log(key, now, window, limit, mode, member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local counted = 0
  if mode == 'add' or (mode == 'count' and count < limit) then
    redis.call('ZADD', key, now, member)
    redis.call('EXPIRE', key, window)
    count = count + 1
    counted = 1
  end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or false
  local limit_th = false
  if limit > 0 and count >= limit then
    limit_th = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')[2] or false
  end
  return {counted, count, oldest, limit_th}
end
"""
_SLIDING_LOG_SCRIPT = (
    _SLIDING_LOG_FUNCTION
    + """
return sliding_log(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5])
"""
)
# The two checks of an API request in one script: peek at the address's log of refused keys
# and, unless the address is at its limit, count the request in its key's log. Each Redis
# round trip was a seventh of a detail read's time in a gunicorn worker on PostgreSQL (py-spy,
# bench/api.py), where the bare read makes none. A third key, when given, is an entry of the
# cache read in the same trip (the key's cached row, refunds.integration.apikeys).
_GATE_SCRIPT = (
    _SLIDING_LOG_FUNCTION
    + """
local now = tonumber(ARGV[1])
local peeked = sliding_log(KEYS[1], now, tonumber(ARGV[2]), tonumber(ARGV[3]), 'peek', '')
if peeked[4] then
  return {peeked}
end
local counted = sliding_log(KEYS[2], now, tonumber(ARGV[4]), tonumber(ARGV[5]), 'count', ARGV[6])
if KEYS[3] then
  return {peeked, counted, redis.call('GET', KEYS[3])}
end
return {peeked, counted}
"""
)
# Bytes, so that their digests need no client's encoding: each is loaded by digest on each server.
_SLIDING_LOG = Script(None, _SLIDING_LOG_SCRIPT.encode())  # type: ignore[arg-type]
_GATE = Script(None, _GATE_SCRIPT.encode())  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Check:
    """One log to check: its key, window (seconds) and limit."""

    key: str
    window: int
    limit: int


# A Redis client for each connection pool of the cache (clients are safe to share between threads).
_clients: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class _RedisLog:
    """A sliding log in a Redis sorted set of the cache's server, checked in one round trip."""

    def __init__(self, cache: RedisCache) -> None:
        self.cache = cache

    def _name(self, key: str) -> str:
        return self.cache.make_and_validate_key(f"{key}:log")

    def _client(self, name: str | None = None) -> Any:
        # The server every write goes to (Django's client writes to the first one): the gate's two logs live there.
        # Django builds a new client over the pool at each call (0.06 ms, most of it filling the
        # client's table of reply callbacks); one per pool serves every request.
        cache = self.cache._cache
        pool = cache._get_connection_pool(write=True)
        client = _clients.get(pool)
        if client is None:
            client = _clients[pool] = cache.get_client(name, write=True)
        return client

    def run(self, key: str, *, now: float, window: int, limit: int, mode: str, member: str = "") -> Window:
        counted, count, oldest, limit_th = _SLIDING_LOG(
            keys=[self._name(key)],
            args=[repr(now), window, limit, mode, member or _member(now)],
            client=self._client(self._name(key)),
        )
        return _window(counted, count, oldest, limit_th)

    def gate(
        self, peeked: _Check, counted: _Check, *, now: float, member: str, read: str | None = None
    ) -> tuple[Window, Window | None, Any]:
        """Peek at one log and, unless it is at its limit, count in the other, in one round trip;
        with ``read``, answer that entry of the cache too (None if absent or not read)."""
        keys = [self._name(peeked.key), self._name(counted.key)]
        if read is not None:
            keys.append(self.cache.make_and_validate_key(read))
        answer = _GATE(
            keys=keys,
            args=[repr(now), peeked.window, peeked.limit, counted.window, counted.limit, member],
            client=self._client(),
        )
        entry = answer[2] if len(answer) > 2 and answer[2] is not None else None
        return (
            _window(*answer[0]),
            (_window(*answer[1]) if len(answer) > 1 else None),
            None if entry is None else self.cache._cache._serializer.loads(entry),
        )

    def take_back(self, key: str, *, now: float, window: int, member: str) -> None:
        self._client().zrem(self._name(key), member)


def _member(now: float) -> str:
    """A member of a sorted-set log: the time, made unique (two requests may share one)."""
    return f"{now!r}:{secrets.token_hex(4)}"


def _window(counted: Any, count: Any, oldest: Any, limit_th: Any) -> Window:
    return Window(bool(counted), int(count), _score(oldest), _score(limit_th))


def _score(value: Any) -> float | None:
    return None if value is None or value is False else float(value)


_local_log = _ListLog(_local_counts)


def _sliding(cache: Any) -> _RedisLog | _ListLog:
    return _RedisLog(cache) if isinstance(cache, RedisCache) else _ListLog(cache)


def _cache_down(exc: Exception) -> None:
    global _warned_cache_down
    if not _warned_cache_down:
        log.warning("rate-limit cache unreachable, counting per process: %r", exc)
        _warned_cache_down = True


def _sliding_log(mode: str, key: str, *, now: float, window: int, limit: int, fail_open: bool = True) -> Window:
    """Check the key's log in the default cache. Fail open: an unreachable cache must not
    take the API down with it; each process then counts on its own until the cache answers.
    Without ``fail_open``, raise the cache's error instead."""
    try:
        return _sliding(caches["default"]).run(key, now=now, window=window, limit=limit, mode=mode)
    except outage.OUTAGE_ERRORS as exc:
        if not fail_open:
            raise
        _cache_down(exc)
        return _local_log.run(key, now=now, window=window, limit=limit, mode=mode)


@dataclass(frozen=True)
class CountedAhead:
    """A request counted against its key's rate while its address was checked, before the key
    itself was (``InvalidApiKeyThrottle.refuse_if_over``); ``log`` is where it was counted."""

    key: str
    now: float
    window: Window
    member: str
    duration: int
    log: _RedisLog | _ListLog


def _sliding_gate(
    peeked: _Check, counted: _Check, *, now: float, read: str | None = None
) -> tuple[Window, CountedAhead | None, Any]:
    """Peek at ``peeked``'s log and, unless it is at its limit, count in ``counted``'s, in one
    round trip, reading the cache's entry ``read`` in it where the cache is shared; fail open
    as ``_sliding_log`` does (and read nothing then)."""
    member = _member(now)
    sliding = _sliding(caches["default"])
    try:
        window, count, entry = sliding.gate(peeked, counted, now=now, member=member, read=read)
    except outage.OUTAGE_ERRORS as exc:
        _cache_down(exc)
        sliding = _local_log
        window, count, entry = sliding.gate(peeked, counted, now=now, member=member)
    ahead = None if count is None else CountedAhead(counted.key, now, count, member, counted.window, sliding)
    return window, ahead, entry


def _state(limit: int, duration: int, now: float, window: Window) -> RateLimitState:
    """Where a key stands: its limit, what is left in the window, and the seconds until the
    oldest count leaves it."""
    reset = math.ceil(duration - (now - window.oldest)) if window.oldest is not None else 0
    return RateLimitState(limit=limit, remaining=max(0, limit - window.count), reset=max(0, reset))


class _SlidingLogThrottle(SimpleRateThrottle):
    """A DRF throttle whose requests are counted in a sliding log (``_sliding_log``) under
    ``self.key`` at ``self.now``."""

    key: str
    now: float

    def _log(self, mode: str, *, fail_open: bool = True) -> Window:
        return _sliding_log(
            mode, self.key, now=self.now, window=self.duration, limit=self.num_requests, fail_open=fail_open
        )

    def _peek(self, key: str) -> RateLimitState | None:
        """Where ``key`` stands without counting; None if the cache cannot tell."""
        self.key, self.now = key, self.timer()
        try:
            window = self._log("peek", fail_open=False)
        except outage.OUTAGE_ERRORS:
            return None
        return _state(self.num_requests, self.duration, self.now, window)


class ApiKeyRateThrottle(_SlidingLogThrottle):
    """API_RATE_LIMIT requests per key (e.g. ``1200/min``); 429 with Retry-After beyond it."""

    scope = "api_key"

    def get_rate(self) -> str:
        return settings.API_RATE_LIMIT

    def allow_request(self, request: Request, view: Any) -> bool:
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        ahead = request._request.__dict__.pop("counted_ahead", None)
        if ahead is not None and ahead.key == key:
            # Counted with the address's check (InvalidApiKeyThrottle.refuse_if_over), in its round trip.
            self.key, self.now, self.window = key, ahead.now, ahead.window
        else:
            self.key, self.now = key, self.timer()
            self.window = self._log("count")
        # The answer tells the client where it stands (ApiHeadersMiddleware writes it out).
        request._request.rate_limit = self.state()
        return self.window.counted

    def wait(self) -> float | None:
        # As DRF's: the time until the oldest count leaves the window, shared among the requests left.
        remaining = self.duration if self.window.oldest is None else self.duration - (self.now - self.window.oldest)
        available = self.num_requests - self.window.count + 1
        if available <= 0:
            return None
        return remaining / available

    def state(self) -> RateLimitState:
        """The limit, the requests left in the window, and the seconds until the oldest request
        counted leaves it (and one more may be made)."""
        return _state(self.num_requests, self.duration, self.now, self.window)

    @classmethod
    def peek(cls, prefix: str) -> RateLimitState | None:
        """Where a key stands without counting a request (for answers given before the count:
        a key lacking a scope); None if the cache cannot tell."""
        return cls()._peek(cls._key(prefix))

    @staticmethod
    def take_back(request: Request) -> None:
        """Take back the count made ahead for a request that goes no further than its key's
        check (a refused key, a missing scope, an error): only the requests let through count."""
        ahead = request._request.__dict__.pop("counted_ahead", None)
        if ahead is None or not ahead.window.counted:
            return
        try:
            ahead.log.take_back(ahead.key, now=ahead.now, window=ahead.duration, member=ahead.member)
        except outage.OUTAGE_ERRORS as exc:
            _cache_down(exc)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = request.auth
        return self._key(key.prefix) if isinstance(key, ApiKey) else None

    @staticmethod
    def _key(prefix: str) -> str:
        return f"throttle:api:{prefix}"


class InvalidApiKeyThrottle(_SlidingLogThrottle):
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

    def refuse_if_over(self, request: Request, *, prefix: str | None = None, read: str | None = None) -> Any:
        """Raise Throttled while the address is over its limit. Given the prefix of the key the
        request presents, not yet checked, count the request against that key's rate in the
        same round trip unless the address is over: ApiKeyRateThrottle then takes that count
        instead of making its own, and ``ApiKeyRateThrottle.take_back`` undoes it for a request
        that goes no further. Return the entry of the shared cache named ``read``, read in that
        round trip too (None if absent, or if the cache is in the process or unreachable)."""
        self.key, self.now = self.get_cache_key(request, None), self.timer()
        entry = None
        if prefix is None:
            window = self._log("peek")
        else:
            rate = ApiKeyRateThrottle()
            window, ahead, entry = _sliding_gate(
                _Check(self.key, self.duration, self.num_requests),
                _Check(rate._key(prefix), rate.duration, rate.num_requests),
                now=self.now,
                read=read,
            )
            if ahead is not None:
                request._request.counted_ahead = ahead
        if window.limit_th is not None:
            # Allowed again once the refusals counted in the window are one fewer than the limit.
            raise exceptions.Throttled(wait=window.limit_th + self.duration - self.now)
        return entry

    @classmethod
    def peek(cls, request: Any) -> RateLimitState | None:
        """Where the client's address stands against the limit of refused keys, without counting
        (the rate-limit headers of an answer to a request without a valid key); None if the
        cache cannot tell."""
        throttle = cls()
        return throttle._peek(throttle.get_cache_key(request, None))

    def count_refusal(self) -> None:
        """Count a refused key of the address checked by ``refuse_if_over``."""
        self._log("add")


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
