"""Issue and check platform API keys of the form ``rh_<prefix>_<secret>``."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from refunds.errors import InvalidInput
from refunds.models import ApiKey, Platform


def _hash(secret: str) -> str:
    # The secret has 256 bits of entropy, so a plain SHA-256 is not open to guessing.
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_issue(*, platform: Platform, name: str, scopes: Iterable[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with the full key text, which is never stored."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in ApiKey.Scope.values]
    if unknown or not scopes:
        raise InvalidInput("invalid_scopes", _("Choose scopes among: %(scopes)s.") % {"scopes": ", ".join(ApiKey.Scope.values)},
                           details={"unknown": unknown})
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(platform=platform, name=name, prefix=prefix, secret_hash=_hash(secret), scopes=scopes)
    return key, f"rh_{prefix}_{secret}"


def api_key_check(text: str) -> ApiKey | None:
    """Return the live key matching the text, or None."""
    parts = text.split("_", 2)
    if len(parts) != 3 or parts[0] != "rh":
        return None
    key = ApiKey.objects.select_related("platform").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(parts[2])):
        return None
    if key.last_used_at is None or (timezone.now() - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key
