"""Syncing applications with ?ordering=updated_at: every change is seen at least once."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from refunds.models import RefundApplication
from refunds.services import Actor, application_withdraw
from tests.factories import submit

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def client_with(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def withdraw(application):
    application_withdraw(application_id=application.public_id, actor=Actor.system(), reason="changed mind")


def walk(client, url, *, between_pages=lambda page: None):
    """Follow the next links to the end, upserting each application by id, as a mirror would."""
    mirror, page = {}, 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        for application in response.json()["results"]:
            mirror[application["id"]] = application
        page += 1
        url = response.json()["next"]
        if url:
            between_pages(page)
    return mirror


def final_states():
    return {str(a.public_id): a.state for a in RefundApplication.objects.all()}


def test_a_walk_with_concurrent_updates_sees_every_application_in_its_final_state(product, key_a):
    with time_machine.travel(START, tick=False) as clock:
        applications = []
        for i in range(9):
            applications.append(submit(product, order_ref=f"order-{i}"))
            clock.shift(timedelta(seconds=1))

        def meanwhile(page):
            # After the first page (rows 0-2 passed): change a row already passed and rows
            # not yet reached, one of them on the very next page.
            clock.shift(timedelta(seconds=1))
            if page == 1:
                withdraw(applications[1])
                withdraw(applications[4])
                withdraw(applications[8])
            if page == 2:
                withdraw(applications[0])
                withdraw(applications[6])

        mirror = walk(
            client_with(key_a), "/api/v1/applications?ordering=updated_at&page_size=3", between_pages=meanwhile
        )

    assert {id_: a["state"] for id_, a in mirror.items()} == final_states()
    assert [mirror[str(applications[i].public_id)]["state"] for i in (0, 1, 4, 6, 8)] == ["withdrawn"] * 5


def test_applications_changed_in_the_same_instant_are_each_seen_once(product, key_a):
    with time_machine.travel(START, tick=False):
        applications = [submit(product, order_ref=f"order-{i}") for i in range(5)]
    seen = []
    url = "/api/v1/applications?ordering=updated_at&page_size=2"
    client = client_with(key_a)
    while url:
        body = client.get(url).json()
        seen += [a["id"] for a in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(str(a.public_id) for a in applications)
    assert len(seen) == len(set(seen))


def test_a_sync_resumes_with_updated_after_and_sees_what_changed_since(product, key_a):
    with time_machine.travel(START, tick=False) as clock:
        quiet, changed = submit(product, order_ref="quiet"), submit(product, order_ref="changed")
        clock.shift(timedelta(minutes=10))
        withdraw(changed)
    since = (START + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    body = client_with(key_a).get("/api/v1/applications", {"ordering": "updated_at", "updated_after": since}).json()
    assert [a["id"] for a in body["results"]] == [str(changed.public_id)]
    assert str(quiet.public_id) not in {a["id"] for a in body["results"]}


def test_a_newest_first_walk_of_changes_is_refused_with_a_code_that_says_why(key_a):
    response = client_with(key_a).get("/api/v1/applications?ordering=-updated_at")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ordering_not_walkable"
    assert "updated_at" in error["details"]["allowed"]


def test_previous_links_walk_back_over_the_same_rows(product, key_a):
    with time_machine.travel(START, tick=False):
        applications = [submit(product, order_ref=f"order-{i}") for i in range(5)]
    client = client_with(key_a)
    first = client.get("/api/v1/applications?ordering=updated_at&page_size=2").json()
    second = client.get(first["next"]).json()
    back = client.get(second["previous"]).json()
    assert [a["id"] for a in back["results"]] == [a["id"] for a in first["results"]]
    assert back["previous"] is None
    assert len({a["id"] for a in first["results"] + second["results"]}) == 4 < len(applications)


def test_a_cursor_names_the_last_row_by_its_public_id_not_its_database_key(product, key_a):
    import base64
    from urllib.parse import parse_qs, urlsplit

    applications = [submit(product, order_ref=f"order-{i}") for i in range(2)]
    body = client_with(key_a).get("/api/v1/applications?ordering=updated_at&page_size=1").json()
    cursor = parse_qs(urlsplit(body["next"]).query)["cursor"][0]
    position = parse_qs(base64.b64decode(cursor).decode())["p"][0]
    updated_at, key = json.loads(position)
    assert key == body["results"][0]["id"] == str(applications[0].public_id)
