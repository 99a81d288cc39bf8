"""What the schema's string patterns refuse, the API refuses, and the other way round: NUL
characters anywhere (body, query, path) and IPv6 literal webhook URLs."""

import re

import pytest
from django.test import Client

from refunds.api.schema import NO_NUL, NOT_BLANK
from refunds.integration.url_guard import URL_PATTERN
from refunds.services.platform import api_key_issue
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db

NUL_VALUE = "shop\x00-1"
IPV6_URLS = ["https://[2606:4700:4700::1111]/hooks", "http://[::1]:8080/hooks", "https://[::ffff:8.8.8.8]/"]


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return Client().get("/api/v1/schema/?format=json").json()


def request_strings(schema):
    """(where, schema) of every string a client sends: request bodies' fields and parameters."""
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            for field, prop in component.get("properties", {}).items():
                yield f"{name}.{field}", prop
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "header":
                    yield f"{method.upper()} {path} {parameter['name']}", parameter["schema"]


def test_every_free_text_the_api_takes_has_a_pattern_that_refuses_nul(schema):
    unsaid, allowing = [], []
    for where, prop in request_strings(schema):
        if prop.get("type") != "string" or "enum" in prop or prop.get("format") in ("uuid", "binary"):
            continue
        if "pattern" not in prop:
            unsaid.append(where)
        elif re.search(prop["pattern"], NUL_VALUE):
            allowing.append(where)
    assert unsaid == [] and allowing == []


def test_the_text_patterns_take_ordinary_text_and_refuse_blank_or_nul():
    assert re.search(NO_NUL, "") and re.search(NO_NUL, "shop 1") and not re.search(NO_NUL, NUL_VALUE)
    assert re.search(NOT_BLANK, " shop ") and not re.search(NOT_BLANK, " \t\u3000")
    assert not re.search(NOT_BLANK, NUL_VALUE)


def test_a_nul_in_a_body_field_is_refused_naming_the_field(key_a):
    response = client_with(key_a).post("/api/v1/merchants", {"external_ref": NUL_VALUE, "name": "Shop"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["param"] == "external_ref"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("cursor=%00", "cursor"),
        ("created_after=2026-01-01T00:00:00Z%00", "created_after"),
        ("buyer_ref=a%00", "buyer_ref"),
    ],
)
def test_a_nul_in_any_query_parameter_is_refused_naming_it(key_a, query, param):
    response = client_with(key_a).get(f"/api/v1/applications?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["details"]["param"]) == ("invalid_parameter", param)


def test_a_nul_in_a_buyer_reference_of_the_path_is_refused_not_a_server_error(key_a):
    response = client_with(key_a).get("/api/v1/buyers/buyer%00-1")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["param"] == "buyer_ref"


def test_the_schema_says_webhook_urls_take_no_ipv6_literal_and_the_api_agrees(schema, platform_a):
    url = schema["components"]["schemas"]["WebhookEndpointRequest"]["properties"]["url"]
    assert url["pattern"] == URL_PATTERN and "IPv6 literals" in url["description"]
    assert re.search(URL_PATTERN, "https://hooks.example.com/reviewhub")
    key = api_key_issue(platform=platform_a, name="hooks", scopes=["webhooks"])[1]
    for literal in IPV6_URLS:
        assert not re.search(URL_PATTERN, literal)
        response = client_with(key).post("/api/v1/webhook-endpoints", {"url": literal}, format="json")
        assert response.status_code == 400, literal
        assert response.json()["error"]["details"]["param"] == "url"
