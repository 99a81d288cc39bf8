"""Headers every API answer carries: the language it speaks and where the key stands against its rate limit."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from refunds.api.limits import ApiKeyRateThrottle, InvalidApiKeyThrottle

API_PREFIX = "/api/"
API_LANGUAGE = "en"


def _api_language(request: HttpRequest) -> str:
    """The first language of Accept-Language that the API speaks, else English. Unlike the
    portal's, neither a cookie nor the site's default language counts: an integration's
    answers must not change with where it runs."""
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return API_LANGUAGE


class ApiLanguageMiddleware:
    """Speak English under /api/ unless Accept-Language asks for another language the API has."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            # Activated, not overridden: the error middleware outside this one answers in it too.
            language = _api_language(request)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


class ApiHeadersMiddleware:
    """Add Content-Language and the RateLimit-* headers to every answer under /api/: the key's
    limit, or without a valid key the address's limit of refused keys."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX):
            return response
        response.headers.setdefault(
            "Content-Language", getattr(request, "LANGUAGE_CODE", None) or settings.LANGUAGE_CODE
        )
        state = getattr(request, "rate_limit", None)
        prefix = getattr(request, "api_key_prefix", None)
        if state is None and prefix is not None:
            state = ApiKeyRateThrottle.peek(prefix)
        elif state is None:
            # No valid key (none, a wrong one, or an answer given before any key was read): the
            # limit that applies is the address's, of refused keys (API_INVALID_KEY_LIMIT).
            state = InvalidApiKeyThrottle.peek(request)
        if state is not None:
            for name, value in state.headers().items():
                response.headers.setdefault(name, value)
        return response
