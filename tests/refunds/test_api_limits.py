"""Rate limits per key and upload limits, with the API's error shape."""

import pytest

from refunds.models import RefundApplication
from tests.factories import jpeg, upload
from tests.refunds.test_api_applications import client_with, form, post

pytestmark = pytest.mark.django_db


def test_a_key_over_its_rate_gets_429_with_retry_after(key_a, settings):
    settings.API_RATE_LIMIT = "3/min"
    client = client_with(key_a)
    statuses = [client.get("/api/v1/applications").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/applications")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_keys_have_separate_rates(key_a, key_b, settings):
    settings.API_RATE_LIMIT = "2/min"
    for _ in range(2):
        client_with(key_a).get("/api/v1/applications")
    assert client_with(key_a).get("/api/v1/applications").status_code == 429
    assert client_with(key_b).get("/api/v1/applications").status_code == 200


def test_a_file_over_the_size_limit_is_refused_while_it_streams_in(product, key_a, settings):
    settings.UPLOAD_MAX_BYTES = 4000
    big = jpeg(seed=1, size=(800, 600), quality=95)
    assert len(big) > 4000
    response = post(client_with(key_a), form(product, upload(big)))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert not RefundApplication.objects.exists()


def test_a_body_declared_over_the_request_limit_is_refused_unread(product, key_a, settings):
    settings.API_MAX_REQUEST_BYTES = 2048
    response = post(client_with(key_a), form(product, upload(jpeg(seed=2))))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_json_where_a_file_is_needed_is_415(product, key_a):
    response = client_with(key_a).post("/api/v1/evidence-uploads", {"file": "x"}, format="json")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
