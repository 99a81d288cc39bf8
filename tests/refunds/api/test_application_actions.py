"""Listing applications and acting on them through the API."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from refunds.models import RefundApplication
from tests.factories import CUP, jpeg, screen, submit, upload
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db


def test_the_list_shows_only_the_platforms_applications_newest_first(product, product_b, key_a):
    older = submit(product, buyer_ref="older")
    newer = submit(product, buyer_ref="newer")
    submit(product_b)
    body = client_with(key_a).get("/api/v1/applications").json()
    assert [a["id"] for a in body["results"]] == [str(newer.public_id), str(older.public_id)]


def test_the_list_filters_by_state_risk_and_time(product, key_a):
    clean = screen(submit(product, evidence=[jpeg(seed=1)]))
    forged = screen(submit(product, evidence=[CUP], buyer_ref="b2"))
    pending = submit(product, evidence=[jpeg(seed=2)], buyer_ref="b3")
    client = client_with(key_a)

    def ids(query):
        response = client.get(f"/api/v1/applications?{query}")
        assert response.status_code == 200, response.json()
        return {a["id"] for a in response.json()["results"]}

    assert ids("state=submitted") == {str(pending.public_id)}
    assert ids("risk_level=forged") == {str(forged.public_id)}
    assert ids("risk_level=clean&risk_level=forged") == {str(clean.public_id), str(forged.public_id)}
    assert ids(f"merchant={product.merchant.public_id}&buyer_ref=b2") == {str(forged.public_id)}
    later = (timezone.now() + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"created_after={later}") == set()


def test_a_bad_filter_value_is_a_clear_error(key_a):
    response = client_with(key_a).get("/api/v1/applications?state=lost")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["param"] == "state"


def test_the_cursor_walks_every_application_once(product, key_a):
    made = {str(submit(product, buyer_ref=f"b{i}", evidence=[jpeg(seed=i)]).public_id) for i in range(5)}
    client, seen, url = client_with(key_a), [], "/api/v1/applications?page_size=2"
    while url:
        body = client.get(url).json()
        seen += [a["id"] for a in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(made)


def test_the_platform_withdraws_an_open_application(product, key_a):
    application = submit(product)
    response = client_with(key_a).post(
        f"/api/v1/applications/{application.public_id}/withdraw", {"reason": "buyer cancelled"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["state"] == "withdrawn"
    again = client_with(key_a).post(f"/api/v1/applications/{application.public_id}/withdraw", {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"


def test_the_merchant_accepts_through_the_platform(product, key_a):
    application = screen(submit(product))
    response = client_with(key_a).post(f"/api/v1/applications/{application.public_id}/accept")
    assert response.status_code == 200
    assert response.json()["decision"]["actor_kind"] == "merchant"


def test_the_merchant_contests_with_a_packing_photo(product, key_a):
    application = screen(submit(product))
    response = client_with(key_a).post(
        f"/api/v1/applications/{application.public_id}/contest",
        {"statement": "Packed intact, see photo.", "attachments": [upload(jpeg(seed=5), "packing.jpg")]},
        format="multipart",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "in_review"


def test_the_merchant_contests_with_the_reasons_the_portal_offers(product, key_a):
    application = screen(submit(product))
    client = client_with(key_a)
    url = f"/api/v1/applications/{application.public_id}/contest"
    unknown = client.post(url, {"statement": "Edited.", "reason_codes": ["because"]}, format="json")
    assert unknown.status_code == 400 and unknown.json()["error"]["details"]["param"] == "reason_codes"
    response = client.post(url, {"statement": "Edited.", "reason_codes": ["evidence_edited"]}, format="json")
    assert response.status_code == 200, response.json()
    assert RefundApplication.objects.get(pk=application.pk).rebuttal.reason_codes == ["evidence_edited"]


def test_a_contest_after_the_deadline_is_refused(product, key_a):
    application = screen(submit(product))
    with time_machine.travel(application.merchant_deadline + timedelta(seconds=1)):
        response = client_with(key_a).post(
            f"/api/v1/applications/{application.public_id}/contest", {"statement": "late"}, format="multipart"
        )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "deadline_passed"
    assert RefundApplication.objects.get(pk=application.pk).state == "awaiting_merchant"


def test_another_platform_cannot_act_on_the_application(product, key_b):
    application = screen(submit(product))
    for action in ("withdraw", "accept"):
        assert client_with(key_b).post(f"/api/v1/applications/{application.public_id}/{action}").status_code == 404
    assert RefundApplication.objects.get(pk=application.pk).state == "awaiting_merchant"


def test_the_audit_log_is_readable_with_its_hashes(product, key_a):
    application = screen(submit(product))
    events = client_with(key_a).get(f"/api/v1/applications/{application.public_id}/audit-events").json()
    assert [e["action"] for e in events] == ["submit", "screen", "open_window"]
    assert events[1]["prev_hash"] == events[0]["hash"]


@pytest.mark.parametrize("path", ["/api/v1/schema/", "/api/v1/docs/", "/api/v1/redoc/"])
def test_the_api_documentation_is_served_without_a_key(client, path):
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "value", ["3569-01-11T18:00:30-17:40", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-14:00"]
)
def test_odd_but_valid_times_in_filters_are_compared_in_utc_or_refused(key_a, value):
    from urllib.parse import quote

    response = client_with(key_a).get(f"/api/v1/applications?updated_before={quote(value)}")
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json()["error"]["details"]["param"] == "updated_before"
