"""Evidence added after submission is screened before anything can be approved on it."""

from datetime import timedelta

import pytest
import time_machine

from refunds import services
from refunds.models import RefundApplication
from refunds.services import Actor
from refunds.states import ActorKind, ApplicationState, RiskLevel
from tests.conftest import wait_for
from tests.factories import CUP, jpeg, screen, submit, upload
from tests.refunds.api.test_applications import client_with

PLATFORM = Actor(ActorKind.PLATFORM, None, "api")


def add(application, *images):
    return services.application_add_evidence(
        application_id=application.public_id, evidence=[upload(i) for i in images], actor=PLATFORM
    )


@pytest.mark.django_db
def test_unscreened_new_evidence_stops_approval_at_expiry(product):
    application = screen(submit(product, evidence=[jpeg(seed=1)]))
    add(application, jpeg(seed=2))
    with time_machine.travel(application.merchant_deadline + timedelta(minutes=1)):
        services.close_expired_windows()
    assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.IN_REVIEW


@pytest.mark.django_db
def test_a_forged_addition_raises_the_risk_once(product):
    application = screen(submit(product, evidence=[jpeg(seed=3)]))
    add(application, CUP)
    screen(application)
    screen(application)  # a second delivery changes nothing
    application.refresh_from_db()
    assert application.state == ApplicationState.AWAITING_MERCHANT and application.risk_level == RiskLevel.FORGED
    assert application.audit_events.filter(action="rescreen").count() == 1
    assert application.evidence.count() == 2


@pytest.mark.django_db
def test_evidence_cannot_be_added_once_in_review(product, key_a):
    application = screen(submit(product, evidence=[CUP]))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    response = client_with(key_a).post(
        f"/api/v1/applications/{application.public_id}/evidence",
        {"evidence": [upload(jpeg(seed=4))]},
        format="multipart",
    )
    assert response.status_code == 409
    assert RefundApplication.objects.get(pk=application.pk).evidence.count() == 1


@pytest.mark.django_db
def test_a_bad_added_file_is_refused_and_nothing_is_kept(product, key_a):
    application = screen(submit(product, evidence=[jpeg(seed=5)]))
    response = client_with(key_a).post(
        f"/api/v1/applications/{application.public_id}/evidence",
        {"evidence": [upload(jpeg(seed=6)), upload(b"<html>", "x.png")]},
        format="multipart",
    )
    assert response.status_code == 415
    assert application.evidence.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_screens_evidence_added_through_the_api(celery_worker, product, key_a):
    application = submit(product, evidence=[jpeg(seed=7)])
    wait_for(lambda: RefundApplication.objects.get(pk=application.pk).state == ApplicationState.AWAITING_MERCHANT)
    response = client_with(key_a).post(
        f"/api/v1/applications/{application.public_id}/evidence", {"evidence": [upload(CUP)]}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    wait_for(lambda: RefundApplication.objects.get(pk=application.pk).risk_level == RiskLevel.FORGED)
    assert all(
        e["verdict"] for e in client_with(key_a).get(f"/api/v1/applications/{application.public_id}").json()["evidence"]
    )


@pytest.mark.django_db
def test_evidence_beyond_what_an_application_may_hold_is_a_conflict_and_adds_nothing(product, key_a, settings):
    settings.UPLOAD_MAX_FILES = 3
    application = screen(submit(product, evidence=[jpeg(seed=5), jpeg(seed=6)]))
    response = client_with(key_a).post(
        f"/api/v1/applications/{application.public_id}/evidence",
        {"evidence": [upload(jpeg(seed=7)), upload(jpeg(seed=8))]},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "evidence_limit_reached"
    assert error["details"] == {"param": "evidence", "count": 2, "limit": 3}
    assert error["message"] == "This application holds 2 evidence images, and may hold at most 3."
    assert RefundApplication.objects.get(pk=application.pk).evidence.count() == 2
