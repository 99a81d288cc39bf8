"""Platform API keys of the form ``rh_<prefix>_<secret>``: their material and their check.

Issuing, rotating and revoking keys are settings services (``refunds.services.platform``),
which take their material from here.

A live key's row, with its platform, is also kept in the shared cache (Redis) for
``CACHE_SECONDS``, and the API reads it in the round trip to the cache its rate limit makes
anyway (``refunds.api.limits``): the key's statement was, after the application's, the
largest cost of a detail read beyond the bare read's (bench/api.py on PostgreSQL and Redis,
detail / bare read 0.60 with it, 0.90 without). The entry is only a copy of what the
database says:

- any change to a key or its platform through the ORM (``save``, ``delete``, a queryset's
  ``update`` and so a revocation, a rotation, a change of scopes) replaces the entry with a
  *changed* mark at once and again when the change commits; the mark keeps the key out of
  the cache for ``CACHE_SECONDS``, so that a request which read the row before the change
  committed cannot put it back (entries are only *added*, never overwritten);
- an entry older than ``CACHE_SECONDS`` by this process's clock is not used, and the cache
  drops it then: a change the cache did not hear of (made in raw SQL, or while the cache was
  unreachable) takes effect within ``CACHE_SECONDS`` at worst;
- expiry, revocation and the secret are checked on the copy exactly as on the row;
- only a cache shared by every process is used (a cache in the process could not hear of a
  change made in another); without one, every request reads the database, as before.

A key's last use is recorded when its row is read from the database, once a minute at most
as before: with the cache, up to ``CACHE_SECONDS`` later than that.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from refunds import outage
from refunds.compiled import CompiledQuery, Slot
from refunds.models import ApiKey, Platform

log = logging.getLogger(__name__)

# The longest a change the cache did not hear of goes unnoticed, and how long a changed key
# stays out of the cache.
CACHE_SECONDS = 30
_CHANGED = "changed"

# Every API request runs it: compiled once (refunds.compiled), it took 0.3 ms instead of 0.7.
_LIVE_KEY = CompiledQuery(
    lambda: ApiKey.objects.select_related("platform").filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=Slot("now", ApiKey._meta.get_field("expires_at"))),
        prefix=Slot("prefix", ApiKey._meta.get_field("prefix")),
        revoked_at__isnull=True,
    )[:1]
)


def _hash(secret: str) -> str:
    # The secret has 256 bits of entropy, so a plain SHA-256 is not open to guessing.
    return hashlib.sha256(secret.encode()).hexdigest()


def key_material() -> tuple[str, str, str]:
    """Return a new key's prefix, the hash to store and the full key text (shown once)."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return prefix, _hash(secret), f"rh_{prefix}_{secret}"


def _parts(text: str) -> list[str] | None:
    parts = text.split("_", 2)
    return parts if len(parts) == 3 and parts[0] == "rh" else None


def api_key_prefix(text: str) -> str | None:
    """Return the prefix the key text names (unchecked), or None if it is not a key's form."""
    parts = _parts(text)
    return parts[1] if parts else None


def api_key_cache_name(prefix: str) -> str:
    """The name of the cache entry of the key with this prefix (the value ``api_key_check`` takes)."""
    return f"apikey:v1:{prefix}"


def api_key_check(text: str, *, cached: Any = None) -> ApiKey | None:
    """Return the live key (neither revoked nor expired) matching the text, or None. ``cached``
    is the key's cache entry (``api_key_cache_name``) if the caller read it: a fresh copy of the
    row is used instead of reading the database."""
    parts = _parts(text)
    if parts is None:
        return None
    now = timezone.now()
    key = _from_cache(cached, prefix=parts[1], now=now)
    from_database = key is None
    if key is None:
        key = _LIVE_KEY.first(now=now, prefix=parts[1])
    if key is None or not key.is_live(now) or not hmac.compare_digest(key.secret_hash, _hash(parts[2])):
        return None
    if from_database:
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        _remember(key, now=now)
    return key


def _shared_cache() -> Any:
    cache = caches["default"]
    return cache if isinstance(cache, RedisCache) else None


def _from_cache(entry: Any, *, prefix: str, now: datetime) -> ApiKey | None:
    """The key of a cache entry, if the entry is one (not a changed mark) and is fresh."""
    if not isinstance(entry, tuple) or len(entry) != 2:
        return None
    cached_at, key = entry
    if not isinstance(key, ApiKey) or key.prefix != prefix:
        return None
    if not timedelta(0) <= now - cached_at <= timedelta(seconds=CACHE_SECONDS):
        return None
    return key


def _remember(key: ApiKey, *, now: datetime) -> None:
    cache = _shared_cache()
    if cache is None:
        return
    try:
        # add, not set: a changed mark written since the row was read stays.
        cache.add(api_key_cache_name(key.prefix), (now, key), CACHE_SECONDS)
    except outage.OUTAGE_ERRORS as exc:
        log.warning("API key cache unreachable, not caching key %s: %r", key.prefix, exc)


def api_keys_changed(prefixes: Iterable[str]) -> None:
    """Keep the keys with these prefixes out of the cache for CACHE_SECONDS, now and again when
    the current transaction commits (see the module's docstring)."""
    names = [api_key_cache_name(prefix) for prefix in prefixes]
    if not names or _shared_cache() is None:
        return
    _mark_changed(names)
    transaction.on_commit(lambda: _mark_changed(names), robust=True)


def keys_updated(sender: Any, *, prefixes: list[str], **kwargs: Any) -> None:
    """Receiver of ``refunds.models.api_keys_updated``: a queryset's update changed these keys."""
    api_keys_changed(prefixes)


def _mark_changed(names: list[str]) -> None:
    cache = _shared_cache()
    if cache is None:
        return
    try:
        cache.set_many(dict.fromkeys(names, _CHANGED), CACHE_SECONDS)
    except outage.OUTAGE_ERRORS as exc:
        log.warning("API key cache unreachable: a changed key may be used for %s s more: %r", CACHE_SECONDS, exc)


def key_saved(sender: type[ApiKey], instance: ApiKey, created: bool = False, **kwargs: Any) -> None:
    """post_save and post_delete of a key: keep it out of the cache."""
    if not created:
        api_keys_changed([instance.prefix])


def platform_saved(sender: type[Platform], instance: Platform, created: bool = False, **kwargs: Any) -> None:
    """post_save of a platform: its keys' cached copies hold it, so keep them out of the cache."""
    if not created and _shared_cache() is not None:
        api_keys_changed(ApiKey.objects.filter(platform_id=instance.pk).values_list("prefix", flat=True))
