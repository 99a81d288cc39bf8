"""Rate limits per key and upload limits, with the API's error shape."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone

from refunds.models import RefundApplication
from refunds.services.platform import api_key_issue
from tests.factories import jpeg, upload
from tests.refunds.api.test_applications import client_with, form, post

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


@pytest.fixture
def fresh_addresses():
    """Client addresses (documentation ranges) with no refused key counted yet, whatever ran before."""
    addresses = ["203.0.113.7", "203.0.113.8", "203.0.113.9"]
    cache.delete_many([f"throttle:api-invalid-key:{address}{log}" for address in addresses for log in ("", ":log")])
    return addresses


def test_it_answers_429_with_retry_after_to_an_address_that_keeps_presenting_invalid_keys(
    key_a, settings, fresh_addresses
):
    settings.API_INVALID_KEY_LIMIT = "3/min"
    guesser = client_with("rh_guess_wrong")
    statuses = [guesser.get("/api/v1/applications", REMOTE_ADDR="203.0.113.7").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    refused = guesser.get("/api/v1/applications", REMOTE_ADDR="203.0.113.7")
    assert refused.json()["error"]["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60
    # A right guess from that address is refused like the wrong ones, so it teaches nothing.
    assert client_with(key_a).get("/api/v1/applications", REMOTE_ADDR="203.0.113.7").status_code == 429
    # A forwarded-for header the client wrote does not make it another address.
    spoofed = guesser.get("/api/v1/applications", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert spoofed.status_code == 429
    # Other addresses are not affected.
    assert client_with(key_a).get("/api/v1/applications", REMOTE_ADDR="203.0.113.8").status_code == 200
    assert guesser.get("/api/v1/applications", REMOTE_ADDR="203.0.113.8").status_code == 401


def test_it_counts_only_refused_keys_toward_the_guessing_limit(key_a, settings, fresh_addresses):
    settings.API_INVALID_KEY_LIMIT = "2/min"
    client = client_with(key_a)
    assert all(client.get("/api/v1/applications", REMOTE_ADDR="203.0.113.9").status_code == 200 for _ in range(5))
    assert client_with("rh_guess_wrong").get("/api/v1/applications", REMOTE_ADDR="203.0.113.9").status_code == 401
    assert client.get("/api/v1/applications", REMOTE_ADDR="203.0.113.9").status_code == 200


def test_the_window_slides_a_request_counts_for_one_minute_from_when_it_was_made(key_a, settings):
    settings.API_RATE_LIMIT = "2/min"
    client = client_with(key_a)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert client.get("/api/v1/applications").status_code == 200
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert client.get("/api/v1/applications").status_code == 200
        refused = client.get("/api/v1/applications")
        assert refused.status_code == 429 and refused["Retry-After"] == "30"
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        # The first request left the window; the second still counts.
        allowed = client.get("/api/v1/applications")
        assert allowed.status_code == 200 and allowed["RateLimit-Remaining"] == "0"
        assert allowed["RateLimit-Reset"] == "29"
        assert client.get("/api/v1/applications").status_code == 429


def test_a_wrong_secret_presented_with_a_keys_prefix_uses_up_none_of_that_keys_rate(key_a, settings, fresh_addresses):
    settings.API_RATE_LIMIT = "2/min"
    prefix = key_a.split("_")[1]
    impostor = client_with(f"rh_{prefix}_not-the-secret")
    assert [impostor.get("/api/v1/applications", REMOTE_ADDR="203.0.113.7").status_code for _ in range(3)] == [401] * 3
    owner = client_with(key_a)
    assert [owner.get("/api/v1/applications").status_code for _ in range(3)] == [200, 200, 429]


def test_a_request_refused_for_a_scope_its_key_lacks_uses_up_none_of_the_keys_rate(platform_a, settings):
    settings.API_RATE_LIMIT = "2/min"
    reader = client_with(api_key_issue(platform=platform_a, name="reader", scopes=["read"])[1])
    assert [reader.get("/api/v1/policy").status_code for _ in range(3)] == [403] * 3
    assert [reader.get("/api/v1/applications").status_code for _ in range(3)] == [200, 200, 429]
