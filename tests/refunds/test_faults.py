"""Money-safe under infrastructure faults, on real PostgreSQL and Redis: a Redis server the test
restarts, a PostgreSQL connection cut through a proxy the test controls. After each fault the
invariant audit of the whole database finds nothing wrong."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta

import kombu.pools
import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from refunds import audit
from refunds.integration import outbox
from refunds.invariants import audit_database
from refunds.models import IdempotencyRecord, OutboxTask, RefundApplication
from refunds.services import application_add_evidence, application_contest, application_requeue_stale_screenings
from refunds.services._base import Actor
from refunds.states import ActorKind, ApplicationState
from refunds.tasks import requeue_stale_screenings
from reviewhub.celery import app
from screening.models import ScreeningResult
from tests.conftest import subprocess_env, wait_for
from tests.factories import GENUINE_CUP, jpeg, screen, submit, upload
from tests.refunds.api.test_applications import client_with, form
from tests.support.services import RedisServer, TcpProxy

pytestmark = pytest.mark.django_db(transaction=True)

SCREEN_TASK = "screening.screen_application"


@pytest.fixture
def redis_server(tmp_path, postgres_only):
    # Its worker runs in another process, which shares the test database only on PostgreSQL
    # (SQLite's test database lives in this process's memory).
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@contextmanager
def broker_at(url: str):
    """Send this process's tasks to ``url`` (the test's own Redis) for the duration."""

    def forget_connections() -> None:
        # The app's pool and kombu's shared producer pools are keyed to the old broker.
        app._pool = None
        app.amqp._producer_pool = None
        kombu.pools.reset()

    previous = app.conf.broker_url
    forget_connections()
    app.conf.broker_url = url
    try:
        yield
    finally:
        forget_connections()
        app.conf.broker_url = previous


@contextmanager
def worker_on(broker_url: str, **env: str):
    """A real worker process consuming from ``broker_url``."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reviewhub",
            "worker",
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "WARNING",
        ],
        env=subprocess_env(CELERY_BROKER_URL=broker_url, REDIS_URL=broker_url, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def database_through(proxy: TcpProxy):
    """Route this process's database connection through the proxy."""
    connection.close()
    saved = connection.settings_dict["HOST"], connection.settings_dict["PORT"]
    connection.settings_dict["HOST"], connection.settings_dict["PORT"] = "127.0.0.1", str(proxy.port)
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["HOST"], connection.settings_dict["PORT"] = saved


@pytest.fixture
def pg_proxy(postgres_only):
    proxy = TcpProxy(connection.settings_dict["HOST"] or "127.0.0.1", int(connection.settings_dict["PORT"] or 5432))
    yield proxy
    proxy.close()


def state_of(application: RefundApplication) -> str:
    return RefundApplication.objects.get(pk=application.pk).state


def assert_invariants_hold(*, grace: timedelta | None = timedelta(0)) -> None:
    """Audit the database; by default every screening must have finished (grace 0)."""
    report = audit_database(grace=grace)
    assert report.violations == 0, report.lines() + [f"{k}: {v}" for k, v in report.examples.items() if v]


def post_application(client, product, key: str):
    return client.post("/api/v1/applications", form(product), format="multipart", HTTP_IDEMPOTENCY_KEY=key)


def test_a_submission_while_redis_is_down_is_answered_once_and_screened_when_redis_returns(
    redis_server, product, key_a
):
    client = client_with(key_a)
    with broker_at(redis_server.url):
        redis_server.stop()
        first = post_application(client, product, "order-77-refund")
        # The application committed; its screening waits in the outbox instead of failing the request.
        assert first.status_code == 201, first.content
        retry = post_application(client, product, "order-77-refund")
        assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
        assert retry.json()["id"] == first.json()["id"]
        assert RefundApplication.objects.count() == 1
        assert outbox.pending(SCREEN_TASK) == 1

        redis_server.start()
        with worker_on(redis_server.url):
            OutboxTask.objects.update(created_at=timezone.now() - timedelta(minutes=1))
            assert outbox.relay() == 1
            application = RefundApplication.objects.get()
            wait_for(lambda: state_of(application) == ApplicationState.AWAITING_MERCHANT, timeout=60)
    assert outbox.pending() == 0
    assert_invariants_hold()


def test_evidence_added_while_redis_is_down_or_whose_message_was_lost_is_screened_later(redis_server, product, key_a):
    waiting = screen(submit(product, order_ref="order-1"))
    lost = screen(submit(product, order_ref="order-2"))
    assert waiting.state == lost.state == ApplicationState.AWAITING_MERCHANT
    client = client_with(key_a)
    with broker_at(redis_server.url):
        redis_server.stop()
        added = client.post(
            f"/api/v1/applications/{waiting.public_id}/evidence",
            {"evidence": [upload(jpeg(seed=41))]},
            format="multipart",
        )
        assert added.status_code == 201, added.content
        redis_server.start()
        # The other application's message reached Redis, and Redis restarted before a worker took it.
        application_add_evidence(
            application_id=lost.public_id,
            evidence=[upload(jpeg(seed=42))],
            actor=Actor(ActorKind.PLATFORM, None, "test"),
        )
        redis_server.restart()
        assert not ScreeningResult.objects.filter(
            evidence__application__in=[waiting, lost], evidence__position=1
        ).exists()

        with worker_on(redis_server.url):
            OutboxTask.objects.update(created_at=timezone.now() - timedelta(minutes=1))
            assert outbox.relay() == 1  # the one whose send failed
            # The sweeper covers every open state, not only "submitted".
            RefundApplication.objects.filter(pk=lost.pk).update(
                screening_enqueued_at=timezone.now() - timedelta(hours=1)
            )
            assert application_requeue_stale_screenings(older_than=timedelta(minutes=1)) == 1
            for application in (waiting, lost):
                wait_for(
                    lambda a=application: ScreeningResult.objects.filter(evidence__application=a).count() == 2,
                    timeout=60,
                )
                wait_for(
                    lambda a=application: (
                        a.audit_events.filter(action="rescreen").exists()
                        or not RefundApplication.objects.get(pk=a.pk).evidence.filter(screening__isnull=True).exists()
                    ),
                    timeout=30,
                )
    assert_invariants_hold()


def test_evidence_still_screening_when_the_merchant_contests_is_screened_in_review(product, merchant_owner, db):
    application = screen(submit(product))
    application_add_evidence(
        application_id=application.public_id,
        evidence=[upload(jpeg(seed=43))],
        actor=Actor(ActorKind.PLATFORM, None, "test"),
    )
    application_contest(
        application_id=application.public_id,
        statement="Packed intact.",
        actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner),
    )
    assert state_of(application) == ApplicationState.IN_REVIEW
    RefundApplication.objects.filter(pk=application.pk).update(
        screening_enqueued_at=timezone.now() - timedelta(hours=1)
    )
    assert application_requeue_stale_screenings(older_than=timedelta(minutes=1)) == 1
    screen(application)
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW
    assert not application.evidence.filter(screening__isnull=True).exists()
    assert audit.verify_chain(application).ok


