"""One JSON error shape for the whole API: ``{"error": {"code", "message", "details"}}``.

Every answer under ``/api/`` has it, DEBUG or not: errors of the views through the DRF
exception handler, and anything that happens outside a view (an unknown URL, a body Django
refuses to read) through ``JsonErrorsMiddleware``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from refunds import outage
from refunds.errors import DomainError, ErrorCode

log = logging.getLogger("refunds.api")


def _body(code: str, message: Any, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": str(code), "message": str(message), "details": details or {}}}


def _coded(code: ErrorCode, details: Any = None, **params: Any) -> dict[str, Any]:
    return _body(code, code.text(**params), details)


def _refused_body(exc: SuspiciousOperation) -> tuple[dict[str, Any], int] | None:
    """The answer to a body Django refuses to read in full, or None for other exceptions."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return _coded(
            ErrorCode.REQUEST_TOO_LARGE, {"limit": limit}, limit=limit
        ), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return _coded(ErrorCode.TOO_MANY_FIELDS), status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    return None


def _validation_details(detail: Any) -> dict[str, Any]:
    """``param`` names the (first) offending input, as in every other error; ``errors`` has the
    messages of each."""
    if isinstance(detail, dict):
        names = [name for name in detail if name != "non_field_errors"]
        return {"param": names[0] if names else None, "errors": detail}
    return {"param": None, "errors": {"non_field_errors": detail if isinstance(detail, list) else [detail]}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(_body(exc.code, exc.message, exc.details), status=exc.status)
    if outage.is_outage(exc):
        outage.log_outage(context.get("request"), exc)
        return Response(
            outage.error_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(outage.RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, SuspiciousOperation):
        refused = _refused_body(exc)
        if refused is not None:
            return Response(refused[0], status=refused[1])
        return Response(_coded(ErrorCode.BAD_REQUEST), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        return Response(_not_found(), status=status.HTTP_404_NOT_FOUND)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _coded(ErrorCode.INVALID, _validation_details(exc.detail))
    else:
        # DRF's own exceptions carry its codes and messages (not_authenticated, throttled, …).
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else ErrorCode.REFUSED
        if not isinstance(code, str):
            code = ErrorCode.REFUSED
        response.data = _body(code, getattr(exc, "detail", exc))
    return response


def _not_found() -> dict[str, Any]:
    return _coded(ErrorCode.NOT_FOUND, object=_("resource"))


# Answers Django gives outside any view, by status. DRF's codes for 405, 406 and 429, which
# the views give, are kept for the same statuses out here.
_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND,
    405: exceptions.MethodNotAllowed.default_code,
    406: exceptions.NotAcceptable.default_code,
    413: ErrorCode.REQUEST_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: exceptions.Throttled.default_code,
}


class JsonErrorsMiddleware:
    """Answer every error under /api/ in the JSON shape, even one raised before any view
    runs (an unknown URL, a refused body) or a debug page DEBUG would show."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 404:
            body = _not_found()
        elif response.status_code >= 500:
            body = _coded(ErrorCode.SERVER_ERROR)
        else:
            body = _body(_CODES.get(response.status_code, ErrorCode.REFUSED), ErrorCode.REFUSED.message)
        replaced = JsonResponse(body, status=response.status_code)
        for header in ("Retry-After", "WWW-Authenticate", "Allow"):
            if header in response:
                replaced[header] = response[header]
        return replaced

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path.startswith("/api/") or not isinstance(exception, SuspiciousOperation):
            return None
        refused = _refused_body(exception)
        if refused is None:
            return None
        log.warning("%d for %s %s: %s", refused[1], request.method, request.path, type(exception).__name__)
        return HttpResponse(json.dumps(refused[0]), status=refused[1], content_type="application/json")
