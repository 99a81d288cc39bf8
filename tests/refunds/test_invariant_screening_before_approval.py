"""Invariant 1: nothing is approved by the system unless every image was screened clean."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django_fsm import TransitionNotAllowed

from refunds import services
from refunds.models import Decision, Policy, RefundApplication
from refunds.states import ApplicationState
from screening.models import Finding, ScreeningResult
from tests.factories import GENUINE_CUP, jpeg, screen, submit

pytestmark = pytest.mark.django_db


def test_the_approval_transitions_refuse_an_unscreened_application(product):
    application = submit(product)
    with pytest.raises(TransitionNotAllowed):
        application.fast_track()
    with pytest.raises(TransitionNotAllowed):
        application.approve_on_expiry()


def test_a_finding_at_the_threshold_stops_expiry_approval(product):
    application = screen(submit(product, evidence=[GENUINE_CUP, jpeg(seed=8)]))
    result = ScreeningResult.objects.filter(evidence__application=application).first()
    Finding.objects.create(result=result, code="editing_software", score=0.5, detail="Edited with a photo editor.")
    with time_machine.travel(application.merchant_deadline + timedelta(minutes=1)):
        services.close_expired_windows()
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW
    assert not Decision.objects.filter(application=application).exists()


def test_a_finding_below_a_raised_threshold_still_counts_as_clean(product):
    Policy.objects.filter(platform=product.merchant.platform).update(finding_thresholds={"editing_software": 0.9})
    application = screen(submit(product))
    result = ScreeningResult.objects.get(evidence__application=application)
    Finding.objects.create(result=result, code="editing_software", score=0.6, detail="Edited.")
    with time_machine.travel(application.merchant_deadline + timedelta(minutes=1)):
        services.close_expired_windows()
    assert RefundApplication.objects.get(pk=application.pk).decision.actor_kind == "system"


def test_an_incomplete_screening_result_stops_approval(product):
    application = screen(submit(product))
    ScreeningResult.objects.filter(evidence__application=application).update(completed=False)
    with time_machine.travel(application.merchant_deadline + timedelta(minutes=1)):
        services.close_expired_windows()
    assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.IN_REVIEW


def test_an_unscreened_application_is_never_fast_tracked(product):
    Policy.objects.filter(platform=product.merchant.platform).update(
        fast_track_enabled=True, fast_track_ceiling=Decimal("1000")
    )
    application = submit(product)
    services.application_give_up_screening(application_id=application.public_id, explanation="worker crashed")
    # A late, duplicate screening delivery must not revive it into an automatic approval.
    screen(application)
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW and application.unscreened
    assert not Decision.objects.filter(application=application).exists()
