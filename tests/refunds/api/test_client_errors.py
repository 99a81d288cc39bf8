"""Every client error under /api/ in the JSON shape: forged cursors, oversized bodies,
malformed parameters, unknown URLs; and what an integrator's client hit (issue regressions)."""

import base64
import logging
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from refunds.integration.apikeys import api_key_check
from refunds.models import EvidenceUpload, RefundApplication, WebhookDelivery
from refunds.services import evidence_upload_create
from refunds.services import platform as platform_services
from refunds.services.platform import api_key_issue
from tests.factories import GENUINE_CUP, endpoint_create, screen, submit, upload
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db


def error_of(response):
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()["error"]


@pytest.fixture
def ops_key_a(platform_a):
    return api_key_issue(platform=platform_a, name="ops", scopes=["read", "write", "policy", "webhooks"])[1]


# --- 2. deliveries over more than one page ----------------------------------------------------


def test_the_platform_walks_every_page_of_its_webhook_deliveries(platform_a, ops_key_a, product):

    endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    for n in range(3):
        submit(product, order_ref=f"order-{n}")
    client = client_with(ops_key_a)
    first = client.get("/api/v1/webhook-deliveries?page_size=2")
    assert first.status_code == 200, first.content[:300]
    second = client.get(first.json()["next"])
    assert second.status_code == 200, second.content[:300]
    seen = [d["id"] for d in first.json()["results"] + second.json()["results"]]
    assert len(seen) == len(set(seen)) == WebhookDelivery.objects.count() == 3


# --- 3. forged cursors ------------------------------------------------------------------------


def forged(position: str) -> str:
    return base64.b64encode(f"p={position}".encode()).decode()


@pytest.mark.parametrize("cursor", ["not-base64!!", forged("garbage"), forged("9999-99-99"), "bz0tMQ=="])
@pytest.mark.parametrize("path", ["/api/v1/applications", "/api/v1/webhook-deliveries", "/api/v1/merchants"])
def test_a_forged_cursor_is_a_404_naming_the_cursor(ops_key_a, path, cursor):
    response = client_with(ops_key_a).get(path, {"cursor": cursor})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "invalid_cursor" and error["details"]["param"] == "cursor"


@override_settings(DEBUG=True)
def test_no_html_error_page_comes_from_the_api_even_in_debug(ops_key_a):
    client = client_with(ops_key_a)
    assert error_of(client.get("/api/v1/applications", {"cursor": forged("garbage")}))["code"] == "invalid_cursor"
    unknown = client.get("/api/v1/no-such-thing")
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "not_found"


# --- 4. bodies over the in-memory limit -------------------------------------------------------


