"""Webhook signatures: HMAC-SHA256 over ``"{timestamp}.{body}"`` (invariant 8).

Pure functions with no Django: receivers can copy ``verify_signature`` as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence

SIGNATURE_HEADER = "Reviewhub-Signature"


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


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)
