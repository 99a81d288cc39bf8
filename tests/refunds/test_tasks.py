"""The screening task on the real worker: retries, giving up, and the stale-submission sweeper."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from refunds.models import RefundApplication
from refunds.states import ApplicationState
from refunds.tasks import BROKER_MARKER, _broker_lost_its_messages, requeue_stale_screenings
from reviewhub.celery import app
from screening import services as screening_services
from tests.conftest import wait_for
from tests.factories import jpeg, submit
from tests.refunds.test_faults import broker_at

pytestmark = pytest.mark.django_db(transaction=True)


def failing_check(times):
    real = screening_services.screen_image
    calls = {"n": 0}

    def check(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= times:
            raise OSError("storage hiccup")
        return real(*args, **kwargs)

    return check


def current(application):
    return RefundApplication.objects.get(pk=application.pk)


def test_a_transient_failure_is_retried_with_back_off_and_then_screens(celery_worker, product, settings, monkeypatch):
    settings.SCREENING_RETRY_BACKOFF_MAX = 1
    monkeypatch.setattr(screening_services, "screen_image", failing_check(1))
    application = submit(product, evidence=[jpeg(seed=11)])
    wait_for(lambda: current(application).state == ApplicationState.AWAITING_MERCHANT, timeout=60)
    assert current(application).screening_deliveries == 2
    assert not current(application).unscreened


def test_failures_past_the_attempt_limit_send_the_application_to_reviewers_unscreened(
    celery_worker, product, settings, monkeypatch
):
    settings.SCREENING_RETRY_BACKOFF_MAX = 1
    settings.SCREENING_MAX_ATTEMPTS = 2
    monkeypatch.setattr(screening_services, "screen_image", failing_check(100))
    application = submit(product, evidence=[jpeg(seed=12)])
    wait_for(lambda: current(application).state == ApplicationState.IN_REVIEW, timeout=60)
    application = current(application)
    assert application.unscreened and application.screening_deliveries == 2
    assert "OSError" in application.risk_explanation


def test_the_sweeper_requeues_a_submission_whose_message_was_lost(celery_worker, product, monkeypatch):
    from refunds.integration import outbox

    with monkeypatch.context() as lost:
        lost.setattr(outbox.current_app, "send_task", lambda *args, **kwargs: None)
        application = submit(product, evidence=[jpeg(seed=13)])
    RefundApplication.objects.filter(pk=application.pk).update(
        screening_enqueued_at=timezone.now() - timedelta(hours=1)
    )
    assert current(application).state == ApplicationState.SUBMITTED
    with transaction.atomic():
        transaction.on_commit(requeue_stale_screenings.delay)
    wait_for(lambda: current(application).state == ApplicationState.AWAITING_MERCHANT, timeout=60)


def test_the_sweeper_leaves_recent_submissions_alone(product, broker_kept_its_messages):
    with transaction.atomic():
        submit(product, evidence=[jpeg(seed=14)])
    assert requeue_stale_screenings() == 0


def test_on_a_broker_other_than_redis_the_sweeper_keeps_to_the_staleness_rule(product):
    # The embedded deployment's filesystem broker, like kombu's in-memory one, keeps no marker:
    # the sweeper cannot tell a lost queue there, and never takes the broker for emptied.
    with broker_at("memory://"):
        assert not _broker_lost_its_messages(marker=BROKER_MARKER)
        submit(product, evidence=[jpeg(seed=15)], order_ref="memory-broker")
        app.control.purge()
        assert requeue_stale_screenings() == 0
