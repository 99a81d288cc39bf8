"""A platform's settings: onboarding, its policy, its API keys and its webhook endpoints.

The API, the admin and the commands all change settings through these services. Each runs
in one transaction and appends a ``SettingsChange`` (who, when, before and after, never a
secret): the policy decides what is approved without a person, keys open the API and
endpoints receive every application's data, so every change to them is on record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from refunds.errors import Conflict, ErrorCode, InvalidInput, NotFound
from refunds.integration import apikeys, signing, url_guard, webhooks
from refunds.models import ApiKey, Platform, Policy, SettingsChange, WebhookDelivery, WebhookEndpoint
from refunds.policy_bounds import policy_validate
from refunds.services._base import Actor
from refunds.states import ActorKind
from refunds.vocab import SettingsAction

Target = SettingsChange.Target


def settings_actor_for_key(key: ApiKey) -> Actor:
    """The actor of a change made through the API with this key."""
    return Actor(ActorKind.PLATFORM, None, f"api key {key.prefix}")


def settings_actor_for_staff(user: Any) -> Actor:
    """The actor of a change made by a staff member in the admin."""
    return Actor(ActorKind.STAFF, user, user.get_username())


def settings_actor_for_command(name: str) -> Actor:
    return Actor(ActorKind.SYSTEM, None, f"manage.py {name}")


def _record(
    platform: Platform,
    *,
    target: str,
    target_id: object = "",
    action: str,
    actor: Actor,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> SettingsChange:
    user = actor.user if getattr(actor.user, "pk", None) else None
    return SettingsChange.objects.create(
        platform=platform,
        target=target,
        target_id=str(target_id),
        action=action,
        actor_kind=actor.kind,
        actor_label=actor.label[:200],
        actor_user=user,
        before=before,
        after=after,
    )


def _invalid_policy(exc: ValidationError) -> InvalidInput:
    errors = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return InvalidInput(ErrorCode.INVALID_POLICY, details={"param": next(iter(errors), None), "errors": errors})


# --- onboarding -------------------------------------------------------------------------------


def platform_create(*, name: str, slug: str, actor: Actor, policy: Mapping[str, Any] | None = None) -> Platform:
    """Create a platform with its policy (defaults, changed by ``policy``); raise Conflict if
    the slug is taken, InvalidInput if the policy is invalid."""
    values = {field: Policy._meta.get_field(field).get_default() for field in Policy.SETTINGS}  # type: ignore[union-attr]
    unknown = sorted(set(policy or {}) - set(Policy.SETTINGS))
    if unknown:
        raise InvalidInput(
            ErrorCode.UNKNOWN_POLICY_SETTING,
            names=", ".join(unknown),
            details={"param": unknown[0], "unknown": unknown},
        )
    values.update(policy or {})
    try:
        policy_validate(values)
    except ValidationError as exc:
        raise _invalid_policy(exc) from None
    try:
        with transaction.atomic():
            platform = Platform.objects.create(name=name, slug=slug)
            created = Policy.objects.create(platform=platform, **values)
            _record(
                platform,
                target=Target.PLATFORM,
                target_id=platform.public_id,
                action=SettingsAction.PLATFORM_CREATED,
                actor=actor,
                after={"name": name, "slug": slug},
            )
            _record(
                platform,
                target=Target.POLICY,
                action=SettingsAction.POLICY_CREATED,
                actor=actor,
                after=created.settings_values(),
            )
    except IntegrityError:
        raise Conflict(ErrorCode.PLATFORM_EXISTS, details={"param": "slug", "value": slug}) from None
    return platform


def platform_reuse_sharing_set(*, platform: Platform, shares: bool, actor: Actor) -> Platform:
    """Opt the platform in to the shared pool of reuse hashes, or out of it, on record.

    Sharing is both ways: only a platform that shares its perceptual hashes learns that a photo
    was used on another one before (the fact and the date, nothing else).
    """
    with transaction.atomic():
        # Two concurrent changes are serialised, so the record's "before" is what it replaced.
        locked = Platform.objects.select_for_update().get(pk=platform.pk)
        if locked.shares_reuse_hashes != shares:
            before = locked.shares_reuse_hashes
            locked.shares_reuse_hashes = shares
            locked.save(update_fields=["shares_reuse_hashes"])
            _record(
                locked,
                target=Target.PLATFORM,
                target_id=locked.public_id,
                action=SettingsAction.REUSE_SHARING_UPDATED,
                actor=actor,
                before={"shares_reuse_hashes": before},
                after={"shares_reuse_hashes": shares},
            )
    platform.shares_reuse_hashes = shares
    return locked


# --- policy -----------------------------------------------------------------------------------


def policy_of(*, platform: Platform) -> Policy:
    """Return the platform's policy. A platform made before onboarding created policies gets
    the defaults now, on record, rather than failing every screening of its applications."""
    policy = Policy.objects.filter(platform=platform).first()
    if policy is not None:
        return policy
    with transaction.atomic():
        Platform.objects.select_for_update().filter(pk=platform.pk).first()
        policy, created = Policy.objects.get_or_create(platform=platform)
        if created:
            _record(
                platform,
                target=Target.POLICY,
                action=SettingsAction.POLICY_CREATED,
                actor=Actor.system(),
                after=policy.settings_values(),
            )
    return policy


def policy_update(*, platform: Platform, changes: Mapping[str, Any], actor: Actor) -> Policy:
    """Change some settings of the platform's policy; raise InvalidInput naming each bad field."""
    unknown = sorted(set(changes) - set(Policy.SETTINGS))
    if unknown:
        raise InvalidInput(
            ErrorCode.UNKNOWN_POLICY_SETTING,
            names=", ".join(unknown),
            details={"param": unknown[0], "unknown": unknown},
        )
    with transaction.atomic():
        # Two concurrent changes are serialised, so each record's "before" is what it replaced.
        policy_of(platform=platform)
        policy = Policy.objects.select_for_update().get(platform=platform)
        before = policy.settings_values()
        for field, value in changes.items():
            setattr(policy, field, value)
        try:
            policy_validate({field: getattr(policy, field) for field in Policy.SETTINGS})
        except ValidationError as exc:
            raise _invalid_policy(exc) from None
        policy.save()
        after = policy.settings_values()
        if after != before:
            changed = [field for field in Policy.SETTINGS if before[field] != after[field]]
            _record(
                platform,
                target=Target.POLICY,
                action=SettingsAction.POLICY_UPDATED,
                actor=actor,
                before={f: before[f] for f in changed},
                after={f: after[f] for f in changed},
            )
    return policy


