"""Headers that explain every answer: Request-Id, RateLimit-*, Content-Language; one `param` in errors."""

import logging

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from refunds.models import WebhookDelivery
from refunds.request_id import RequestIdLogFilter
from refunds.services.platform import api_key_issue
from tests.factories import GENUINE_CUP, endpoint_create, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_counts():
    cache.clear()
    yield
    cache.clear()


def client_with(key, **headers):
    client = APIClient(**headers)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def answers(key_a, product):
    """One answer of each kind an integration meets."""
    client = client_with(key_a)
    return {
        "list": client.get("/api/v1/applications"),
        "create": client.post(
            "/api/v1/applications",
            {
                "merchant": str(product.merchant.public_id),
                "product": str(product.public_id),
                "buyer_ref": "b",
                "order_ref": "o",
                "amount": "9.90",
                "currency": "CNY",
                "reason_code": "damaged",
                "evidence": [upload(GENUINE_CUP)],
            },
            format="multipart",
        ),
        "invalid": client.get("/api/v1/applications?page_size=0"),
        "not found": client.get("/api/v1/applications/00000000-0000-0000-0000-000000000000"),
        "wrong scope": client.get("/api/v1/policy"),
        "unknown url": client.get("/api/v1/no-such-thing"),
        "no key": APIClient().get("/api/v1/applications"),
        "schema": APIClient().get("/api/v1/schema/"),
    }


def test_every_answer_carries_a_request_id_and_its_language(key_a, product):
    for name, response in answers(key_a, product).items():
        assert response["Request-Id"].startswith("req_"), name
        assert response["Content-Language"] == "en", name
    ids = {response["Request-Id"] for response in answers(key_a, product).values()}
    assert len(ids) == 8


def test_pages_outside_the_api_carry_a_request_id_too(client):
    assert client.get("/admin/login/")["Request-Id"].startswith("req_")


@pytest.mark.parametrize(
    "sent, echoed",
    [("order-sync-42", True), ("a" * 128, True), ("a" * 129, False), ("bad id\twith tab", False), ("<script>", False)],
)
def test_a_sane_request_id_of_the_client_is_echoed_and_any_other_replaced(key_a, sent, echoed):
    response = client_with(key_a, HTTP_REQUEST_ID=sent).get("/api/v1/applications")
    assert (response["Request-Id"] == sent) is echoed
    if not echoed:
        assert response["Request-Id"].startswith("req_")


def test_log_lines_of_a_request_name_its_id(key_a, settings):
    assert "request_id=%(request_id)s" in settings.LOGGING["formatters"]["plain"]["format"]
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    keep = Keep()
    keep.addFilter(RequestIdLogFilter())
    logging.getLogger("django.request").addHandler(keep)
    try:
        # A 400 is logged by Django after the middleware has answered.
        response = client_with(key_a, HTTP_REQUEST_ID="trace-me").get("/api/v1/applications?page_size=0")
    finally:
        logging.getLogger("django.request").removeHandler(keep)
    assert response.status_code == 400
    assert records and all(record.request_id == "trace-me" for record in records)


def test_a_webhook_delivery_records_the_request_that_queued_it(key_a, product, platform_a):
    endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    client = client_with(key_a, HTTP_REQUEST_ID="submit-1")
    created = client.post(
        "/api/v1/applications",
        {
            "merchant": str(product.merchant.public_id),
            "product": str(product.public_id),
            "buyer_ref": "b",
            "order_ref": "o",
            "amount": "9.90",
            "currency": "CNY",
            "reason_code": "damaged",
            "evidence": [upload(GENUINE_CUP)],
        },
        format="multipart",
    )
    assert created.status_code == 201
    assert WebhookDelivery.objects.get().request_id == "submit-1"


