"""The platform's policy and webhook endpoints through the API, each behind its own scope."""

import pytest

from refunds.models import IdempotencyRecord, Policy, WebhookDelivery, WebhookEndpoint
from refunds.services.platform import api_key_issue
from tests.factories import endpoint_create, submit
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_key_a(platform_a):
    return api_key_issue(platform=platform_a, name="ops", scopes=["read", "write", "policy", "webhooks"])[1]


def test_the_policy_is_read_and_changed_with_the_policy_scope(platform_a, admin_key_a):
    client = client_with(admin_key_a)
    assert client.get("/api/v1/policy").json()["fast_track_enabled"] is False
    response = client.patch(
        "/api/v1/policy",
        {"fast_track_enabled": True, "fast_track_ceiling": "20.00", "finding_thresholds": {"editing_software": 0.8}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    policy = Policy.objects.get(platform=platform_a)
    assert policy.fast_track_enabled and policy.threshold_for("editing_software") == 0.8


@pytest.mark.parametrize(
    "change",
    [
        {"finding_thresholds": {"local_edit": 3}},
        {"finding_thresholds": [1]},
        {"default_threshold": -1},
        {"merchant_window": "00:05:00"},
    ],
)
def test_an_invalid_policy_change_is_refused_and_changes_nothing(platform_a, admin_key_a, change):
    response = client_with(admin_key_a).patch("/api/v1/policy", change, format="json")
    assert response.status_code == 400, response.json()
    assert Policy.objects.get(platform=platform_a).default_threshold == 0.5


def test_the_api_takes_the_longest_window_the_policy_allows(platform_a, admin_key_a):
    client = client_with(admin_key_a)
    assert client.patch("/api/v1/policy", {"merchant_window": "30 00:00:00"}, format="json").status_code == 200
    assert client.patch("/api/v1/policy", {"merchant_window": "30 00:00:01"}, format="json").status_code == 400
    assert Policy.objects.get(platform=platform_a).merchant_window.days == 30


def test_a_key_without_the_policy_scope_cannot_touch_the_policy(key_a):
    assert client_with(key_a).get("/api/v1/policy").status_code == 403
    assert client_with(key_a).patch("/api/v1/policy", {"fast_track_enabled": True}, format="json").status_code == 403


def test_webhook_endpoints_show_their_secret_only_when_made_or_rotated(platform_a, admin_key_a):
    client = client_with(admin_key_a)
    made = client.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example/reviewhub"}, format="json")
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhook-endpoints").json()
    assert "secret" not in listed[0]
    rotated = client.post(f"/api/v1/webhook-endpoints/{made.json()['id']}/rotate-secret")
    assert rotated.status_code == 200 and rotated.json()["secret"] != made.json()["secret"]
    assert client.delete(f"/api/v1/webhook-endpoints/{made.json()['id']}").status_code == 204
    assert not WebhookEndpoint.objects.exists()


def test_an_invalid_url_is_refused(admin_key_a):
    response = client_with(admin_key_a).post("/api/v1/webhook-endpoints", {"url": "not a url"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["details"]["param"] == "url"


def test_deliveries_are_listed_and_redelivered(platform_a, admin_key_a, product):
    endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    submit(product)
    WebhookDelivery.objects.update(status="failed")
    client = client_with(admin_key_a)
    failed = client.get("/api/v1/webhook-deliveries?status=failed").json()["results"]
    assert len(failed) == 1 and failed[0]["sequence"] == 1
    again = client.post(f"/api/v1/webhook-deliveries/{failed[0]['id']}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "pending"


def test_another_platform_cannot_see_or_change_the_endpoints(platform_a, platform_b):
    endpoint = endpoint_create(platform=platform_a, url="https://hooks.example/a")
    _, key_b = api_key_issue(platform=platform_b, name="b", scopes=["webhooks"])
    client = client_with(key_b)
    assert client.get("/api/v1/webhook-endpoints").json() == []
    assert client.delete(f"/api/v1/webhook-endpoints/{endpoint.public_id}").status_code == 404
    assert client.post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret").status_code == 404
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret


def test_a_key_without_the_webhooks_scope_cannot_manage_endpoints(key_a):
    assert client_with(key_a).get("/api/v1/webhook-endpoints").status_code == 403


def test_a_replayed_endpoint_creation_never_shows_the_secret_again(platform_a, admin_key_a):
    client = client_with(admin_key_a)
    body = {"url": "http://127.0.0.1:9/once"}
    first = client.post("/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY="endpoint-1")
    assert first.status_code == 201 and first.json()["secret"]
    replay = client.post("/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY="endpoint-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"] and replay.json()["secret"] is None
    assert first.json()["secret"] not in str(IdempotencyRecord.objects.get(key="endpoint-1").response_body)
    assert WebhookEndpoint.objects.count() == 1
