"""POST /api/v1/applications and GET /api/v1/applications/{id}."""

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image
from rest_framework.test import APIClient

from refunds.models import AuditEvent, Evidence, RefundApplication
from refunds.services.platform import api_key_issue
from tests.factories import GENUINE_CUP, jpeg, submit, upload

pytestmark = pytest.mark.django_db


def client_with(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def form(product, *files, **overrides):
    data = {
        "merchant": str(product.merchant.public_id),
        "product": str(product.public_id),
        "buyer_ref": "buyer-9",
        "order_ref": "order-9",
        "amount": "59.00",
        "currency": "CNY",
        "reason_code": "damaged",
        "delivered_at": "2026-11-01T08:00:00Z",
        "evidence": list(files) or [upload(GENUINE_CUP)],
    }
    data.update(overrides)
    return data


def post(client, data):
    return client.post("/api/v1/applications", data, format="multipart")


def test_a_platform_submits_an_application_with_evidence(product, key_a):
    response = post(client_with(key_a), form(product, upload(GENUINE_CUP), upload(jpeg(seed=1))))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "submitted"
    assert body["amount"] == "59.00" and body["currency"] == "CNY"
    assert len(body["evidence"]) == 2
    application = RefundApplication.objects.get(public_id=body["id"])
    assert application.audit_events.get().action == "submit"


def test_the_platform_reads_its_application_with_screening(product, key_a):
    from tests.factories import screen

    application = screen(submit(product))
    response = client_with(key_a).get(f"/api/v1/applications/{application.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "awaiting_merchant"
    assert body["risk_level"] == "clean"
    assert body["evidence"][0]["verdict"] == "consistent"


def test_the_platform_reads_each_photo_of_its_application_in_order(product, key_a):
    application = submit(product, evidence=[GENUINE_CUP, jpeg(seed=3), jpeg(seed=4)])
    body = client_with(key_a).get(f"/api/v1/applications/{application.public_id}").json()
    assert [e["id"] for e in body["evidence"]] == [str(e.public_id) for e in application.evidence.order_by("position")]
    assert body["id"] == str(application.public_id) and body["merchant"] == str(product.merchant.public_id)


def test_the_platform_reads_an_application_left_without_evidence(product, key_a):
    application = submit(product)
    Evidence.objects.filter(application=application).delete()
    response = client_with(key_a).get(f"/api/v1/applications/{application.public_id}")
    assert response.status_code == 200
    assert response.json()["id"] == str(application.public_id) and response.json()["evidence"] == []


def test_another_platforms_application_is_not_found(product, key_b):
    application = submit(product)
    response = client_with(key_b).get(f"/api/v1/applications/{application.public_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_another_platforms_merchant_cannot_be_used(product, key_b):
    response = post(client_with(key_b), form(product))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "merchant_not_found"
    assert not RefundApplication.objects.exists()


def test_a_malformed_id_is_not_found(key_a):
    response = client_with(key_a).get("/api/v1/applications/12")
    assert response.status_code == 404


def test_a_request_without_a_key_is_unauthorised(product):
    response = APIClient().get("/api/v1/applications/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_wrong_key_is_unauthorised(product):
    response = client_with("rh_000000000000_wrong").get("/api/v1/applications/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_read_only_key_cannot_submit(product, platform_a):
    _, key = api_key_issue(platform=platform_a, name="ro", scopes=["read"])
    response = post(client_with(key), form(product))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_a_revoked_key_is_unauthorised(product, platform_a):
    from django.utils import timezone

    key, text = api_key_issue(platform=platform_a, name="old", scopes=["read", "write"])
    key.revoked_at = timezone.now()
    key.save()
    assert post(client_with(text), form(product)).status_code == 401


@pytest.mark.parametrize(
    ("payload", "name", "status", "code"),
    [
        (b"just some text", "evidence.jpg", 415, "unsupported_media_type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "evidence.png", 415, "unsupported_media_type"),
        (b"<html><script>alert(1)</script></html>", "evidence.png", 415, "unsupported_media_type"),
        (GENUINE_CUP[: len(GENUINE_CUP) // 2], "truncated.jpg", 400, "corrupt_image"),
        (b"", "empty.jpg", 400, "empty_file"),
    ],
)
def test_a_bad_upload_is_refused_and_nothing_is_saved(product, key_a, payload, name, status, code):
    before = set(_stored_files())
    response = post(client_with(key_a), form(product, upload(jpeg(seed=7), "good.jpg"), upload(payload, name)))
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert not RefundApplication.objects.exists() and not Evidence.objects.exists() and not AuditEvent.objects.exists()
    assert set(_stored_files()) == before


def test_a_decompression_bomb_is_refused(product, key_a):
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")  # 400 MP, a few kB compressed
    response = post(client_with(key_a), form(product, upload(bomb.getvalue(), "bomb.png")))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_many_pixels"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("amount", "-1", "invalid"),
        ("amount", "1.234", "invalid"),
        ("currency", "yuan", "invalid"),
        ("reason_code", "changed_my_mind", "invalid"),
        ("merchant", "not-a-uuid", "invalid"),
    ],
)
def test_invalid_fields_are_refused_with_the_field_named(product, key_a, field, value, code):
    response = post(client_with(key_a), form(product, **{field: value}))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and error["details"]["param"] == field
    assert not RefundApplication.objects.exists()


def test_a_delivery_time_in_the_future_is_refused(product, key_a):
    response = post(client_with(key_a), form(product, delivered_at="2099-01-01T00:00:00Z"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_delivered_at"


def _stored_files():
    root = default_storage.path("")
    import os

    for folder, _, files in os.walk(root):
        for name in files:
            yield os.path.join(folder, name)


def test_a_forgery_shows_its_findings_in_the_readers_language_with_a_heat_map(product, key_a, key_b):
    from tests.factories import FORGED_CUP, screen

    application = screen(submit(product, evidence=[FORGED_CUP]))
    body = client_with(key_a).get(f"/api/v1/applications/{application.public_id}", HTTP_ACCEPT_LANGUAGE="en").json()
    findings = {f["code"]: f for f in body["evidence"][0]["findings"]}
    assert {"derived_from_reference", "local_edit"} <= set(findings)
    assert (
        findings["local_edit"]["explanation"].startswith("1 region")
        or "region(s)" in findings["local_edit"]["explanation"]
    )
    heat_map = client_with(key_a).get(findings["local_edit"]["heatmap_url"])
    assert heat_map.status_code == 200 and heat_map["Content-Type"] == "image/png"
    assert b"".join(heat_map.streaming_content).startswith(b"\x89PNG")
    assert client_with(key_b).get(findings["local_edit"]["heatmap_url"]).status_code == 404
    chinese = (
        client_with(key_a).get(f"/api/v1/applications/{application.public_id}", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    )
    local_edit = next(f for f in chinese["evidence"][0]["findings"] if f["code"] == "local_edit")
    assert local_edit["explanation"] != findings["local_edit"]["explanation"]
