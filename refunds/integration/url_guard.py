"""The URL guard of webhook deliveries: no request the server makes on a platform's behalf
reaches a loopback, private or link-local address."""

from __future__ import annotations

import http.client
import ipaddress
import re
import select
import socket
import threading
import time
import urllib.error
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from refunds.errors import ErrorCode, InvalidInput

# A webhook URL is a request the server makes on a platform's behalf. Without a guard a
# platform could aim it at the cloud's metadata service, at the API itself or at anything
# else on the private network. The address is checked when the endpoint is registered and
# again at every delivery, where the connection goes to the very address that was checked:
# a name that resolves to a public address at registration and to a private one later (DNS
# rebinding) is refused then, and redirects are never followed. A connection kept open for the
# next delivery is used again only when that delivery's own check names the same address.

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


# A delivery's connection is kept open for the next delivery to the same checked address from
# the same worker process, for at most this long idle. Opening one per delivery (the connect and
# urllib's opener) was 9 % of the delivery task's samples in the soak's profile, on loopback and
# without the TLS handshake an https endpoint adds to every new connection. Below the shortest
# keep-alive timeout of common servers (gunicorn's 2 s), so that a connection is seldom written
# to just as its receiver closes it: one it already closed is found closed and opened anew.
KEEPALIVE_IDLE_SECONDS = 1.0


class _Connections(threading.local):
    """The open connections of this thread (a worker process has one), by where they lead."""

    def __init__(self) -> None:
        self.idle: dict[tuple[str, str, int | None, str | None], tuple[http.client.HTTPConnection, float]] = {}


_connections = _Connections()


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can carry another request: nothing to read on it (a closed one
    reads its end at once; stray bytes would garble the next answer)."""
    if connection.sock is None:
        return False
    poller = select.poll()
    poller.register(connection.sock, select.POLLIN)
    return not poller.poll(0)


def _connection_for(key: tuple[str, str, int | None, str | None], *, timeout: float) -> http.client.HTTPConnection:
    """Return an open connection for ``key`` kept from an earlier request, or a new one that
    will connect to the checked address (``key[3]``, when the guard pinned one)."""
    now = time.monotonic()
    for where, (connection, since) in list(_connections.idle.items()):
        if now - since > KEEPALIVE_IDLE_SECONDS:
            del _connections.idle[where]
            connection.close()
    kept = _connections.idle.pop(key, None)
    if kept is not None:
        connection = kept[0]
        if _still_open(connection):
            connection.timeout = timeout
            connection.sock.settimeout(timeout)
            return connection
        connection.close()
    scheme, host, port, address = key
    kind: type[http.client.HTTPConnection] = (
        http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    )
    if address is not None:
        kind = _pinned(kind, address)
    return kind(host, port, timeout=timeout)


def close_connections() -> None:
    """Close the connections this thread keeps open."""
    for connection, _since in _connections.idle.values():
        connection.close()
    _connections.idle.clear()


def guarded_post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` to ``url`` under the URL guard; return the answer's status (2xx).

    The URL is checked on every request, and a connection is kept for reuse only under the
    address that check returned: a kept connection leads where the latest check said it may.
    Raise UnsafeDestination (an URLError, so the attempt counts as failed and is retried)
    without connecting when the guard refuses, urllib.error.HTTPError for any other status
    (redirects are never followed), URLError or OSError when the connection fails."""
    try:
        addresses = url_check(url)
    except InvalidInput as exc:
        raise UnsafeDestination(f"refused by the URL guard: {exc.code}") from None
    parts = urlsplit(url)
    key = (parts.scheme, parts.hostname or "", parts.port, addresses[0] if addresses else None)
    connection = _connection_for(key, timeout=timeout)
    try:
        try:
            connection.request("POST", urlunsplit(("", "", parts.path or "/", parts.query, "")), body, headers)
        except OSError as exc:
            raise urllib.error.URLError(exc) from exc  # as urllib reports a failure to send
        response = connection.getresponse()
        response.read()  # the whole answer, so that the connection can carry the next request
    except http.client.HTTPException as exc:
        connection.close()
        raise urllib.error.URLError(exc) from exc
    except BaseException:
        # A timeout or a cut leaves the connection mid-answer: never reused.
        connection.close()
        raise
    if response.will_close:
        connection.close()
    else:
        _connections.idle[key] = (connection, time.monotonic())
    if not 200 <= response.status < 300:
        raise urllib.error.HTTPError(url, response.status, response.reason, response.headers, None)
    return response.status
