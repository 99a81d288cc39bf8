"""Invariant 5 with real worker processes on Redis: a worker killed mid-screening loses nothing
and duplicates nothing."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import transaction

from refunds.models import AuditEvent, RefundApplication
from refunds.states import ApplicationState
from reviewhub.celery import app
from screening.models import ScreeningResult
from tests.conftest import subprocess_env, wait_for
from tests.factories import GENUINE_CUP, jpeg, submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_only")]


def start_worker(tmp_path, *options, mode="hang-once", **env):
    marker, pid_file = tmp_path / "hang-once", tmp_path / "pid"
    return (
        marker,
        pid_file,
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.faulty_worker", mode, str(marker), str(pid_file), *options],
            env=subprocess_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    )


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def screened_once(application):
    application.refresh_from_db()
    assert application.state == ApplicationState.AWAITING_MERCHANT
    assert ScreeningResult.objects.filter(evidence__application=application).count() == application.evidence.count()
    assert AuditEvent.objects.filter(application=application, action="screen").count() == 1


def test_a_pool_process_killed_mid_screening_is_redelivered_and_screens_once(tmp_path, product):
    app.control.purge()
    marker, pid_file, worker = start_worker(tmp_path, "--pool", "prefork", "--concurrency", "1")
    try:
        marker.touch()
        with transaction.atomic():
            application = submit(product, evidence=[GENUINE_CUP, jpeg(seed=5)])
        wait_for(pid_file.exists, timeout=60)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)
        # task_reject_on_worker_lost: the parent requeues the message at once.
        wait_for(
            lambda: RefundApplication.objects.get(pk=application.pk).state != ApplicationState.SUBMITTED, timeout=60
        )
        screened_once(application)
        assert application.screening_deliveries == 2
    finally:
        stop(worker)


def test_a_whole_worker_killed_mid_screening_is_screened_by_the_next_worker(tmp_path, product):
    app.control.purge()
    # A short visibility timeout (and limits below it) so the unacknowledged message comes back quickly.
    limits = {
        "CELERY_VISIBILITY_TIMEOUT": "6",
        "SCREENING_TIME_LIMIT": "5",
        "SCREENING_SOFT_TIME_LIMIT": "4",
        "SCREENING_RETRY_BACKOFF_MAX": "5",
        "WEBHOOK_RETRY_MAX_SECONDS": "5",
        "CELERY_UNACKED_RESTORE_INTERVAL": "1",
    }
    marker, pid_file, first = start_worker(tmp_path, "--pool", "solo", **limits)
    try:
        marker.touch()
        with transaction.atomic():
            application = submit(product, evidence=[jpeg(seed=6)])
        wait_for(pid_file.exists, timeout=60)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        time.sleep(0.5)
        assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.SUBMITTED
        _, _, second = start_worker(tmp_path, "--pool", "solo", **limits)
        try:
            wait_for(
                lambda: RefundApplication.objects.get(pk=application.pk).state != ApplicationState.SUBMITTED, timeout=60
            )
            screened_once(application)
            assert application.screening_deliveries == 2
        finally:
            stop(second)
    finally:
        stop(first)


def test_a_poison_image_that_kills_every_worker_ends_in_review_instead_of_looping(tmp_path, product):
    app.control.purge()
    _, _, worker = start_worker(
        tmp_path, "--pool", "prefork", "--concurrency", "1", mode="crash-always", SCREENING_MAX_ATTEMPTS="3"
    )
    try:
        with transaction.atomic():
            application = submit(product, evidence=[jpeg(seed=7)])
        wait_for(
            lambda: RefundApplication.objects.get(pk=application.pk).state != ApplicationState.SUBMITTED, timeout=90
        )
        application.refresh_from_db()
        assert application.state == ApplicationState.IN_REVIEW and application.unscreened
        # Three deliveries died with their pool process; the fourth gave up without screening.
        assert application.screening_deliveries == 4
        assert not ScreeningResult.objects.filter(evidence__application=application).exists()
    finally:
        stop(worker)
