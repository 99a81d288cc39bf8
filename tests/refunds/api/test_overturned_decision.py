"""GET /applications/{id}: a decision an appeal overturned stays as it was made, says so, and
names the decision that replaced it."""

from decimal import Decimal

import pytest

from refunds import services
from tests.refunds.api.test_applications import client_with
from tests.refunds.appeal_builders import buyer_appeal, overturn, rejected_by

pytestmark = pytest.mark.django_db


def test_the_application_shows_its_decision_overturned_and_the_one_that_replaced_it(
    product, reviewer, senior_reviewer, key_a
):
    application = rejected_by(reviewer, product)
    client = client_with(key_a)
    before = client.get(f"/api/v1/applications/{application.public_id}").json()["decision"]
    assert before["overturned"] is False and before["replaced_by"] is None

    appeal = buyer_appeal(application)
    overturn(
        appeal,
        senior_reviewer,
        "partially_approved",
        ["partial_damage"],
        approved_amount=Decimal("20.00"),
        note="Only the handle is cracked.",
    )
    body = client.get(f"/api/v1/applications/{application.public_id}").json()
    decision = body["decision"]
    # The original, as it was made.
    assert {k: decision[k] for k in ("outcome", "approved_amount", "reason_codes", "decided_at")} == {
        k: before[k] for k in ("outcome", "approved_amount", "reason_codes", "decided_at")
    }
    assert decision["overturned"] is True
    replaced = decision["replaced_by"]
    assert replaced["appeal"] == str(appeal.public_id)
    assert (replaced["outcome"], replaced["approved_amount"], replaced["currency"]) == (
        "partially_approved",
        "20.00",
        "CNY",
    )
    assert replaced["reason_codes"] == ["partial_damage"] and replaced["explanation"] == "Only the handle is cracked."
    listed = client.get("/api/v1/applications").json()["results"][0]["decision"]
    assert listed == decision
    appealed = client.get(f"/api/v1/applications/{application.public_id}/appeals/{appeal.public_id}").json()
    assert appealed["appealed_decision"]["overturned"] is True


def test_an_upheld_decision_is_not_overturned(product, reviewer, second_reviewer, key_a):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    services.appeal_decide(appeal_id=appeal.public_id, reviewer=second_reviewer, verdict="upheld", note="Stands.")
    decision = client_with(key_a).get(f"/api/v1/applications/{application.public_id}").json()["decision"]
    assert decision["overturned"] is False and decision["replaced_by"] is None


def test_the_schema_names_the_fields_and_shows_an_overturned_example(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    decision = schema["components"]["schemas"]["Decision"]["properties"]
    assert {"overturned", "replaced_by"} <= set(decision)
    operation = schema["paths"]["/api/v1/applications/{public_id}"]["get"]
    examples = operation["responses"]["200"]["content"]["application/json"]["examples"]
    (example,) = examples.values()
    assert example["value"]["decision"]["overturned"] is True
