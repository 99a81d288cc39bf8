"""Signed webhooks through an outbox (invariant 8).

The event row is written in the transaction of the transition, so a rolled-back transition
sends nothing and a committed one is never lost; delivery is at-least-once, per endpoint and
application in sequence order, signed with HMAC-SHA256 over ``"{timestamp}.{body}"`` (with the
endpoint's current secret, and during a rotation's overlap with the previous one as well).
Receivers verify with ``verify_signature`` (see the README for an example).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import re
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from refunds.errors import ErrorCode, InvalidInput
from refunds.models import RefundApplication, WebhookDelivery, WebhookEndpoint, WebhookEvent
from refunds.request_id import current as current_request_id

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Reviewhub-Signature"
DELIVER_TASK = "refunds.deliver_webhooks"


class InvalidSignature(Exception):
    """The signature header is missing, malformed, too old, or does not match the body."""


def sign(secret: str | Sequence[str], body: bytes, *, timestamp: int | None = None) -> str:
    """Return the signature header value for the body: one ``v1=`` per secret, in the order given.

    During a rotation's overlap the new secret signs first and the previous one last, so a
    receiver holding either verifies, even one whose code reads only the last ``v1``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    secrets_ = [secret] if isinstance(secret, str) else list(secret)
    macs = [hmac.new(s.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest() for s in secrets_]
    return ",".join([f"t={timestamp}", *(f"v1={mac}" for mac in macs)])


def verify_signature(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None) -> None:
    """Check a received webhook; raise InvalidSignature unless one of the header's ``v1``
    signatures signs this body recently with ``secret``."""
    try:
        items = [item.split("=", 1) for item in header.split(",")]
        timestamp = int(dict(items)["t"])
        received = [value for name, value in items if name == "v1"]
    except (KeyError, ValueError):
        raise InvalidSignature("malformed signature header") from None
    if not received:
        raise InvalidSignature("malformed signature header")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance")
    expected = sign(secret, body, timestamp=timestamp).split("v1=", 1)[1]
    # Compare with every one (no early exit), so the time taken says nothing about which matched.
    if not sum(hmac.compare_digest(expected, value) for value in received):
        raise InvalidSignature("signature does not match")


def event_record(application: RefundApplication, *, from_state: str, action: str) -> WebhookEvent | None:
    """Write the event and its deliveries for the application's new state. Call inside the
    transition's transaction with the application row locked (the lock orders the sequence)."""
    endpoints = list(WebhookEndpoint.objects.filter(platform_id=application.platform_id, active=True))
    application.webhook_seq += 1
    sequence = application.webhook_seq
    RefundApplication.objects.filter(pk=application.pk).update(webhook_seq=sequence)
    decision = getattr(application, "decision", None) if application.state == "decided" else None
    event = WebhookEvent.objects.create(
        platform_id=application.platform_id,
        application=application,
        sequence=sequence,
        type="application.state_changed",
        payload={
            "application": str(application.public_id),
            "merchant": str(application.merchant.public_id),
            "from_state": from_state,
            "state": application.state,
            "action": action,
            "risk_level": application.risk_level or None,
            "unscreened": application.unscreened,
            "merchant_deadline": application.merchant_deadline.isoformat() if application.merchant_deadline else None,
            "decision": None
            if decision is None
            else {
                "outcome": decision.outcome,
                "approved_amount": str(decision.approved_amount),
                "currency": decision.currency,
                "actor_kind": decision.actor_kind,
                "reason_codes": decision.reason_codes,
            },
        },
    )
    request_id = current_request_id()
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(event=event, endpoint=endpoint, request_id=request_id) for endpoint in endpoints]
    )
    for endpoint in endpoints:
        _enqueue_on_commit(endpoint.pk, application.pk)
    return event


