"""Appeals through the API: filed for the buyer or the merchant, read and withdrawn under the
application, each within the key's platform and scopes."""

from datetime import timedelta

import pytest
import time_machine

from refunds.models import Appeal, AuditEvent
from refunds.services.platform import api_key_issue
from tests.factories import jpeg, upload
from tests.refunds.api.test_applications import client_with
from tests.refunds.appeal_builders import buyer_appeal, rejected_by

pytestmark = pytest.mark.django_db

BODY = {"side": "buyer", "statement": "The courier's photo shows the crack.", "reason_codes": ["new_evidence"]}


def url(application, appeal=None, action=""):
    base = f"/api/v1/applications/{application.public_id}/appeals"
    return base + (f"/{appeal.public_id}" if appeal else "") + (f"/{action}" if action else "")


def test_the_platform_appeals_for_the_buyer_and_reads_the_appeal_back(product, reviewer, key_a):
    application = rejected_by(reviewer, product)
    client = client_with(key_a)
    response = client.post(url(application), BODY, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["application"] == str(application.public_id) and body["side"] == "buyer"
    assert body["state"] == "filed" and body["appeal_decision"] is None
    assert body["appealed_decision"]["outcome"] == "rejected" and body["reason_codes"] == ["new_evidence"]
    appeal = Appeal.objects.get(public_id=body["id"])
    assert AuditEvent.objects.get(application=application, action="appeal_file").actor_kind == "platform"
    assert client.get(url(application, appeal)).json() == body
    assert [a["id"] for a in client.get(url(application)).json()] == [body["id"]]


def test_supporting_files_come_as_multipart(product, reviewer, key_a):
    application = rejected_by(reviewer, product)
    response = client_with(key_a).post(
        url(application),
        {**BODY, "attachments": [upload(jpeg(seed=4), "courier.jpg")]},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    (attachment,) = response.json()["attachments"]
    assert attachment["original_name"] == "courier.jpg" and attachment["content_type"] == "image/jpeg"


def test_a_repeated_post_with_its_idempotency_key_replays_the_first_answer(product, reviewer, key_a):
    application = rejected_by(reviewer, product)
    client = client_with(key_a)
    first = client.post(url(application), BODY, format="json", HTTP_IDEMPOTENCY_KEY="appeal-1")
    again = client.post(url(application), BODY, format="json", HTTP_IDEMPOTENCY_KEY="appeal-1")
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert Appeal.objects.count() == 1


def test_a_late_or_second_appeal_is_a_conflict_with_its_code(product, reviewer, key_a):
    application = rejected_by(reviewer, product)
    client = client_with(key_a)
    with time_machine.travel(application.decision.decided_at + timedelta(days=30, seconds=1)):
        late = client.post(url(application), BODY, format="json")
    assert late.status_code == 409 and late.json()["error"]["code"] == "appeal_window_closed"
    assert client.post(url(application), BODY, format="json").status_code == 201
    second = client.post(url(application), BODY, format="json")
    assert second.status_code == 409 and second.json()["error"]["code"] == "appeal_open_exists"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**BODY, "side": "courier"}, "side"),
        ({**BODY, "statement": ""}, "statement"),
        ({**BODY, "reason_codes": ["whim"]}, "reason_codes"),
    ],
)
def test_a_bad_appeal_is_refused_naming_the_field(product, reviewer, key_a, body, param):
    application = rejected_by(reviewer, product)
    response = client_with(key_a).post(url(application), body, format="json")
    assert response.status_code == 400 and response.json()["error"]["details"]["param"] == param
    assert not Appeal.objects.exists()


def test_the_platform_withdraws_an_open_appeal(product, reviewer, key_a):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    client = client_with(key_a)
    response = client.post(url(application, appeal, "withdraw"), {"reason": "Settled."}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "withdrawn"
    again = client.post(url(application, appeal, "withdraw"), {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "appeal_invalid_state"


def test_another_platforms_key_finds_neither_the_application_nor_its_appeals(product, reviewer, key_a, key_b):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    other = client_with(key_b)
    for response in (
        other.get(url(application)),
        other.get(url(application, appeal)),
        other.post(url(application), BODY, format="json"),
        other.post(url(application, appeal, "withdraw"), {}, format="json"),
    ):
        assert response.status_code == 404, response.json()
    assert Appeal.objects.get().state == "filed"


def test_an_appeal_is_found_only_under_its_own_application(product, reviewer, key_a):
    appealed = rejected_by(reviewer, product)
    appeal = buyer_appeal(appealed)
    other = rejected_by(reviewer, product, buyer_ref="buyer-2")
    client = client_with(key_a)
    assert client.get(url(other, appeal)).status_code == 404
    assert client.get(f"/api/v1/applications/{appealed.public_id}/appeals/not-a-uuid").status_code == 404


def test_a_read_only_key_reads_appeals_but_files_none(product, reviewer, platform_a):
    application = rejected_by(reviewer, product)
    reader = api_key_issue(platform=platform_a, name="reader", scopes=["read"])[1]
    client = client_with(reader)
    assert client.get(url(application)).status_code == 200
    assert client.post(url(application), BODY, format="json").status_code == 403
    assert not Appeal.objects.exists()


def test_the_schema_documents_the_appeal_operations_and_events(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/applications/{public_id}/appeals"])
    assert "get" in paths["/api/v1/applications/{public_id}/appeals/{appeal_id}"]
    assert "post" in paths["/api/v1/applications/{public_id}/appeals/{appeal_id}/withdraw"]
    assert "appeal_window_days" in schema["components"]["schemas"]["Policy"]["properties"]
    types = schema["components"]["schemas"]["WebhookEvent"]["properties"]["type"]["enum"]
    assert {"application.appeal_filed", "application.appeal_decided"} <= set(types)
