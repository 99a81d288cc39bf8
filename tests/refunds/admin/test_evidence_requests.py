"""Asking for another photo from the application's page: through the service, with its refusals
on the form; the queue and the page say the review waits for the buyer; both photos side by side."""

import pytest
from django.urls import reverse

from refunds.models import EvidenceRequest
from refunds.states import EvidenceRequestState
from tests.factories import jpeg
from tests.refunds.evidence_request_builders import answer, ask, claimed_by, contested

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:refunds_refundapplication_changelist")


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def page(application):
    return reverse("admin:refunds_refundapplication_change", args=[application.pk])


def ask_url(application):
    return reverse("admin:refunds_refundapplication_request_photo", args=[application.pk])


def test_the_reviewer_holding_the_application_asks_for_another_photo_from_its_page(client, product, reviewer):
    application = claimed_by(reviewer, product)
    client.force_login(reviewer)
    shown = client.get(page(application)).content.decode()
    assert 'id="request-photo"' in shown
    first = application.evidence.get()
    response = client.post(
        ask_url(application),
        {"evidence": str(first.public_id), "language": "en", "instructions": "Show the chipped rim from the side."},
        follow=True,
    )
    body = response.content.decode()
    assert "The buyer is asked for another photo until" in body
    request = EvidenceRequest.objects.get(application=application)
    assert request.instructions == "Show the chipped rim from the side." and request.requested_by == reviewer
    assert 'id="review-paused"' in body and 'id="request-photo"' not in body
    assert 'id="cancel-photo-request"' in body


def test_a_refusal_of_the_service_shows_on_the_form(client, product, reviewer, second_reviewer):
    application = claimed_by(reviewer, product)
    client.force_login(second_reviewer)
    assert 'id="request-photo"' not in client.get(page(application)).content.decode()
    response = client.post(
        ask_url(application), {"evidence": str(application.evidence.get().public_id), "language": "en"}
    )
    assert response.status_code == 200
    assert "has claimed this application until" in response.content.decode()
    assert not EvidenceRequest.objects.exists()


def test_an_auditor_cannot_ask(client, product, reviewer, auditor):
    application = claimed_by(reviewer, product)
    client.force_login(auditor)
    response = client.post(ask_url(application), {"evidence": str(application.evidence.get().public_id)})
    assert response.status_code == 403
    assert not EvidenceRequest.objects.exists()


def test_the_queue_says_the_review_waits_for_the_buyers_second_photo(client, product, reviewer):
    waiting = claimed_by(reviewer, product)
    ask(waiting, reviewer)
    other = contested(product, buyer_ref="buyer-2", order_ref="order-2")
    client.force_login(reviewer)
    body = client.get(QUEUE + "?view=review").content.decode()
    assert body.count("waiting for the buyer&#x27;s second photo") == 1
    assert str(other.public_id)[:8] in body


def test_the_reviewer_cancels_the_request_and_the_clock_runs_again(client, product, reviewer):
    application = claimed_by(reviewer, product)
    request = ask(application, reviewer)
    client.force_login(reviewer)
    response = client.post(
        reverse("admin:refunds_refundapplication_cancel_photo_request", args=[application.pk]),
        {"reason": "The packing video settles it."},
        follow=True,
    )
    assert "the review clock runs again" in response.content.decode()
    request.refresh_from_db()
    assert request.state == EvidenceRequestState.CANCELLED and request.cancel_reason == "The packing video settles it."


def test_both_photos_are_side_by_side_once_answered(client, product, reviewer):
    application = claimed_by(reviewer, product)
    request = answer(ask(application, reviewer), jpeg(seed=71))
    client.force_login(reviewer)
    body = client.get(page(application)).content.decode()
    assert "Second photo, from another angle" in body
    assert reverse("stored-file", args=["evidence", request.first_evidence.public_id]) in body
    assert reverse("stored-file", args=["evidence", request.answer.public_id]) in body


def test_the_reviewer_reads_the_comparison_of_the_two_photos_in_words(client, product, reviewer):
    from bench import viewpair_scenes
    from refunds import services
    from tests.factories import screen

    pair = viewpair_scenes.reprinted(24)
    application = claimed_by(reviewer, product, evidence=[pair.first])
    request = answer(ask(application, reviewer), pair.second)
    client.force_login(reviewer)
    assert "compared once the second one is screened" in client.get(page(application)).content.decode()
    screen(application)
    services.evidence_request_compare_views(request_id=request.public_id)
    body = client.get(page(application)).content.decode()
    assert f'id="view-pair-{request.public_id}"' in body
    assert "one flat picture seen twice" in body and "Second view inconsistent" in body
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    assert "one flat picture seen twice" not in client.get(page(application)).content.decode()
