"""A retry that comes after its Idempotency-Key's record was purged (48 hours), on every POST that
takes a key: it is a new request, answered as one (a second effect where a second one is
meaningful, a clear 4xx where the first already took the only one), never a 500.

Creating an application is stricter and has its own test (test_idempotency.py): the application
carries its key, so the retry is refused with 409 idempotency_key_expired."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from refunds.integration.idempotency import purge_expired
from refunds.models import IdempotencyRecord, WebhookDelivery
from refunds.services.platform import api_key_issue
from tests.factories import CUP, endpoint_create, jpeg, screen, submit, upload
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db


def evidence_upload(world):
    return "/api/v1/evidence-uploads", lambda: {"file": upload(jpeg(seed=11))}, "multipart"


def evidence_add(world):
    application = screen(submit(world["product"]))
    return (
        f"/api/v1/applications/{application.public_id}/evidence",
        lambda: {"evidence": [upload(jpeg(seed=12))]},
        "multipart",
    )


def withdraw(world):
    application = submit(world["product"])
    return f"/api/v1/applications/{application.public_id}/withdraw", lambda: {"reason": "buyer cancelled"}, "json"


def accept(world):
    application = screen(submit(world["product"]))
    return f"/api/v1/applications/{application.public_id}/accept", lambda: {}, "json"


def contest(world):
    application = screen(submit(world["product"]))
    return f"/api/v1/applications/{application.public_id}/contest", lambda: {"statement": "Packed intact."}, "json"


def merchant_create(world):
    return "/api/v1/merchants", lambda: {"external_ref": "shop-7", "name": "Seven"}, "json"


def product_create(world):
    merchant = str(world["product"].merchant.public_id)
    return "/api/v1/products", lambda: {"merchant": merchant, "external_ref": "sku-7", "title": "Vase"}, "json"


def reference_image_add(world):
    return (
        f"/api/v1/products/{world['product'].public_id}/reference-images",
        lambda: {"image": upload(CUP, "vase.jpg"), "kind": "catalogue"},
        "multipart",
    )


def webhook_endpoint_create(world):
    return "/api/v1/webhook-endpoints", lambda: {"url": "https://hooks.example/reviewhub"}, "json"


def webhook_secret_rotate(world):
    endpoint = endpoint_create(platform=world["platform"], url="https://hooks.example/rotate")
    return f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret", lambda: {}, "json"


def webhook_redeliver(world):
    endpoint_create(platform=world["platform"], url="http://127.0.0.1:9/hooks")
    submit(world["product"])
    delivery = WebhookDelivery.objects.get()
    return f"/api/v1/webhook-deliveries/{delivery.public_id}/redeliver", lambda: {}, "json"


@pytest.mark.parametrize(
    ("request_of", "answer"),
    [
        # A second effect is meaningful: one more staged file, image, secret or delivery attempt.
        (evidence_upload, 201),
        (evidence_add, 201),
        (reference_image_add, 201),
        (webhook_secret_rotate, 200),
        (webhook_redeliver, 202),
        # The first took the only effect there is: the conflict says why, with its code.
        (withdraw, 409),
        (accept, 409),
        (contest, 409),
        (merchant_create, 409),
        (product_create, 409),
        (webhook_endpoint_create, 409),
    ],
)
def test_a_retry_after_the_keys_record_expired_is_answered_as_a_new_request_never_500(
    platform_a, product, request_of, answer
):
    key = api_key_issue(platform=platform_a, name="ops", scopes=["read", "write", "webhooks"])[1]
    client = client_with(key)
    path, body, body_format = request_of({"platform": platform_a, "product": product})
    first = client.post(path, body(), format=body_format, HTTP_IDEMPOTENCY_KEY="retry-48h-later")
    assert first.status_code < 300, first.content
    replay = client.post(path, body(), format=body_format, HTTP_IDEMPOTENCY_KEY="retry-48h-later")
    assert (replay.status_code, replay["Idempotent-Replayed"]) == (first.status_code, "true")

    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        assert purge_expired() == 1
        again = client.post(path, body(), format=body_format, HTTP_IDEMPOTENCY_KEY="retry-48h-later")

    assert again.status_code == answer, again.content
    assert "Idempotent-Replayed" not in again
    if again.status_code >= 400:
        assert again.json()["error"]["code"], again.content
        assert not IdempotencyRecord.objects.exists()  # a refusal keeps no record: its retry is refused alike
    else:
        assert IdempotencyRecord.objects.count() == 1  # the new answer is the key's again
