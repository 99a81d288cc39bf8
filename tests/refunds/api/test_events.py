"""GET /api/v1/events: catching up on webhook events without webhooks."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from refunds.integration import webhooks
from refunds.models import WebhookEvent
from refunds.services import Actor, application_withdraw
from refunds.services.platform import api_key_issue
from tests.factories import submit

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LATER = START + timedelta(hours=1)


def client_with(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def withdraw(application):
    application_withdraw(application_id=application.public_id, actor=Actor.system())


def all_events(client, url="/api/v1/events?page_size=2"):
    seen = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        seen += response.json()["results"]
        url = response.json()["next"]
    return seen


@pytest.fixture
def history(product):
    """Two applications, each submitted and withdrawn, a second apart."""
    with time_machine.travel(START, tick=False) as clock:
        first, second = submit(product, order_ref="first"), submit(product, order_ref="second")
        clock.shift(timedelta(seconds=1))
        withdraw(first)
        clock.shift(timedelta(seconds=1))
        withdraw(second)
    return first, second


def test_the_platform_reads_its_events_oldest_first_as_the_webhooks_send_them(history, key_a):
    with time_machine.travel(LATER):
        events = all_events(client_with(key_a))
    stored = list(WebhookEvent.objects.order_by("created_at", "public_id"))
    assert [e["id"] for e in events] == [str(e.public_id) for e in stored]
    delivered = json.loads(webhooks.body_of(stored[-1]))
    assert events[-1]["data"] == delivered["data"]
    assert (events[-1]["type"], events[-1]["sequence"]) == (delivered["type"], delivered["sequence"])


def test_after_resumes_behind_the_last_event_processed(history, key_a):
    client = client_with(key_a)
    with time_machine.travel(LATER):
        events = all_events(client)
        rest = client.get("/api/v1/events", {"after": events[1]["id"]}).json()["results"]
    assert [e["id"] for e in rest] == [e["id"] for e in events[2:]]


def test_an_event_appears_once_its_transaction_can_no_longer_be_overtaken(product, key_a, settings):
    settings.EVENTS_FEED_DELAY = timedelta(seconds=5)
    client = client_with(key_a)
    with time_machine.travel(START, tick=False) as clock:
        submit(product)
        assert client.get("/api/v1/events").json()["results"] == []
        clock.shift(timedelta(seconds=5))
        assert len(client.get("/api/v1/events").json()["results"]) == WebhookEvent.objects.count() > 0


def test_another_platforms_events_are_neither_listed_nor_usable_to_resume(history, key_b):
    client = client_with(key_b)
    with time_machine.travel(LATER):
        assert client.get("/api/v1/events").json()["results"] == []
        response = client.get("/api/v1/events", {"after": str(WebhookEvent.objects.first().public_id)})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "event_not_found"


def test_a_malformed_after_is_a_400_naming_it(key_a):
    response = client_with(key_a).get("/api/v1/events", {"after": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["param"] == "after"


def test_a_key_without_the_read_scope_cannot_list_events(platform_a):
    key = api_key_issue(platform=platform_a, name="hooks only", scopes=["webhooks"])[1]
    assert client_with(key).get("/api/v1/events").status_code == 403
