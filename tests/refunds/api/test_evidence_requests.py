"""Requests for another photo through the API: the platform reads them with the application and
answers with the buyer's photo (a file, or an upload's id), within its own platform and in time."""

from datetime import timedelta

import pytest
import time_machine

from refunds.models import AuditEvent, Evidence, EvidenceRequest
from refunds.states import EvidenceRequestState
from tests.factories import jpeg, upload
from tests.refunds.api.test_applications import client_with
from tests.refunds.evidence_request_builders import ask, claimed_by

pytestmark = pytest.mark.django_db

SECOND = jpeg(seed=51)


def url(request, action=""):
    base = f"/api/v1/applications/{request.application.public_id}/evidence-requests/{request.public_id}"
    return base + (f"/{action}" if action else "")


def test_the_request_shows_in_the_application_and_under_it(product, reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer, language="en")
    client = client_with(key_a)
    application = client.get(f"/api/v1/applications/{request.application.public_id}").json()
    (shown,) = application["evidence_requests"]
    assert shown["id"] == str(request.public_id) and shown["state"] == "open"
    assert shown["instructions"] == request.instructions and shown["language"] == "en"
    assert shown["first_evidence"] == application["evidence"][0]["id"] and shown["answer_evidence"] is None
    assert shown["answer_url"] == url(request, "answer")
    assert client.get(url(request)).json() == shown
    listed = client.get(f"/api/v1/applications/{request.application.public_id}/evidence-requests").json()
    assert listed == [shown]


def test_the_platform_answers_with_the_buyers_photo_as_multipart(product, reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer)
    response = client_with(key_a).post(url(request, "answer"), {"evidence": [upload(SECOND)]}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "answered" and body["closed_at"]
    answer = Evidence.objects.get(public_id=body["answer_evidence"])
    assert answer.application == request.application
    event = AuditEvent.objects.get(application=request.application, action="evidence_request_answer")
    assert event.actor_kind == "platform" and event.payload["evidence"] == answer.sha256


def test_the_platform_answers_with_an_upload_id_as_json(product, reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer)
    client = client_with(key_a)
    staged = client.post("/api/v1/evidence-uploads", {"file": upload(SECOND)}, format="multipart").json()
    response = client.post(url(request, "answer"), {"evidence_ids": [staged["id"]]}, format="json")
    assert response.status_code == 201, response.json()
    assert Evidence.objects.get(public_id=response.json()["answer_evidence"]).sha256 == staged["sha256"]


def test_a_repeated_answer_with_its_idempotency_key_replays_the_first(product, reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer)
    client = client_with(key_a)
    first = client.post(url(request, "answer"), {"evidence": [upload(SECOND)]}, HTTP_IDEMPOTENCY_KEY="photo-1")
    again = client.post(url(request, "answer"), {"evidence": [upload(SECOND)]}, HTTP_IDEMPOTENCY_KEY="photo-1")
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert request.application.evidence.count() == 2
    other = client.post(url(request, "answer"), {"evidence": [upload(jpeg(seed=52))]}, HTTP_IDEMPOTENCY_KEY="photo-1")
    assert other.status_code == 422


def test_a_late_answer_is_refused_with_its_deadline(product, reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer)
    with time_machine.travel(request.deadline + timedelta(minutes=5)):
        response = client_with(key_a).post(url(request, "answer"), {"evidence": [upload(SECOND)]})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "evidence_request_deadline_passed" and error["details"]["deadline"]
    assert request.application.evidence.count() == 1


def test_a_second_answer_finds_no_open_request(product, reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer)
    client = client_with(key_a)
    assert client.post(url(request, "answer"), {"evidence": [upload(SECOND)]}).status_code == 201
    response = client.post(url(request, "answer"), {"evidence": [upload(jpeg(seed=53))]})
    assert response.status_code == 409 and response.json()["error"]["code"] == "evidence_request_not_open"


@pytest.mark.parametrize(
    "body, format_",
    [({}, "multipart"), ({"evidence_ids": []}, "json"), ({"evidence": ["not a file"]}, "multipart")],
)
def test_an_answer_without_one_photo_is_refused(product, reviewer, key_a, body, format_):
    request = ask(claimed_by(reviewer, product), reviewer)
    response = client_with(key_a).post(url(request, "answer"), body, format=format_)
    assert response.status_code == 400, response.json()
    assert EvidenceRequest.objects.get(pk=request.pk).state == EvidenceRequestState.OPEN


def test_two_photos_in_one_answer_are_refused(product, reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer)
    response = client_with(key_a).post(
        url(request, "answer"), {"evidence": [upload(SECOND), upload(jpeg(seed=54))]}, format="multipart"
    )
    assert response.status_code == 400
    assert request.application.evidence.count() == 1


def test_a_file_that_is_not_an_image_is_refused_and_nothing_is_kept(product, reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer)
    response = client_with(key_a).post(url(request, "answer"), {"evidence": [upload(b"MZ\x90\x00 not a photo")]})
    assert response.status_code in (400, 415) and response.json()["error"]["code"] == "unsupported_media_type"
    assert EvidenceRequest.objects.get(pk=request.pk).state == EvidenceRequestState.OPEN


def test_platform_b_neither_sees_nor_answers_platform_as_request(product, reviewer, key_a, key_b):
    request = ask(claimed_by(reviewer, product), reviewer)
    other = client_with(key_b)
    assert other.get(url(request)).status_code == 404
    assert other.get(f"/api/v1/applications/{request.application.public_id}/evidence-requests").status_code == 404
    response = other.post(url(request, "answer"), {"evidence": [upload(SECOND)]})
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert EvidenceRequest.objects.get(pk=request.pk).state == EvidenceRequestState.OPEN


def test_a_request_is_found_only_under_its_own_application(product, reviewer, second_reviewer, key_a):
    request = ask(claimed_by(reviewer, product), reviewer)
    other = claimed_by(second_reviewer, product, buyer_ref="buyer-2", order_ref="order-2")
    wrong = f"/api/v1/applications/{other.public_id}/evidence-requests/{request.public_id}"
    client = client_with(key_a)
    assert client.get(wrong).status_code == 404
    assert client.post(wrong + "/answer", {"evidence": [upload(SECOND)]}).status_code == 404
    assert client.get(f"/api/v1/applications/{other.public_id}/evidence-requests/not-an-id").status_code == 404


def test_answering_needs_the_write_scope(product, reviewer, platform_a):
    from refunds.services.platform import api_key_issue

    request = ask(claimed_by(reviewer, product), reviewer)
    reader = api_key_issue(platform=platform_a, name="reader", scopes=["read"])[1]
    client = client_with(reader)
    assert client.get(url(request)).status_code == 200
    assert client.post(url(request, "answer"), {"evidence": [upload(SECOND)]}).status_code == 403


def test_the_schema_documents_the_request_and_its_answer(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    answer = schema["paths"]["/api/v1/applications/{public_id}/evidence-requests/{request_id}/answer"]["post"]
    assert set(answer["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"GetEvidenceRequest", "GetApplication"} <= set(answer["responses"]["201"]["links"])
    assert answer["parameters"][1]["example"]
    assert "evidence_requests" in schema["components"]["schemas"]["Application"]["properties"]
    policy = schema["components"]["schemas"]["Policy"]["properties"]
    assert {"second_photo_window", "second_photo_for_uncertain"} <= set(policy)
    types = schema["components"]["schemas"]["WebhookEvent"]["properties"]["type"]["enum"]
    assert "application.evidence_requested" in types and "application.evidence_request_answered" in types