def test_every_answer_to_a_key_carries_its_rate_limit(key_a, product, settings):
    settings.API_RATE_LIMIT = "100/min"
    keyed = {name: r for name, r in answers(key_a, product).items() if name not in ("no key", "schema", "unknown url")}
    for name, response in keyed.items():
        assert response["RateLimit-Limit"] == "100", name
        assert 0 <= int(response["RateLimit-Reset"]) <= 60, name
    assert int(keyed["list"]["RateLimit-Remaining"]) == 99
    assert int(keyed["wrong scope"]["RateLimit-Remaining"]) < 99


def test_every_answer_without_a_valid_key_carries_the_addresss_limit_of_refused_keys(key_a, product, settings):
    settings.API_INVALID_KEY_LIMIT = "5/min"
    unkeyed = {name: r for name, r in answers(key_a, product).items() if name in ("no key", "schema", "unknown url")}
    for name, response in unkeyed.items():
        assert response["RateLimit-Limit"] == "5", name
        assert 0 <= int(response["RateLimit-Reset"]) <= 60, name
    before = int(unkeyed["no key"]["RateLimit-Remaining"])
    wrong = client_with("rh_nosuchkey_000000000000").get("/api/v1/applications")
    assert wrong.status_code == 401
    assert int(wrong["RateLimit-Remaining"]) == before - 1  # a refused key counts, a missing one does not
    again = APIClient().get("/api/v1/applications")
    assert again.status_code == 401 and int(again["RateLimit-Remaining"]) == before - 1


def test_refused_keys_count_down_to_the_429(settings):
    settings.API_INVALID_KEY_LIMIT = "2/min"
    client = client_with("rh_nosuchkey_000000000000")
    responses = [client.get("/api/v1/applications") for _ in range(3)]
    assert [r.status_code for r in responses] == [401, 401, 429]
    assert [r["RateLimit-Remaining"] for r in responses] == ["1", "0", "0"]
    assert "Retry-After" in responses[-1] and all(r["RateLimit-Limit"] == "2" for r in responses)


def test_the_rate_limit_counts_down_to_the_429(platform_a, settings):
    settings.API_RATE_LIMIT = "3/min"
    client = client_with(api_key_issue(platform=platform_a, name="k", scopes=["read"])[1])
    responses = [client.get("/api/v1/applications") for _ in range(4)]
    assert [r["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert responses[-1].status_code == 429 and "Retry-After" in responses[-1]
    assert all(r["RateLimit-Limit"] == "3" for r in responses)


@pytest.mark.parametrize(
    "url, param",
    [
        ("/api/v1/applications?page_size=0", "page_size"),
        ("/api/v1/applications?state=lost", "state"),
        ("/api/v1/applications?ordering=-updated_at", "ordering"),
        ("/api/v1/events?after=x", "after"),
    ],
)
def test_errors_name_the_offending_input_under_param(key_a, url, param):
    details = client_with(key_a).get(url).json()["error"]["details"]
    assert details["param"] == param
    assert "parameter" not in details and "field" not in details


def test_a_body_error_names_its_field_under_param_and_lists_the_messages(key_a, product):
    response = client_with(key_a).post("/api/v1/applications", {"merchant": "x"}, format="json")
    details = response.json()["error"]["details"]
    assert response.status_code == 400 and details["param"] in details["errors"]


def test_the_api_speaks_english_unless_chinese_is_asked_for(key_a):
    client = client_with(key_a)
    english = client.get("/api/v1/applications/nope")
    chinese = client.get("/api/v1/applications/nope", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert english["Content-Language"] == "en" and english.json()["error"]["message"] == "No such application."
    assert chinese["Content-Language"] == "zh-hans" and chinese.json()["error"]["message"] != "No such application."


def test_a_language_cookie_of_the_portal_does_not_change_the_api(key_a, settings):
    client = client_with(key_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    assert client.get("/api/v1/applications/nope")["Content-Language"] == "en"


def test_the_schema_is_the_same_in_every_language():
    client = APIClient()
    plain = client.get("/api/v1/schema/").content
    assert client.get("/api/v1/schema/", HTTP_ACCEPT_LANGUAGE="zh-hans").content == plain
    assert client.get("/api/v1/schema/?lang=zh-hans").content == plain
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in plain.decode())
