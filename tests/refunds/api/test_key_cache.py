"""A key's row is kept in the shared cache and read with the rate limit's round trip, and a
revoked, expired, rotated, narrowed or deleted key is refused all the same: at once when the
change goes through the ORM, within CACHE_SECONDS when the cache could not hear of it
(refunds.integration.apikeys)."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.integration import apikeys
from refunds.models import ApiKey
from refunds.services import Actor
from refunds.services.platform import api_key_issue, api_key_revoke, api_key_rotate
from tests.factories import submit
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db
OPS = Actor.system()


@pytest.fixture(autouse=True)
def shared_cache():
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("keys are cached only in a cache shared by the processes (set REDIS_URL)")


@pytest.fixture
def application(product):
    return submit(product)


@pytest.fixture
def issued(platform_a):
    """A key of platform A and its text."""
    return api_key_issue(platform=platform_a, name="orders", scopes=["read", "write"])


def read(text, application):
    return client_with(text).get(f"/api/v1/applications/{application.public_id}")


def key_statements(queries):
    return [q["sql"] for q in queries.captured_queries if '"refunds_apikey"' in q["sql"] and "SELECT" in q["sql"]]


def cached(key):
    return caches["default"].get(apikeys.api_key_cache_name(key.prefix))


def test_a_key_checked_once_is_read_from_the_cache_next_time(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    assert cached(key)[1].pk == key.pk
    with CaptureQueriesContext(connection) as queries:
        assert read(text, application).status_code == 200
    assert key_statements(queries) == []


def test_a_revoked_key_is_refused_at_once_though_it_was_cached(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    api_key_revoke(key=key, actor=OPS)
    assert read(text, application).status_code == 401


def test_a_key_revoked_by_a_queryset_update_is_refused_at_once(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert read(text, application).status_code == 401


def test_a_deleted_key_is_refused_at_once(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    ApiKey.objects.filter(pk=key.pk).delete()
    assert read(text, application).status_code == 401


def test_a_key_rotated_without_overlap_is_refused_at_once(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    _, new_text = api_key_rotate(key=key, actor=OPS, overlap=timedelta(0))
    assert read(text, application).status_code == 401
    assert read(new_text, application).status_code == 200


def test_a_scope_taken_away_is_applied_at_once(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    key.scopes = ["write"]
    key.save(update_fields=["scopes"])
    assert read(text, application).status_code == 403


def test_a_cached_key_past_its_expiry_is_refused(platform_a, application):
    key, text = api_key_issue(
        platform=platform_a, name="short", scopes=["read"], expires_at=timezone.now() + timedelta(seconds=5)
    )
    assert read(text, application).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        assert apikeys._from_cache(cached(key), prefix=key.prefix, now=timezone.now()) is not None
        assert read(text, application).status_code == 401


def test_a_wrong_secret_is_refused_though_its_prefix_is_cached(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    assert read(f"rh_{key.prefix}_{'x' * 43}", application).status_code == 401


def test_a_revocation_the_cache_did_not_hear_of_takes_effect_within_the_bound(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    with connection.cursor() as cursor:  # behind the ORM's back: no mark in the cache
        cursor.execute("UPDATE refunds_apikey SET revoked_at = %s WHERE id = %s", [timezone.now(), key.pk])
    assert read(text, application).status_code == 200  # the documented bound, not yet passed
    with time_machine.travel(timezone.now() + timedelta(seconds=apikeys.CACHE_SECONDS + 1)):
        assert read(text, application).status_code == 401
    cache = caches["default"]
    name = cache.make_and_validate_key(apikeys.api_key_cache_name(key.prefix))
    assert 0 < cache._cache.get_client(name).ttl(name) <= apikeys.CACHE_SECONDS  # and Redis drops it then


def test_a_row_read_before_a_change_cannot_be_cached_after_it(issued):
    key, text = issued
    before = apikeys._LIVE_KEY.first(now=timezone.now(), prefix=key.prefix)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    apikeys._remember(before, now=timezone.now())  # the slow request that read the row first
    assert cached(key) == apikeys._CHANGED
    assert apikeys.api_key_check(text, cached=cached(key)) is None


def test_the_change_is_marked_again_when_it_commits(issued, django_capture_on_commit_callbacks):
    key, _ = issued
    with django_capture_on_commit_callbacks() as callbacks:
        api_key_revoke(key=key, actor=OPS)
    caches["default"].delete(apikeys.api_key_cache_name(key.prefix))
    for callback in callbacks:
        callback()
    assert cached(key) == apikeys._CHANGED


def test_a_change_to_the_platform_leaves_its_keys_out_of_the_cache(issued, platform_a, application):
    key, text = issued
    assert read(text, application).status_code == 200
    platform_a.shares_reuse_hashes = True
    platform_a.save(update_fields=["shares_reuse_hashes"])
    assert cached(key) == apikeys._CHANGED
    with CaptureQueriesContext(connection) as queries:
        assert read(text, application).status_code == 200
    assert len(key_statements(queries)) == 1


def test_recording_a_last_use_leaves_the_cached_key_in_place(issued, application):
    key, text = issued
    assert read(text, application).status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    assert cached(key)[1].pk == key.pk
