"""Outages of the database or the broker answer 503 with ``Retry-After``, on every surface.

A request that meets an outage has changed nothing (services are atomic), so the client may
simply try again; a 500 would say the opposite. The API answers in its JSON error shape, the
admin and the portal with a short page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, connections
from django.db import OperationalError as DatabaseOperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from refunds.errors import ErrorCode

log = logging.getLogger(__name__)

OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseOperationalError,
    InterfaceError,
    BrokerOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)
RETRY_AFTER_SECONDS = 5


def is_outage(exc: BaseException | None) -> bool:
    return isinstance(exc, OUTAGE_ERRORS)


def error_body() -> dict[str, Any]:
    return {
        "error": {
            "code": ErrorCode.SERVICE_UNAVAILABLE,
            "message": ErrorCode.SERVICE_UNAVAILABLE.message,
            "details": {"retry_after": RETRY_AFTER_SECONDS},
        }
    }


def log_outage(request: HttpRequest | None, exc: BaseException) -> None:
    """Log the refusal in one line and drop database connections the outage broke."""
    _drop_broken_connections()
    # One line, not a traceback per request: during an outage every request fails alike.
    log.warning(
        "503 for %s %s: %s: %s",
        getattr(request, "method", "-"),
        getattr(request, "path", "-"),
        type(exc).__name__,
        str(exc).splitlines()[0] if str(exc) else "",
    )


def _drop_broken_connections() -> None:
    # Django drops a broken connection at the next request's start; doing it now as well
    # means the next use reconnects whatever calls it (a retry in the same process).
    for conn in connections.all(initialized_only=True):
        if conn.errors_occurred and not conn.in_atomic_block and not conn.is_usable():
            conn.close()


def response_for(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """Answer an outage: JSON under /api/, a short page elsewhere; both with Retry-After."""
    log_outage(request, exc)
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body(), status=503)
    else:
        message = error_body()["error"]["message"]
        response = HttpResponse(
            f"<!doctype html><title>503</title><h1>503</h1><p>{message}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class OutageMiddleware:
    """Turn a database or broker outage raised by a view into a 503."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return response_for(request, exception) if is_outage(exception) else None


def server_error(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """handler500: an outage met outside a view (a middleware saving the session) is a 503 too."""
    import sys

    exc = sys.exc_info()[1]
    if is_outage(exc):
        return response_for(request, exc)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"code": ErrorCode.SERVER_ERROR, "message": ErrorCode.SERVER_ERROR.message, "details": {}}},
            status=500,
        )
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request)