def test_a_worker_keeps_working_across_redis_restarts(redis_server, product):
    with broker_at(redis_server.url), worker_on(redis_server.url) as worker:
        before = submit(product, evidence=[GENUINE_CUP, jpeg(seed=44), jpeg(seed=45)], order_ref="before")
        for round_ in range(3):
            busy = [
                submit(product, evidence=[jpeg(seed=50 + round_), jpeg(seed=60 + round_)], order_ref=f"busy-{round_}")
            ]
            redis_server.restart()
            del busy
        # Redis here keeps nothing across a restart: what it held is re-sent by the sweeper.
        RefundApplication.objects.update(screening_enqueued_at=timezone.now() - timedelta(hours=1))
        application_requeue_stale_screenings(older_than=timedelta(minutes=1))
        after = submit(product, order_ref="after")
        for application in [before, after, *RefundApplication.objects.filter(order_ref__startswith="busy-")]:
            wait_for(lambda a=application: state_of(a) == ApplicationState.AWAITING_MERCHANT, timeout=90)
        assert worker.poll() is None, "the worker exited during a Redis restart"
    assert_invariants_hold()


def test_after_a_redis_restart_the_sweeper_enqueues_the_lost_screenings_at_once(redis_server, product):
    with broker_at(redis_server.url):
        assert requeue_stale_screenings() == 0  # its first round: nothing waits yet
        application = submit(product, order_ref="lost-with-redis")
        assert redis_server_queue_length(redis_server) == 1
        redis_server.restart()  # no persistence: the message is gone, and the sweeper's marker with it
        assert redis_server_queue_length(redis_server) == 0
        # Submitted a moment ago, far from stale: re-sent because the broker lost everything.
        assert requeue_stale_screenings() == 1
        with worker_on(redis_server.url):
            wait_for(lambda: state_of(application) == ApplicationState.AWAITING_MERCHANT, timeout=60)
        assert RefundApplication.objects.get(pk=application.pk).screening_deliveries == 1
    assert_invariants_hold()


