"""What one detail read costs the database and the cache: each statement and each command is a
round trip, and round trips, not Python, were most of a read's time in a gunicorn worker on
PostgreSQL and Redis (bench/api.py, README.md). The bounds are today's counts: a change that
adds one fails here and has to say why it is worth it."""

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection

from tests.factories import CUP, GENUINE_CUP, submit
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db

# The application with its merchant, product, decision and group on each row of its evidence
# with their screenings; and the key, unless the cache shared by the processes (Redis) holds
# it (refunds.integration.apikeys). (Django's health check of a reused connection comes on
# top, outside a test.)
STATEMENTS_OF_A_DETAIL_READ = 1
STATEMENTS_OF_A_DETAIL_READ_WITHOUT_A_SHARED_CACHE = 2
# The address's refused keys and the key's rate, checked in one script.
CACHE_COMMANDS_OF_A_DETAIL_READ = 1


@pytest.fixture
def cache_commands(monkeypatch):
    """The commands sent to Redis (none when the cache is in the process)."""
    sent = []
    original = AbstractConnection.send_command

    def send_command(self, *args, **kwargs):
        sent.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "send_command", send_command)
    return sent


def test_a_platform_reads_its_application_in_one_statement_and_one_cache_command(product, key_a, cache_commands):
    application = submit(product)
    client = client_with(key_a)
    # The key's row is read and cached, its last use recorded once a minute.
    client.get(f"/api/v1/applications/{application.public_id}")
    cache_commands.clear()

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/applications/{application.public_id}")

    assert response.status_code == 200
    shared = isinstance(caches["default"], RedisCache)
    expected = STATEMENTS_OF_A_DETAIL_READ if shared else STATEMENTS_OF_A_DETAIL_READ_WITHOUT_A_SHARED_CACHE
    assert len(queries) == expected, "\n".join(q["sql"] for q in queries.captured_queries)
    assert "refunds_apikey" not in " ".join(q["sql"] for q in queries.captured_queries) or not shared
    if shared:
        assert len(cache_commands) == CACHE_COMMANDS_OF_A_DETAIL_READ, cache_commands
    assert response["RateLimit-Remaining"]


def test_an_application_of_several_images_is_read_in_one_statement_all_the_same(product, key_a):
    application = submit(product, evidence=[GENUINE_CUP, CUP])
    client = client_with(key_a)
    client.get(f"/api/v1/applications/{application.public_id}")

    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/v1/applications/{application.public_id}")

    shown = [e["id"] for e in response.json()["evidence"]]
    assert shown == [str(e.public_id) for e in application.evidence.order_by("position")]
    assert len(shown) == 2
    shared = isinstance(caches["default"], RedisCache)
    assert len(queries) == (
        STATEMENTS_OF_A_DETAIL_READ if shared else STATEMENTS_OF_A_DETAIL_READ_WITHOUT_A_SHARED_CACHE
    )
