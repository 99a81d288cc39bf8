"""Invariant 4: deadlines belong to the server clock; beat closes windows that passed while it was down."""

import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from refunds.models import RefundApplication
from refunds.states import ActorKind, ApplicationState
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
