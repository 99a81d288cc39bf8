"""Invariant 6: each key, whatever its scopes, reaches only its own platform's objects."""

import itertools

import pytest

from refunds.models import Merchant, Policy, Product, RefundApplication, WebhookDelivery, WebhookEndpoint
from refunds.services.platform import api_key_issue
from tests.factories import FORGED_CUP, endpoint_create, screen, submit, upload
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db

SCOPE_SETS = [["read"], ["write"], ["read", "write"], ["policy"], ["webhooks"], ["read", "write", "policy", "webhooks"]]


@pytest.fixture
def platform_b_objects(product_b, platform_b):
    application = screen(submit(product_b, evidence=[FORGED_CUP]))
    endpoint = endpoint_create(platform=platform_b, url="http://127.0.0.1:9/hooks")
    submit(product_b, buyer_ref="second")
    finding = application.evidence.get().screening.findings.get(code="local_edit")
    return {
        "application": application.public_id,
        "merchant": product_b.merchant.public_id,
        "product": product_b.public_id,
        "endpoint": endpoint.public_id,
        "delivery": WebhookDelivery.objects.filter(endpoint=endpoint).first().public_id,
        "finding": finding.public_id,
    }


def requests_against(ids):
    a, m, p, e, d, f = (ids[k] for k in ("application", "merchant", "product", "endpoint", "delivery", "finding"))
    return [
        ("get", f"/api/v1/applications/{a}", None),
        ("get", f"/api/v1/applications/{a}/audit-events", None),
        ("post", f"/api/v1/applications/{a}/withdraw", {}),
        ("post", f"/api/v1/applications/{a}/accept", {}),
        ("post", f"/api/v1/applications/{a}/contest", {"statement": "no", "attachments": []}),
        ("post", f"/api/v1/applications/{a}/evidence", {"evidence": [upload(FORGED_CUP)]}),
        ("get", f"/api/v1/merchants/{m}", None),
        ("get", f"/api/v1/products/{p}", None),
        ("get", f"/api/v1/products/{p}/reference-images", None),
        ("post", f"/api/v1/products/{p}/reference-images", {"image": upload(FORGED_CUP)}),
        ("post", "/api/v1/products", {"merchant": str(m), "external_ref": "x", "title": "x"}),
        ("delete", f"/api/v1/webhook-endpoints/{e}", None),
        ("post", f"/api/v1/webhook-endpoints/{e}/rotate-secret", {}),
        ("post", f"/api/v1/webhook-deliveries/{d}/redeliver", {}),
        ("get", f"/api/v1/findings/{f}/heatmap", None),
    ]


def test_no_key_of_platform_a_reaches_platform_b(platform_a, platform_b_objects):
    before = {
        "states": list(RefundApplication.objects.order_by("pk").values_list("state", flat=True)),
        "products": Product.objects.count(),
        "secrets": list(WebhookEndpoint.objects.values_list("secret", flat=True)),
        "merchants": Merchant.objects.count(),
        "policy": Policy.objects.get(platform__slug="platform-b").updated_at,
    }
    count = len(requests_against(platform_b_objects))
    for scopes, index in itertools.product(SCOPE_SETS, range(count)):
        method, path, data = requests_against(platform_b_objects)[index]  # fresh uploads every time
        _, key = api_key_issue(platform=platform_a, name="-".join(scopes), scopes=scopes)
        multipart = data is not None and any(isinstance(v, list) or hasattr(v, "read") for v in data.values())
        response = getattr(client_with(key), method)(path, data, format="multipart" if multipart else "json")
        assert response.status_code in (403, 404), (scopes, method, path, response.status_code)
        assert "error" in response.json(), (scopes, method, path)
    after = {
        "states": list(RefundApplication.objects.order_by("pk").values_list("state", flat=True)),
        "products": Product.objects.count(),
        "secrets": list(WebhookEndpoint.objects.values_list("secret", flat=True)),
        "merchants": Merchant.objects.count(),
        "policy": Policy.objects.get(platform__slug="platform-b").updated_at,
    }
    assert after == before


def test_lists_of_platform_a_never_show_platform_b(platform_a, platform_b_objects):
    _, key = api_key_issue(platform=platform_a, name="all", scopes=["read", "write", "policy", "webhooks"])
    client = client_with(key)
    assert client.get("/api/v1/applications").json()["results"] == []
    assert client.get("/api/v1/merchants").json()["results"] == []
    assert client.get("/api/v1/products").json()["results"] == []
    assert client.get("/api/v1/webhook-endpoints").json() == []
    assert client.get("/api/v1/webhook-deliveries").json()["results"] == []
    assert client.get("/api/v1/policy").json()["fast_track_enabled"] is False
