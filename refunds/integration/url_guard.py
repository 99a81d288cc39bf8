"""The URL guard of webhook deliveries: no request the server makes on a platform's behalf
reaches a loopback, private or link-local address."""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from refunds.errors import ErrorCode, InvalidInput

# A webhook URL is a request the server makes on a platform's behalf. Without a guard a
# platform could aim it at the cloud's metadata service, at the API itself or at anything
# else on the private network. The address is checked when the endpoint is registered and
# again at every delivery, where the connection goes to the very address that was checked:
# a name that resolves to a public address at registration and to a private one later (DNS
# rebinding) is refused then, and redirects are never followed.

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_CHARS = r"(?:[A-Za-z0-9._~!$&'*+,;=:@/-]|%[0-9A-Fa-f]{2})"
# The webhook URLs the API takes: http(s), a host name of at most seven labels (or an IPv4
# address), an optional port, path and query. The schema publishes this pattern, so that a
# URL a client builds from it is never refused for its form.
URL_PATTERN = (
    r"^https?://(?:(?:[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?\.){1,6}[a-z]{2,20}|localhost|"
    rf"(?:{_OCTET}\.){{3}}{_OCTET})(?::{_PORT})?(?:/{_CHARS}*)?(?:\?(?:{_CHARS}|\?)*)?$"
)


class UnsafeDestination(urllib.error.URLError):
    """The webhook URL leads to an address the guard refuses; nothing was sent."""


def _resolve(host: str, port: int) -> list[str]:
    """Return the addresses of the host (a seam for tests, which must not query DNS)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def address_is_public(address: str) -> bool:
    """Whether the address is a global unicast one: not loopback, private, link-local
    (169.254.169.254, the cloud metadata service), shared, reserved or multicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def _refuse(code: ErrorCode, url: str) -> InvalidInput:
    return InvalidInput(code, details={"param": "url", "value": url})


def url_check(url: str) -> list[str]:
    """Check a webhook URL against the guard and return the addresses it may be sent to
    (none to pin when WEBHOOK_ALLOW_PRIVATE_URLS is on); raise InvalidInput otherwise."""
    if not re.fullmatch(URL_PATTERN, url):
        raise _refuse(ErrorCode.INVALID_URL, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _refuse(ErrorCode.INVALID_URL, url) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _refuse(ErrorCode.INVALID_URL, url)
    if settings.WEBHOOK_REQUIRE_HTTPS and parts.scheme != "https":
        raise _refuse(ErrorCode.WEBHOOK_URL_NOT_HTTPS, url)
    if parts.username or parts.password:
        raise _refuse(ErrorCode.INVALID_URL, url)
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return []
    try:
        addresses = _resolve(parts.hostname, port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        raise _refuse(ErrorCode.WEBHOOK_URL_UNRESOLVABLE, url) from None
    if not addresses or not all(address_is_public(a) for a in addresses):
        raise _refuse(ErrorCode.WEBHOOK_URL_NOT_PUBLIC, url)
    return addresses


def _pinned(connection_class: type[http.client.HTTPConnection], address: str) -> type[http.client.HTTPConnection]:
    """A connection class that connects to ``address`` whatever the host name resolves to
    now; TLS still verifies the certificate against the host name."""

    class Pinned(connection_class):  # type: ignore[valid-type,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._create_connection = lambda where, *rest: socket.create_connection((address, where[1]), *rest)

    return Pinned


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_pinned(http.client.HTTPConnection, self.address), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, address: str) -> None:
        super().__init__()
        self.address = address

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_pinned(http.client.HTTPSConnection, self.address), req, context=self._context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect could lead anywhere, past the guard; a 3xx answer counts as a failure.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def guarded_open(request: urllib.request.Request, *, timeout: float) -> http.client.HTTPResponse:
    """Open the request under the URL guard; raise UnsafeDestination (an URLError, so the
    attempt counts as failed and is retried) without connecting when the guard refuses."""
    try:
        addresses = url_check(request.full_url)
    except InvalidInput as exc:
        raise UnsafeDestination(f"refused by the URL guard: {exc.code}") from None
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}), _NoRedirect()]
    if addresses:
        handlers += [_PinnedHTTPHandler(addresses[0]), _PinnedHTTPSHandler(addresses[0])]
    return urllib.request.build_opener(*handlers).open(request, timeout=timeout)
