"""Invariant 4: deadlines belong to the server clock; beat closes windows that passed while it was down."""

import subprocess
import sys
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from refunds.models import AuditEvent, Decision, RefundApplication
from refunds.states import ActorKind, ApplicationState
from refunds.vocab import AuditAction
from tests.conftest import subprocess_env, wait_for
from tests.factories import CUP, screen, submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_only")]


def test_beat_started_after_deadlines_passed_closes_every_window(tmp_path, celery_worker, product):
    # Both windows opened three days ago and closed a day ago, while nothing ran.
    with time_machine.travel(timezone.now() - timedelta(days=3), tick=False):
        clean = screen(submit(product, buyer_ref="clean"))
        risky = screen(submit(product, evidence=[CUP], buyer_ref="risky"))
    assert clean.state == risky.state == ApplicationState.AWAITING_MERCHANT
    beat = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reviewhub",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        env=subprocess_env(BEAT_INTERVAL_SECONDS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: not RefundApplication.objects.filter(state=ApplicationState.AWAITING_MERCHANT).exists(), timeout=60
        )
    finally:
        beat.terminate()
        beat.wait(timeout=20)
    clean.refresh_from_db()
    risky.refresh_from_db()
    assert clean.state == ApplicationState.DECIDED and clean.decision.actor_kind == ActorKind.SYSTEM
    assert risky.state == ApplicationState.IN_REVIEW


def start_beat(schedule) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reviewhub",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(schedule),
        ],
        env=subprocess_env(BEAT_INTERVAL_SECONDS="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_two_beats_started_an_hour_late_close_each_window_once(tmp_path, celery_worker, product, postgres_only):
    # Windows that closed an hour ago while no beat ran; then two beats start at once (a
    # deployment that briefly ran two), each sending every job every second.
    with time_machine.travel(timezone.now() - timedelta(hours=49), tick=False):
        clean = [screen(submit(product, buyer_ref=f"clean-{n}", order_ref=f"c-{n}")) for n in range(3)]
        risky = [screen(submit(product, evidence=[CUP], buyer_ref=f"risky-{n}", order_ref=f"r-{n}")) for n in range(3)]
    beats = [start_beat(tmp_path / "one"), start_beat(tmp_path / "two")]
    try:
        wait_for(
            lambda: not RefundApplication.objects.filter(state=ApplicationState.AWAITING_MERCHANT).exists(), timeout=60
        )
        # Both keep sending their jobs for a few more rounds: nothing may close twice.
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for beat in beats:
            beat.terminate()
        for beat in beats:
            beat.wait(timeout=20)
    expiries = AuditEvent.objects.filter(
        action__in=[AuditAction.WINDOW_EXPIRED_APPROVE, AuditAction.WINDOW_EXPIRED_REVIEW]
    )
    for application in clean + risky:
        assert expiries.filter(application=application).count() == 1, application.order_ref
        application.refresh_from_db()
        decisions = Decision.objects.filter(application=application)
        if application.state == ApplicationState.DECIDED:
            assert decisions.get().actor_kind == ActorKind.SYSTEM
        else:
            assert application.state == ApplicationState.IN_REVIEW and not decisions.exists()
    # The first clean photo is new (the later ones reuse it, and go to people): approved by expiry.
    assert clean[0].state == ApplicationState.DECIDED
    assert all(application.state == ApplicationState.IN_REVIEW for application in risky)
