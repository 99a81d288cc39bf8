"""API-key authentication: ``Authorization: Bearer rh_<prefix>_<secret>``."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from refunds.api.limits import ApiKeyRateThrottle, InvalidApiKeyThrottle
from refunds.integration.apikeys import api_key_cache_name, api_key_check, api_key_prefix
from refunds.models import ApiKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        # The scheme is case-insensitive (RFC 9110 §11.1): "bearer" is as good as "Bearer".
        if not header or header[0].lower() != self.keyword.lower():
            return None
        guesses = InvalidApiKeyThrottle()
        # The key's rate is counted with the address's check, in its round trip to the cache,
        # and taken back if the request goes no further; the key's cached row is read in it too.
        prefix = api_key_prefix(header[1]) if len(header) == 2 else None
        cached = guesses.refuse_if_over(
            request, prefix=prefix, read=api_key_cache_name(prefix) if prefix is not None else None
        )
        if len(header) != 2:
            guesses.count_refusal()
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        try:
            key = api_key_check(header[1], cached=cached)
        except BaseException:
            ApiKeyRateThrottle.take_back(request)
            raise
        if key is None:
            ApiKeyRateThrottle.take_back(request)
            guesses.count_refusal()
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        # For the rate-limit headers of an answer given before the request is counted.
        request._request.api_key_prefix = key.prefix
        return (None, key)

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasApiKey(permissions.BasePermission):
    """Allow requests with a valid key holding the view's scope: ``read`` for safe methods,
    ``write`` otherwise, unless the view names ``required_scope``."""

    message = _("This API key lacks the scope this request needs.")

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            raise exceptions.NotAuthenticated()
        scope = getattr(view, "required_scope", None) or (
            "read" if request.method in permissions.SAFE_METHODS else "write"
        )
        if scope in key.scopes:
            return True
        ApiKeyRateThrottle.take_back(request)
        return False


class ApiKeySchema(OpenApiAuthenticationExtension):
    """Describe the key in the OpenAPI schema as a bearer token."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "rh_<prefix>_<secret>"}