def test_the_sweeper_keeps_to_the_staleness_rule_while_redis_cannot_say_what_it_lost(redis_server, product, caplog):
    with broker_at(redis_server.url):
        redis_server.stop()
        recent = submit(product, order_ref="recent")
        stale = submit(product, order_ref="stale")
        RefundApplication.objects.filter(pk=stale.pk).update(screening_enqueued_at=timezone.now() - timedelta(hours=1))
        with caplog.at_level(logging.WARNING, logger="refunds.tasks"):
            assert requeue_stale_screenings() == 1
        assert "cannot tell whether the broker lost its messages" in caplog.text
        assert RefundApplication.objects.get(pk=recent.pk).screening_enqueued_at == recent.screening_enqueued_at

        redis_server.start()  # empty: the next round sends every waiting application at once
        with worker_on(redis_server.url):
            assert requeue_stale_screenings() == 2
            for application in (recent, stale):
                wait_for(lambda a=application: state_of(a) == ApplicationState.AWAITING_MERCHANT, timeout=60)
    assert_invariants_hold()


def test_it_keeps_the_same_worker_when_tasks_finish_after_redis_restarted_under_them(redis_server, product, tmp_path):
    # A prefork worker, unsupervised: two of its pool processes hold a screening each while
    # Redis stops and starts again, and finish only after the worker reconnected, so their late
    # acknowledgements meet the channel that died with the old connection. A third process
    # stays free: the channel is then waiting for messages when the connection drops, the
    # case whose close leaves it without a way to reach Redis (the reported crash).
    hold, parents, log = tmp_path / "hold", tmp_path / "parents", tmp_path / "worker.log"
    hold.touch()
    with broker_at(redis_server.url), open(log, "wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.support.faulty_worker", "hold", str(hold), str(parents)]
            + ["--pool", "prefork", "--concurrency", "3"],
            env=subprocess_env(CELERY_BROKER_URL=redis_server.url, REDIS_URL=redis_server.url),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            running = [submit(product, order_ref=f"running-{n}") for n in range(2)]
            wait_for(lambda: parents.exists() and len(parents.read_text().split()) == 2, timeout=60)
            redis_server.stop()
            time.sleep(1)
            redis_server.start()
            wait_for(lambda: consuming_clients(redis_server), timeout=60)  # the worker reconnected
            hold.unlink()

            def screened_or_worker_gone(application: RefundApplication) -> bool:
                return worker.poll() is not None or state_of(application) == ApplicationState.AWAITING_MERCHANT

            for application in running:
                wait_for(lambda a=application: screened_or_worker_gone(a), timeout=60)
            assert worker.poll() is None, log.read_text()
            after = submit(product, order_ref="after")
            wait_for(lambda: screened_or_worker_gone(after), timeout=60)
            assert worker.poll() is None, log.read_text()
            assert state_of(after) == ApplicationState.AWAITING_MERCHANT
            # The task sent after the restart ran in a pool process of the same worker.
            assert parents.read_text().split() == [str(worker.pid)] * 3
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    assert_invariants_hold()


def consuming_clients(server: RedisServer) -> int:
    """How many connections are waiting on a queue (BRPOP): a consumer is connected."""
    import redis

    return sum(1 for client in redis.Redis.from_url(server.url).client_list() if client.get("cmd") == "brpop")


