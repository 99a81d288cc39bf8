"""A query compiled once runs again with new values and gives what its queryset gives."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from refunds.compiled import CompiledQuery, Slot
from refunds.models import ApiKey, RefundApplication
from refunds.services.platform import api_key_issue
from tests.factories import GENUINE_CUP, submit

pytestmark = pytest.mark.django_db

LIVE_KEYS = CompiledQuery(
    lambda: (
        ApiKey.objects.select_related("platform")
        .filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=Slot("now", ApiKey._meta.get_field("expires_at"))),
            prefix=Slot("prefix", ApiKey._meta.get_field("prefix")),
        )
        .only("prefix", "expires_at", "platform__slug")
    )
)
APPLICATION = CompiledQuery(
    lambda: RefundApplication.objects.filter(
        public_id=Slot("public_id", RefundApplication._meta.get_field("public_id"))
    ).select_related("merchant")
)


def test_it_finds_with_each_run_the_rows_its_values_ask_for(platform_a, platform_b):
    alice = ApiKey.objects.get(prefix=api_key_issue(platform=platform_a, name="a", scopes=["read"])[0].prefix)
    bob = ApiKey.objects.get(prefix=api_key_issue(platform=platform_b, name="b", scopes=["read"])[0].prefix)
    now = timezone.now()
    assert [k.pk for k in LIVE_KEYS.run(now=now, prefix=alice.prefix)] == [alice.pk]
    assert [k.pk for k in LIVE_KEYS.run(now=now, prefix=bob.prefix)] == [bob.pk]
    assert LIVE_KEYS.run(now=now, prefix="nosuchprefix") == []
    ApiKey.objects.filter(pk=bob.pk).update(expires_at=now + timedelta(minutes=1))
    assert [k.pk for k in LIVE_KEYS.run(now=now, prefix=bob.prefix)] == [bob.pk]
    assert LIVE_KEYS.run(now=now + timedelta(minutes=2), prefix=bob.prefix) == []


def test_its_objects_are_those_of_the_queryset_deferred_and_related_fields_alike(platform_a):
    key = LIVE_KEYS.run(
        now=timezone.now(), prefix=api_key_issue(platform=platform_a, name="a", scopes=["read"])[0].prefix
    )[0]
    with CaptureQueriesContext(connection) as queries:
        assert key.platform == platform_a and key.platform.slug == platform_a.slug
    assert len(queries) == 0
    assert (
        key.get_deferred_fields()
        == ApiKey.objects.only("prefix", "expires_at", "platform").get(pk=key.pk).get_deferred_fields()
    )
    with CaptureQueriesContext(connection) as queries:
        assert key.name == "a"
    assert len(queries) == 1


def test_it_compiles_once_and_then_only_binds_values(product):
    first, second = submit(product, evidence=[GENUINE_CUP]), submit(product, evidence=[GENUINE_CUP], buyer_ref="b2")
    compiled = []
    original = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):  # noqa: ANN001, ANN202
        compiled.append(self.query.model)
        return original(self, *args, **kwargs)

    query = CompiledQuery(APPLICATION._build)
    SQLCompiler.as_sql = counting
    try:
        with CaptureQueriesContext(connection) as queries:
            found = [query.run(public_id=a.public_id)[0] for a in (first, second, first)]
    finally:
        SQLCompiler.as_sql = original
    assert [a.pk for a in found] == [first.pk, second.pk, first.pk]
    assert found[1].merchant == product.merchant
    assert compiled == [RefundApplication]
    assert len(queries) == 3


def test_a_value_its_field_refuses_raises_as_a_filter_would(product):
    with pytest.raises(ValidationError):
        RefundApplication.objects.filter(public_id="not-a-uuid").exists()
    with pytest.raises(ValidationError):
        APPLICATION.run(public_id="not-a-uuid")


def test_each_thread_compiles_for_its_own_connection(product):
    seen = []
    query = CompiledQuery(APPLICATION._build)
    query.run(public_id=submit(product, evidence=[GENUINE_CUP]).public_id)

    def in_another_thread() -> None:
        query.run(public_id="00000000-0000-0000-0000-000000000000")
        seen.append(query._local.compiled.compiler.connection)
        connection.close()

    thread = threading.Thread(target=in_another_thread)
    thread.start()
    thread.join()
    assert seen and seen[0] is not query._local.compiled.compiler.connection
