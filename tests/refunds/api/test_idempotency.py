"""Invariant 9: Idempotency-Key on POST replays the first response."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from refunds.integration.idempotency import purge_expired
from refunds.models import IdempotencyRecord, RefundApplication
from tests.conftest import race
from tests.factories import GENUINE_CUP, jpeg, upload
from tests.refunds.api.test_applications import client_with, form


def post_with_key(client, data, key):
    return client.post("/api/v1/applications", data, format="multipart", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.django_db
def test_a_replay_returns_the_first_response_and_creates_nothing_more(product, key_a):
    client = client_with(key_a)
    first = post_with_key(client, form(product, upload(GENUINE_CUP)), "order-9-refund")
    again = post_with_key(client, form(product, upload(GENUINE_CUP)), "order-9-refund")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert RefundApplication.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_request_is_refused(product, key_a):
    client = client_with(key_a)
    post_with_key(client, form(product, upload(GENUINE_CUP)), "k1")
    response = post_with_key(client, form(product, upload(GENUINE_CUP), amount="1.00"), "k1")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    different_file = post_with_key(client, form(product, upload(jpeg(seed=3))), "k1")
    assert different_file.status_code == 422


@pytest.mark.django_db
def test_keys_are_per_platform(product, product_b, key_a, key_b):
    assert post_with_key(client_with(key_a), form(product), "shared").status_code == 201
    assert post_with_key(client_with(key_b), form(product_b), "shared").status_code == 201
    assert RefundApplication.objects.count() == 2


@pytest.mark.django_db
def test_a_refused_request_frees_its_key_for_a_corrected_retry(product, key_a):
    client = client_with(key_a)
    bad = post_with_key(client, form(product, upload(b"not an image", "x.jpg")), "retry-me")
    assert bad.status_code == 415
    good = post_with_key(client, form(product), "retry-me")
    assert good.status_code == 201


@pytest.mark.django_db
def test_records_are_purged_after_their_retention(product, key_a):
    post_with_key(client_with(key_a), form(product), "old")
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        assert purge_expired() == 1
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_key_whose_record_expired_and_names_the_application_it_created(postgres_only, product, key_a):
    client = client_with(key_a)
    first = post_with_key(client, form(product, upload(GENUINE_CUP)), "order-12-refund")
    assert first.status_code == 201
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        assert purge_expired() == 1
        again = post_with_key(client, form(product, upload(GENUINE_CUP)), "order-12-refund")
    # The answer is gone, so this may be another request: neither a second application nor a guess.
    assert again.status_code == 409, again.content
    error = again.json()["error"]
    assert error["code"] == "idempotency_key_expired"
    assert error["details"] == {"param": "Idempotency-Key", "key": "order-12-refund", "application": first.json()["id"]}
    assert RefundApplication.objects.count() == 1
    # The refusal keeps no record: every later retry with the key is answered the same way.
    assert not IdempotencyRecord.objects.exists()
    in_chinese = client.post(
        "/api/v1/applications",
        form(product),
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="order-12-refund",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert in_chinese.status_code == 409 and "已过期" in in_chinese.json()["error"]["message"]
    assert post_with_key(client, form(product), "order-13-refund").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_have_one_effect(postgres_only, product, key_a):
    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key_a}")
        return post_with_key(client, form(product, upload(GENUINE_CUP)), "twin").status_code

    statuses = race(send, send)
    assert RefundApplication.objects.count() == 1
    # The loser either waited out the winner's answer (201 replayed) or was told it is in progress (409).
    assert sorted(statuses) in ([201, 201], [201, 409])


@pytest.mark.django_db
def test_an_empty_multipart_body_with_a_key_is_a_validation_error(key_a):
    boundary = "c637e12e2b1a998d80d1b087531af51c"
    response = client_with(key_a).generic(
        "POST",
        "/api/v1/applications",
        f"--{boundary}--\r\n".encode(),
        content_type=f"multipart/form-data; boundary={boundary}",
        HTTP_IDEMPOTENCY_KEY="empty",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
