"""Rotating a webhook secret with an overlap: no delivery fails for a receiver that has not switched yet."""

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from rest_framework.test import APIClient

from refunds.integration import signing, webhooks
from refunds.models import SettingsChange, WebhookDelivery, WebhookEndpoint
from refunds.services import Actor, application_withdraw
from refunds.services.platform import api_key_issue, webhook_endpoint_rotate_secret
from tests.factories import endpoint_create, make_product, submit

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def readme_recipe(secret, header, body, now, tolerance=300):
    """The README's verification: any v1 value that matches."""
    items = [item.split("=", 1) for item in header.split(",")]
    timestamp = dict(items)["t"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    signatures = [value for name, value in items if name == "v1"]
    return abs(now - int(timestamp)) <= tolerance and any(hmac.compare_digest(expected, s) for s in signatures)


def last_v1_only(secret, header, body, now, tolerance=300):
    """The README's earlier recipe, which a receiver written before rotations may still run."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(now - int(parts["t"])) <= tolerance and hmac.compare_digest(expected, parts["v1"])


class Receiver:
    """A local endpoint holding one secret: 500 for its first `failures` requests, then 200 for
    each request it can verify and 400 for any it cannot."""

    def __init__(self, *, failures=0):
        self.secret, self.failures, self.requests = "", failures, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get(signing.SIGNATURE_HEADER, "")
                verified = readme_recipe(receiver.secret, header, body, time.time())
                receiver.requests.append(
                    {
                        "event": json.loads(body)["id"],
                        "body": body,
                        "header": header,
                        "verified": verified,
                        "old_recipe": last_v1_only(receiver.secret, header, body, time.time()),
                    }
                )
                self.send_response(500 if len(receiver.requests) <= receiver.failures else 200 if verified else 400)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver():
    server = Receiver(failures=1)
    yield server
    server.server.shutdown()


def deliver(endpoint, application):
    webhooks.deliver_pending(endpoint_pk=endpoint.pk, application_pk=application.pk)


def test_a_receiver_holding_only_the_old_secret_verifies_every_delivery_of_the_overlap(receiver, platform_a, merchant):
    key = api_key_issue(platform=platform_a, name="ops", scopes=["read", "write", "webhooks"])[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    with time_machine.travel(START) as clock:
        endpoint = endpoint_create(platform=platform_a, url=receiver.url)
        receiver.secret = old_secret = endpoint.secret
        application = submit(make_product(merchant))
        deliver(endpoint, application)  # the receiver is down: a 500, to be retried
        assert receiver.requests[0]["verified"]

        rotated = client.post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret", {}, format="json")
        assert rotated.status_code == 200, rotated.content
        new_secret = rotated.json()["secret"]
        assert new_secret != old_secret
        assert rotated.json()["previous_secret_expires_at"].startswith("2026-12-02T09:00:0")

        clock.shift(timedelta(hours=1))  # the retry of the event first sent before the rotation
        deliver(endpoint, application)
        application_withdraw(application_id=application.public_id, actor=Actor.system())
        clock.shift(timedelta(hours=22))  # a new event late in the overlap
        deliver(endpoint, application)

        during = receiver.requests[1:]
        assert [r["event"] for r in during][0] == receiver.requests[0]["event"]
        assert len(during) == 2 and all(r["verified"] and r["old_recipe"] for r in during)
        assert all(r["header"].count("v1=") == 2 for r in during)
        assert not WebhookDelivery.objects.exclude(status="delivered").exists()

        # After the overlap only the new secret signs.
        clock.shift(timedelta(hours=2))
        receiver.secret = new_secret
        receiver.failures = 0
        second = submit(make_product(merchant, ref="sku-2"))
        deliver(endpoint, second)
        after = receiver.requests[-1]
        assert after["verified"] and after["header"].count("v1=") == 1
        assert not readme_recipe(old_secret, after["header"], after["body"], time.time())


def test_the_rotation_is_recorded_with_the_end_of_the_overlap_but_never_a_secret(platform_a):
    endpoint = endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    old = endpoint.secret
    with time_machine.travel(START, tick=False):
        webhook_endpoint_rotate_secret(endpoint=endpoint, actor=Actor.system(), overlap=timedelta(hours=2))
    change = SettingsChange.objects.get(action="webhook_endpoint_secret_rotated")
    assert change.after == {"previous_secret_expires_at": "2026-12-01T11:00:00+00:00"}
    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert old not in json.dumps([change.before, change.after]) and stored.secret not in json.dumps(change.after)


def test_a_rotation_without_overlap_stops_the_old_secret_at_once(platform_a):
    endpoint = endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    rotated = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=Actor.system(), overlap=timedelta(0))
    assert rotated.signing_secrets(datetime.now(UTC)) == [rotated.secret]


def test_a_second_rotation_drops_the_secret_the_first_one_kept(platform_a):
    endpoint = endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    first = endpoint.secret
    middle = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=Actor.system()).secret
    last = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=Actor.system())
    assert last.signing_secrets(datetime.now(UTC)) == [last.secret, middle]
    assert first not in last.signing_secrets(datetime.now(UTC))


@pytest.mark.parametrize("overlap", [-1, 7 * 24 * 3600 + 1, "3600", 1.5, True])
def test_an_overlap_out_of_bounds_or_not_a_whole_number_is_refused(platform_a, overlap):
    key = api_key_issue(platform=platform_a, name="ops", scopes=["webhooks"])[1]
    endpoint = endpoint_create(platform=platform_a, url="http://127.0.0.1:9/hooks")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.post(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}/rotate-secret", {"overlap_seconds": overlap}, format="json"
    )
    assert response.status_code == 400
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == endpoint.secret