def test_a_database_cut_as_a_task_starts_retries_the_task_instead_of_dropping_it(redis_server, pg_proxy, product):
    db = connection.settings_dict
    through_proxy = f"postgres://{db['USER']}:{db['PASSWORD']}@127.0.0.1:{pg_proxy.port}/{db['NAME']}"
    with broker_at(redis_server.url), worker_on(redis_server.url, DATABASE_URL=through_proxy):
        pg_proxy.cut()
        with transaction.atomic():
            application = submit(product, order_ref="during-cut")
        # The worker takes the message while its database is unreachable.
        wait_for(lambda: redis_server_queue_length(redis_server) == 0, timeout=30)
        pg_proxy.restore()
        wait_for(lambda: state_of(application) == ApplicationState.AWAITING_MERCHANT, timeout=60)
    assert_invariants_hold()


def redis_server_queue_length(server: RedisServer) -> int:
    import redis

    return redis.Redis.from_url(server.url).llen("celery")


def test_a_database_cut_inside_a_submission_leaves_no_stuck_key_and_the_retry_creates_one_application(
    pg_proxy, product, key_a, monkeypatch
):
    client = client_with(key_a)
    real_record = audit.record

    def cut_then_record(*args, **kwargs):
        pg_proxy.cut()  # after the key's record and the application rows were written, before the commit
        return real_record(*args, **kwargs)

    with database_through(pg_proxy):
        with monkeypatch.context() as patch:
            patch.setattr("refunds.services.submission.audit.record", cut_then_record)
            cut = post_application(client, product, "cut-midway")
        assert cut.status_code == 503
        assert cut["Retry-After"] and cut.json()["error"]["code"] == "service_unavailable"
        pg_proxy.restore()
        retry = post_application(client, product, "cut-midway")
        assert retry.status_code == 201, retry.content
        assert "Idempotent-Replayed" not in retry
        again = post_application(client, product, "cut-midway")
        assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == retry.json()["id"]
    assert RefundApplication.objects.count() == 1
    assert not IdempotencyRecord.objects.filter(status_code__isnull=True).exists()
    # No worker runs here: the application's screening is pending, within the sweeper's grace.
    assert_invariants_hold(grace=None)


def test_a_database_outage_answers_503_with_retry_after_on_the_api_and_the_admin(pg_proxy, key_a, admin_client, caplog):
    with database_through(pg_proxy):
        client = client_with(key_a)
        assert client.get("/api/v1/applications").status_code == 200
        pg_proxy.cut()
        with caplog.at_level(logging.WARNING, logger="refunds.outage"):
            api = client.get("/api/v1/applications")
            admin_page = admin_client.get("/admin/refunds/refundapplication/")
        assert api.status_code == 503 and api["Retry-After"] == "5"
        assert api.json()["error"]["code"] == "service_unavailable"
        assert admin_page.status_code == 503 and admin_page["Retry-After"] == "5"
        # One line per refused request, not a traceback.
        assert all(record.exc_info is None for record in caplog.records)
        pg_proxy.restore()
        assert client.get("/api/v1/applications").status_code == 200


def test_the_rate_limiter_fails_open_when_its_cache_is_unreachable(key_a):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    with override_settings(CACHES=unreachable):
        response = client_with(key_a).get("/api/v1/applications")
    assert response.status_code == 200


def test_the_defaults_recover_a_lost_screening_within_about_a_minute(settings):
    worst_case = settings.SCREENING_STALE_AFTER.total_seconds() + settings.BEAT_INTERVAL_SECONDS
    assert worst_case <= 90
    # A screening that is alive is never doubled by the sweeper, and Redis never re-delivers a running task.
    assert settings.SCREENING_STALE_AFTER.total_seconds() > max(
        settings.SCREENING_TIME_LIMIT, settings.SCREENING_RETRY_BACKOFF_MAX
    )
    assert settings.CELERY_BROKER_VISIBILITY_TIMEOUT > max(
        settings.SCREENING_TIME_LIMIT, settings.BEAT_INTERVAL_SECONDS
    )