# --- API keys ---------------------------------------------------------------------------------


def _key_row(key: ApiKey) -> dict[str, Any]:
    return {
        "name": key.name,
        "prefix": key.prefix,
        "scopes": key.scopes,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "revoked_at": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(
            ErrorCode.INVALID_EXPIRY,
            details={"param": "expires_at", "value": str(expires_at)},
        )


def api_key_issue(
    *,
    platform: Platform,
    name: str,
    scopes: Iterable[str],
    actor: Actor | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with the full key text, which is never stored; raise
    InvalidInput for unknown scopes or an expiry in the past."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in ApiKey.Scope.values]
    if unknown or not scopes:
        raise InvalidInput(
            ErrorCode.INVALID_SCOPES,
            scopes=", ".join(ApiKey.Scope.values),
            details={"param": "scopes", "unknown": unknown},
        )
    _check_expiry(expires_at)
    prefix, secret_hash, text = apikeys.key_material()
    with transaction.atomic():
        key = ApiKey.objects.create(
            platform=platform, name=name, prefix=prefix, secret_hash=secret_hash, scopes=scopes, expires_at=expires_at
        )
        _record(
            platform,
            target=Target.API_KEY,
            target_id=key.public_id,
            action=SettingsAction.API_KEY_ISSUED,
            actor=actor or Actor.system(),
            after=_key_row(key),
        )
    return key, text


def _locked_key(key: ApiKey) -> ApiKey:
    try:
        return ApiKey.objects.select_for_update().select_related("platform").get(pk=key.pk)
    except ApiKey.DoesNotExist:
        raise NotFound(ErrorCode.API_KEY_NOT_FOUND) from None


def api_key_rotate(
    *, key: ApiKey, actor: Actor, overlap: timedelta | None = None, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Issue a new key with the same name and scopes; the old one keeps working for
    ``overlap`` (API_KEY_ROTATION_OVERLAP by default; zero revokes it now) so that a rolling
    deploy can switch over. Raise Conflict if the key is revoked or expired already."""
    overlap = settings.API_KEY_ROTATION_OVERLAP if overlap is None else overlap
    if overlap < timedelta(0):
        raise InvalidInput(ErrorCode.NEGATIVE_OVERLAP, details={"param": "overlap_seconds"})
    _check_expiry(expires_at)
    with transaction.atomic():
        old = _locked_key(key)
        if not old.is_live():
            raise Conflict(
                ErrorCode.API_KEY_NOT_LIVE,
                details={"prefix": old.prefix},
            )
        before = _key_row(old)
        new, text = api_key_issue(
            platform=old.platform, name=old.name, scopes=old.scopes, actor=actor, expires_at=expires_at
        )
        now = timezone.now()
        if overlap:
            end = now + overlap
            old.expires_at = min(old.expires_at, end) if old.expires_at else end
        else:
            old.revoked_at = now
        old.replaced_by = new
        old.save(update_fields=["expires_at", "revoked_at", "replaced_by"])
        _record(
            old.platform,
            target=Target.API_KEY,
            target_id=old.public_id,
            action=SettingsAction.API_KEY_ROTATED,
            actor=actor,
            before=before,
            after={**_key_row(old), "replaced_by": new.prefix},
        )
    return new, text


def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    """Revoke a key at once (idempotent: revoking a revoked key changes nothing)."""
    with transaction.atomic():
        key = _locked_key(key)
        if key.revoked_at is None:
            before = _key_row(key)
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            _record(
                key.platform,
                target=Target.API_KEY,
                target_id=key.public_id,
                action=SettingsAction.API_KEY_REVOKED,
                actor=actor,
                before=before,
                after=_key_row(key),
            )
    return key


# --- webhook endpoints ------------------------------------------------------------------------


def _endpoint_row(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "active": endpoint.active}


def _check_url_free(platform: Platform, url: str, *, exclude_pk: int | None = None) -> None:
    others = WebhookEndpoint.objects.filter(platform=platform, url=url)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        raise Conflict(
            ErrorCode.WEBHOOK_ENDPOINT_EXISTS,
            details={"param": "url", "value": url},
        )


def _check_room(platform: Platform) -> None:
    limit = settings.WEBHOOK_MAX_ENDPOINTS
    if WebhookEndpoint.objects.filter(platform=platform).count() >= limit:
        raise Conflict(ErrorCode.WEBHOOK_ENDPOINT_LIMIT, limit=limit, details={"limit": limit})


def webhook_endpoint_check(*, platform: Platform, url: str, endpoint: WebhookEndpoint | None = None) -> None:
    """Raise what creating an endpoint (or changing ``endpoint``'s URL) to ``url`` would raise
    now, writing nothing: a form asks this before it saves. (The change checks again under
    the platform's lock.)"""
    url_guard.url_check(url)
    _check_url_free(platform, url, exclude_pk=endpoint.pk if endpoint is not None else None)
    if endpoint is None:
        _check_room(platform)


def webhook_endpoint_create(*, platform: Platform, url: str, actor: Actor, active: bool = True) -> WebhookEndpoint:
    """Add an endpoint with a fresh signing secret; raise InvalidInput for a URL the guard
    refuses, Conflict for a duplicate or past WEBHOOK_MAX_ENDPOINTS."""
    url_guard.url_check(url)
    with transaction.atomic():
        # The platform's row lock serialises concurrent creations, so the cap and the
        # duplicate check cannot both pass for two requests at once.
        Platform.objects.select_for_update().filter(pk=platform.pk).first()
        _check_url_free(platform, url)
        _check_room(platform)
        endpoint = WebhookEndpoint.objects.create(
            platform=platform, url=url, active=active, secret=signing.new_secret()
        )
        _record(
            platform,
            target=Target.WEBHOOK_ENDPOINT,
            target_id=endpoint.public_id,
            action=SettingsAction.WEBHOOK_ENDPOINT_CREATED,
            actor=actor,
            after=_endpoint_row(endpoint),
        )
    return endpoint


def _locked_endpoint(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    try:
        return WebhookEndpoint.objects.select_for_update().select_related("platform").get(pk=endpoint.pk)
    except WebhookEndpoint.DoesNotExist:
        raise NotFound(ErrorCode.WEBHOOK_ENDPOINT_NOT_FOUND) from None


def webhook_endpoint_update(
    *, endpoint: WebhookEndpoint, actor: Actor, url: str | None = None, active: bool | None = None
) -> WebhookEndpoint:
    """Change an endpoint's URL or switch it on or off; an inactive endpoint gets no new events."""
    if url is not None:
        url_guard.url_check(url)
    with transaction.atomic():
        endpoint = _locked_endpoint(endpoint)
        before = _endpoint_row(endpoint)
        if url is not None and url != endpoint.url:
            _check_url_free(endpoint.platform, url, exclude_pk=endpoint.pk)
            endpoint.url = url
        if active is not None:
            endpoint.active = active
        after = _endpoint_row(endpoint)
        if after != before:
            endpoint.save(update_fields=["url", "active"])
            _record(
                endpoint.platform,
                target=Target.WEBHOOK_ENDPOINT,
                target_id=endpoint.public_id,
                action=SettingsAction.WEBHOOK_ENDPOINT_UPDATED,
                actor=actor,
                before=before,
                after=after,
            )
    return endpoint


def webhook_endpoint_deactivate(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    return webhook_endpoint_update(endpoint=endpoint, actor=actor, active=False)


def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: Actor, overlap: timedelta | None = None
) -> WebhookEndpoint:
    """Replace the endpoint's signing secret. The old one keeps signing beside the new one for
    ``overlap`` (WEBHOOK_SECRET_ROTATION_OVERLAP by default; zero ends it now), so that events
    already queued, and their retries, still verify at a receiver that has not switched yet;
    a secret an earlier rotation kept is dropped. Raise InvalidInput for an overlap outside
    zero to WEBHOOK_SECRET_ROTATION_MAX_OVERLAP. The record says when the old secret stops
    signing, never what either secret is."""
    overlap = settings.WEBHOOK_SECRET_ROTATION_OVERLAP if overlap is None else overlap
    longest = settings.WEBHOOK_SECRET_ROTATION_MAX_OVERLAP
    if not timedelta(0) <= overlap <= longest:
        raise InvalidInput(
            ErrorCode.INVALID_OVERLAP,
            max=longest.total_seconds(),
            details={"param": "overlap_seconds", "minimum": 0, "maximum": int(longest.total_seconds())},
        )
    with transaction.atomic():
        endpoint = _locked_endpoint(endpoint)
        before = _secret_row(endpoint)
        if overlap:
            endpoint.previous_secret = endpoint.secret
            endpoint.previous_secret_expires_at = timezone.now() + overlap
        else:
            endpoint.previous_secret, endpoint.previous_secret_expires_at = "", None
        endpoint.secret = signing.new_secret()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
        _record(
            endpoint.platform,
            target=Target.WEBHOOK_ENDPOINT,
            target_id=endpoint.public_id,
            action=SettingsAction.WEBHOOK_ENDPOINT_SECRET_ROTATED,
            actor=actor,
            before=before,
            after=_secret_row(endpoint),
        )
    return endpoint


def _secret_row(endpoint: WebhookEndpoint) -> dict[str, Any]:
    expires = endpoint.previous_secret_expires_at if endpoint.previous_secret else None
    return {"previous_secret_expires_at": expires.isoformat() if expires else None}


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """Remove an endpoint; its pending deliveries are dropped with it."""
    with transaction.atomic():
        endpoint = _locked_endpoint(endpoint)
        _record(
            endpoint.platform,
            target=Target.WEBHOOK_ENDPOINT,
            target_id=endpoint.public_id,
            action=SettingsAction.WEBHOOK_ENDPOINT_DELETED,
            actor=actor,
            before=_endpoint_row(endpoint),
        )
        endpoint.delete()


def webhook_delivery_redeliver(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Queue a delivery again (a failed one, or a delivered one the receiver lost), and record
    who asked for it among the platform's settings changes."""
    with transaction.atomic():
        webhooks.delivery_requeue(delivery)
        _record(
            delivery.endpoint.platform,
            target=Target.WEBHOOK_ENDPOINT,
            target_id=delivery.endpoint.public_id,
            action=SettingsAction.WEBHOOK_DELIVERY_REDELIVERED,
            actor=actor,
            after={"delivery": str(delivery.public_id), "event": str(delivery.event.public_id)},
        )
    delivery.refresh_from_db()
    return delivery