def _enqueue_on_commit(endpoint_pk: int, application_pk: int, countdown: float = 0) -> None:
    """Kick the delivery task after the commit. The deliveries themselves are the outbox: a
    kick the broker refuses, or a retry further away than a beat interval (a countdown message
    that could outlive the visibility timeout), is left to beat's ``retry_due``."""
    if countdown > settings.BEAT_INTERVAL_SECONDS:
        return

    def send() -> None:
        try:
            current_app.send_task(DELIVER_TASK, args=[endpoint_pk, application_pk], countdown=countdown)
        except Exception as exc:  # noqa: BLE001 - any broker failure; beat sends it when due
            log.warning("broker unavailable; webhook delivery left to the retry job: %r", exc)

    transaction.on_commit(send, robust=True)


def body_of(event: WebhookEvent) -> bytes:
    return json.dumps(
        {
            "id": str(event.public_id),
            "type": event.type,
            "sequence": event.sequence,
            "created_at": event.created_at.isoformat(),
            "data": event.payload,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


def _backoff(attempts: int) -> timedelta:
    base = settings.WEBHOOK_RETRY_BASE_SECONDS
    return timedelta(
        seconds=min(settings.WEBHOOK_RETRY_MAX_SECONDS, base * 2 ** (attempts - 1) * random.uniform(1, 1.25))
    )


def deliver_pending(*, endpoint_pk: int, application_pk: int) -> int:
    """Send the endpoint's pending events of one application, oldest first, stopping at the first
    failure so none overtakes an earlier one. Return how many were delivered."""
    delivered = 0
    while True:
        with transaction.atomic():
            try:
                # NOWAIT: another worker holds this queue's head and is sending it; leave it to that worker.
                delivery = (
                    WebhookDelivery.objects.select_for_update(nowait=True, of=("self",))
                    .select_related("event", "endpoint")
                    .filter(
                        endpoint_id=endpoint_pk,
                        event__application_id=application_pk,
                        status=WebhookDelivery.Status.PENDING,
                    )
                    .order_by("event__sequence")
                    .first()
                )
            except DatabaseError:
                return delivered
            if delivery is None:
                return delivered
            now = timezone.now()
            if delivery.next_attempt_at > now:
                _enqueue_on_commit(endpoint_pk, application_pk, (delivery.next_attempt_at - now).total_seconds())
                return delivered
            ok = _attempt(delivery)
            delivery.save()
            if not ok:
                if delivery.status == WebhookDelivery.Status.PENDING:
                    _enqueue_on_commit(endpoint_pk, application_pk, (delivery.next_attempt_at - now).total_seconds())
                return delivered
            delivered += 1


def _attempt(delivery: WebhookDelivery) -> bool:
    body = body_of(delivery.event)
    request = urllib.request.Request(
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "reviewhub-webhooks/1",
            SIGNATURE_HEADER: sign(delivery.endpoint.signing_secrets(timezone.now()), body),
        },
    )
    delivery.attempts += 1
    try:
        with _guarded_open(request, timeout=settings.WEBHOOK_TIMEOUT_SECONDS) as response:
            delivery.last_status_code = response.status
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = timezone.now()
        delivery.last_error = ""
        return True
    except urllib.error.HTTPError as exc:
        delivery.last_status_code = exc.code
        delivery.last_error = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        delivery.last_status_code = None
        delivery.last_error = str(getattr(exc, "reason", exc))[:500]
    if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    else:
        delivery.next_attempt_at = timezone.now() + _backoff(delivery.attempts)
    return False


def retry_due() -> int:
    """Enqueue delivery for every endpoint and application with a due pending delivery (after
    a lost message or worker downtime); return how many queues were enqueued."""
    due = (
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=timezone.now())
        .values_list("endpoint_id", "event__application_id")
        .distinct()
    )
    pairs = list(due)
    for endpoint_pk, application_pk in pairs:
        current_app.send_task(DELIVER_TASK, args=[endpoint_pk, application_pk])
    return len(pairs)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# --- URL guard --------------------------------------------------------------------------------
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


def _guarded_open(request: urllib.request.Request, *, timeout: float) -> http.client.HTTPResponse:
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


def delivery_requeue(delivery: WebhookDelivery) -> None:
    """Make the delivery pending again from its first attempt and kick it after the commit.
    Call inside the transaction of the service that decided so."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    _enqueue_on_commit(delivery.endpoint_id, delivery.event.application_id)
