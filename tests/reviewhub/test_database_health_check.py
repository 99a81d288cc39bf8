"""The check of a kept PostgreSQL connection before a task or request uses it: a quiet connection
is taken as it is, without a round trip; one the database ended is replaced before the work's
first query."""

import select
import time

import psycopg
import pytest
from django.db import connection

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's connections"),
]


def checked_as_a_task_starts():
    """What Django does before the first query of a task or request on a kept connection."""
    connection.health_check_done = False
    connection.close_if_health_check_failed()


def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_quiet_kept_connection_is_taken_without_a_round_trip(monkeypatch):
    backend_pid()
    kept = connection.connection

    def no_query(*args, **kwargs):
        raise AssertionError("the check sent a query")

    monkeypatch.setattr(kept, "cursor", no_query)
    monkeypatch.setattr(kept, "execute", no_query)
    checked_as_a_task_starts()
    monkeypatch.undo()
    assert connection.connection is kept
    assert backend_pid()


def test_a_connection_the_database_ended_is_replaced_before_the_first_query():
    ended = backend_pid()
    kept = connection.connection
    dsn = kept.info.dsn
    with psycopg.connect(dsn, password=kept.info.password, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [ended])
    # The server's goodbye reaches the socket a moment after the function returns.
    until = time.monotonic() + 5
    while not select.select([kept.fileno()], [], [], 0.05)[0] and time.monotonic() < until:
        pass
    checked_as_a_task_starts()
    assert connection.connection is None
    assert backend_pid() != ended
