"""A ``Request-Id`` for every request: on its response, in every log line it causes, and on the
webhook deliveries its changes queue, so that an integrator can quote one id to support and
support can find everything that request did.

Imports nothing from the models: the logging configuration loads it before the apps.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

HEADER = "Request-Id"
# A client's own id is echoed when it is short and plain (it goes into logs and headers).
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_current: ContextVar[str] = ContextVar("request_id", default="")


def current() -> str:
    """Return the id of the request being handled, or "" outside a request."""
    return _current.get()


def _choose(received: str | None) -> str:
    if received and _SANE.fullmatch(received):
        return received
    return "req_" + uuid.uuid4().hex


class RequestIdMiddleware:
    """Take the client's ``Request-Id`` if it is sane, else make one; answer with it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = _choose(request.headers.get(HEADER))
        request.request_id = request_id
        # Kept until the request has finished, not just until this returns: Django logs an
        # error answer ("Bad Request: …") after the middleware has run.
        _current.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _forget(**kwargs: object) -> None:
    _current.set("")


request_finished.connect(_forget, dispatch_uid="refunds.request_id.forget")


class RequestIdLogFilter(logging.Filter):
    """Give every log record a ``request_id`` ("-" outside a request) for the format to show."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or "-"
        return True