def test_a_json_body_over_the_limit_is_a_413_in_the_json_shape(ops_key_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    response = client_with(ops_key_a).patch("/api/v1/policy", {"finding_thresholds": {"x" * 5000: 0.5}}, format="json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"


def test_a_multipart_text_field_over_the_limit_is_a_413_in_the_json_shape(product, key_a, settings):
    from tests.refunds.api.test_applications import form, post

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    response = post(client_with(key_a), form(product, description="x" * 5000))
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_too_large"
    assert not RefundApplication.objects.exists()


# --- 6. JSON wherever no file is sent ---------------------------------------------------------


def test_an_application_is_created_from_uploaded_evidence_with_a_json_body(product, key_a):
    uploaded = evidence_upload_create(platform=product.merchant.platform, image=upload(GENUINE_CUP))
    response = client_with(key_a).post(
        "/api/v1/applications",
        {
            "merchant": str(product.merchant.public_id),
            "product": str(product.public_id),
            "buyer_ref": "buyer-9",
            "order_ref": "order-9",
            "amount": "59.00",
            "currency": "CNY",
            "reason_code": "damaged",
            "evidence_ids": [str(uploaded.public_id)],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert len(response.json()["evidence"]) == 1
    assert EvidenceUpload.objects.get().used_at is not None


def test_a_json_application_needs_evidence_ids(product, key_a):
    response = client_with(key_a).post(
        "/api/v1/applications",
        {
            "merchant": str(product.merchant.public_id),
            "product": str(product.public_id),
            "buyer_ref": "b",
            "order_ref": "o",
            "amount": "1.00",
            "currency": "CNY",
            "reason_code": "damaged",
        },
        format="json",
    )
    assert response.status_code == 400 and error_of(response)["details"]["param"] == "evidence_ids"


def test_the_merchant_contests_with_a_statement_only_in_json(product, key_a):
    application = screen(submit(product))
    response = client_with(key_a).post(
        f"/api/v1/applications/{application.public_id}/contest",
        {"statement": "The cup left our warehouse intact."},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "in_review"


# --- 8. smaller ones --------------------------------------------------------------------------


def test_the_bearer_scheme_is_case_insensitive(key_a):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"bearer {key_a}")
    assert client.get("/api/v1/applications").status_code == 200


@pytest.mark.parametrize(
    "query, parameter",
    [
        ({"page_size": "ten"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "201"}, "page_size"),
        ({"ordering": "secret_field"}, "ordering"),
        ({"ordering": "amount,created_at"}, "ordering"),
        ({"unscreened": "maybe"}, "unscreened"),
        ({"unscreened": "1"}, "unscreened"),
        ({"updated_before": ""}, "updated_before"),
        ({"merchant": ""}, "merchant"),
        ({"state": "nonsense"}, "state"),
    ],
)
def test_a_malformed_list_parameter_is_a_400_naming_it(key_a, query, parameter):
    response = client_with(key_a).get("/api/v1/applications", query)
    assert response.status_code == 400
    error = error_of(response)
    assert error["details"]["param"] == parameter


def test_ordering_by_a_listed_field_works_both_ways(product, key_a):
    submit(product, amount="10.00", order_ref="cheap")
    submit(product, amount="90.00", order_ref="dear")
    client = client_with(key_a)
    assert [a["order_ref"] for a in client.get("/api/v1/applications?ordering=amount").json()["results"]] == [
        "cheap",
        "dear",
    ]
    assert [a["order_ref"] for a in client.get("/api/v1/applications?ordering=-amount").json()["results"]] == [
        "dear",
        "cheap",
    ]


@pytest.mark.parametrize("ordering", ["merchant_deadline", "-merchant_deadline"])
def test_every_page_ordered_by_deadline_is_reachable_though_some_deadlines_are_empty(product, key_a, ordering):
    windowed = [screen(submit(product, order_ref=f"window-{i}")) for i in range(3)]
    fresh = [submit(product, order_ref=f"new-{i}") for i in range(3)]
    assert all(a.merchant_deadline for a in windowed) and not any(a.merchant_deadline for a in fresh)
    client, seen = client_with(key_a), []
    url = f"/api/v1/applications?ordering={ordering}&page_size=2"
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        seen += [a["order_ref"] for a in response.json()["results"]]
        url = response.json()["next"]
    assert sorted(seen) == sorted(a.order_ref for a in windowed + fresh)
    # Applications with no window yet come after those with one, oldest deadline first.
    windows_first = seen if ordering == "merchant_deadline" else seen[::-1]
    assert [ref.split("-")[0] for ref in windows_first] == ["window"] * 3 + ["new"] * 3


def test_a_delivery_status_filter_must_be_a_known_status(ops_key_a):
    response = client_with(ops_key_a).get("/api/v1/webhook-deliveries?status=lost")
    assert response.status_code == 400 and error_of(response)["details"]["param"] == "status"


@pytest.mark.parametrize("currency", ["ZZZ", "cny", "XXX", "CN"])
def test_an_unknown_currency_is_refused(product, key_a, currency):
    from tests.refunds.api.test_applications import form, post

    response = post(client_with(key_a), form(product, currency=currency))
    assert response.status_code == 400 and error_of(response)["details"]["param"] == "currency"


def test_a_refused_request_is_logged_in_one_line_without_a_traceback(key_a, caplog):
    with caplog.at_level(logging.INFO):
        assert client_with(key_a).get("/api/v1/policy").status_code == 403
        assert client_with(key_a).get("/api/v1/applications/00000000-0000-0000-0000-000000000000").status_code == 404
    refused = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert refused, "the refusals are logged"
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in refused)


def test_redoc_loads_nothing_from_another_site(client):
    page = client.get("/api/v1/redoc/").content.decode()
    assert "fonts.googleapis" not in page and "cdn." not in page
    assert "disableGoogleFont" in page


def test_an_expired_key_is_refused(platform_a):
    key, text = api_key_issue(
        platform=platform_a, name="short-lived", scopes=["read"], expires_at=timezone.now() + timedelta(hours=1)
    )
    assert api_key_check(text) == key
    key.expires_at = timezone.now() - timedelta(seconds=1)
    key.save(update_fields=["expires_at"])
    assert client_with(text).get("/api/v1/applications").status_code == 401


def test_a_rotated_key_keeps_working_through_the_overlap_then_stops(platform_a):
    import time_machine

    old, old_text = api_key_issue(platform=platform_a, name="orders", scopes=["read"])
    new, new_text = platform_services.api_key_rotate(
        key=old, overlap=timedelta(hours=2), actor=platform_services.settings_actor_for_command("test")
    )
    assert client_with(old_text).get("/api/v1/applications").status_code == 200
    assert client_with(new_text).get("/api/v1/applications").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=2, seconds=1)):
        assert client_with(old_text).get("/api/v1/applications").status_code == 401
        assert client_with(new_text).get("/api/v1/applications").status_code == 200
