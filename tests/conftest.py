"""Test set-up: real database (PostgreSQL when DATABASE_URL says so), a real broker (Redis
when REDIS_URL says so, else kombu's in-memory transport) and a real Celery worker thread.
The environment that must be set before Django reads its settings is in tests/support/early_env.py."""

from __future__ import annotations

import gc
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.db import connection

from tests.factories import *  # noqa: F401,F403

# The suite runs in two processes, a test file at a time in each (pytest-xdist's loadfile,
# set in pyproject.toml). Files are handed out in collection order, so the longest ones go
# first: left to the end, one of them would keep a process busy alone for minutes. The
# durations are those the run prints (--durations), on a two-core machine.
LONGEST_FILES_FIRST = (
    "tests/refunds/api/test_schema.py",  # schemathesis, every phase: about 5-6 min
    "tests/bench/test_soak.py",  # about 80 s
    "tests/refunds/test_lifecycle_properties.py",  # about 70 s
    "tests/bench/test_multihost.py",  # about 60 s
    "tests/browser/test_accessibility.py",
    "tests/refunds/test_isolation_matrix.py",
)


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering, which it keeps within a file
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return LONGEST_FILES_FIRST.index(path) if path in LONGEST_FILES_FIRST else len(LONGEST_FILES_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the rest is kept


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    # The parallel suffix (pytest-django's own default) names each process's test database.
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        # A file, not memory: the worker thread and subprocesses open their own connections.
        db.setdefault("TEST", {})["NAME"] = os.path.join(tempfile.gettempdir(), f"reviewhub-test-{os.getpid()}.sqlite3")


@pytest.fixture(scope="module")
def celery_worker(django_db_setup, django_db_blocker) -> Iterator[object]:
    """A real Celery worker consuming from the configured broker in a thread of this process.

    Per module, so that the modules testing worker subprocesses have the queue to themselves."""
    from celery.contrib.testing.worker import start_worker

    from reviewhub.celery import app

    app.loader.import_module("celery.contrib.testing.tasks")
    with django_db_blocker.unblock():
        app.control.purge() if app.conf.broker_url.startswith("redis") else None
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=30, loglevel="WARNING"
        ) as worker:
            _running_workers.append(worker)
            try:
                yield worker
            finally:
                _running_workers.remove(worker)
    # The worker thread has ended; the database connection it kept (CONN_MAX_AGE) is freed with
    # its thread's storage, which holds reference cycles: collect it now, or the test database
    # cannot be dropped at the end of the session while it is still open.
    gc.collect()


_running_workers: list[object] = []


def _wait_until_worker_idle(timeout: float = 30) -> None:
    """Wait until the queue is empty and the worker runs nothing, a few polls in a row."""
    from celery.worker import state

    from reviewhub.celery import app

    quiet, deadline = 0, time.monotonic() + timeout
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        while quiet < 3 and time.monotonic() < deadline:
            busy = state.active_requests or any(channel._size(queue) for queue in app.amqp.queues)
            quiet = 0 if busy else quiet + 1
            time.sleep(0.05)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201
    # Before fixtures are torn down: a task still running when a transactional test flushes
    # the database would deadlock with the flush (and then touch the next test's rows).
    if _running_workers:
        _wait_until_worker_idle()
    yield


def wait_for(predicate: Callable[[], object], *, timeout: float = 30, interval: float = 0.05) -> object:
    """Poll until predicate() is truthy; fail the test with its last value after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


def race(*calls: Callable[[], object]) -> list[object]:
    """Start the calls together in threads; return each one's result or raised exception."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # noqa: BLE001 - the race's loser is part of the result
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


@pytest.fixture
def redis_only() -> None:
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs a Redis broker shared with subprocesses (set REDIS_URL)")


def subprocess_env(**extra: str) -> dict[str, str]:
    """Return the environment for a worker or beat subprocess that shares this test database."""
    from django.conf import settings

    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    env = dict(os.environ, DATABASE_URL=url, MEDIA_ROOT=str(settings.MEDIA_ROOT), PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


@pytest.fixture
def broker_kept_its_messages() -> None:
    """Let the sweepers (screening, videos) know the broker as intact since their last round (their
    markers set), so that they keep to the staleness rule; a broker whose marker is gone lost its
    messages."""
    from refunds.tasks import BROKER_MARKER, VIDEO_BROKER_MARKER, _broker_lost_its_messages

    for marker in (BROKER_MARKER, VIDEO_BROKER_MARKER):
        _broker_lost_its_messages(marker=marker)


@pytest.fixture
def empty_queue(broker_kept_its_messages) -> Iterator[None]:
    """Start and end with the broker's queues purged, the broker known as intact."""
    from reviewhub.celery import app

    app.control.purge()
    yield
    app.control.purge()
