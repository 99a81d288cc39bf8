"""GET /statistics/reviewers: per reviewer, the second reviews that agreed, the appeals that
overturned and the time to decide, and the overturn rate per risk level; each platform's key
sees its own decisions only, with reviewers under that platform's pseudonyms."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from refunds import services
from refunds.models import QAReview
from refunds.services import Actor
from refunds.services.platform import api_key_issue, policy_update
from tests.refunds.api.test_applications import client_with
from tests.refunds.appeal_builders import buyer_appeal, overturn, rejected_by

pytestmark = pytest.mark.django_db

URL = "/api/v1/statistics/reviewers"


def second_review(application, reviewer, outcome="rejected", reasons=("evidence_derived",)):
    review = QAReview.objects.get(application=application)
    services.qa_review_claim(qa_review_id=review.public_id, reviewer=reviewer)
    services.qa_review_record(
        qa_review_id=review.public_id, reviewer=reviewer, outcome=outcome, reason_codes=list(reasons), note="Mine."
    )


@pytest.fixture
def decided_on_a(platform_a, product, reviewer, second_reviewer, senior_reviewer):
    """The reviewer rejects two claims on platform A; the second reviewer agrees with one and not the
    other, whose rejection the senior overturns on the buyer's appeal."""
    policy_update(platform=platform_a, changes={"qa_sample_rate": Decimal("1")}, actor=Actor.system())
    agreed = rejected_by(reviewer, product, order_ref="order-agreed")
    second_review(agreed, second_reviewer)
    disputed = rejected_by(reviewer, product, order_ref="order-disputed")
    second_review(disputed, second_reviewer, outcome="approved", reasons=["evidence_consistent"])
    appeal = buyer_appeal(disputed)
    overturn(appeal, senior_reviewer, note="The courier's photo shows the crack.")
    return agreed, disputed


def test_the_operations_team_reads_each_reviewers_agreement_overturns_and_time_to_decide(decided_on_a, key_a):
    response = client_with(key_a).get(URL)
    assert response.status_code == 200, response.json()
    body = response.json()
    (row,) = body["reviewers"]
    assert row["decisions"] == 2
    assert (row["qa_reviewed"], row["qa_agreed"], row["qa_agreement_rate"]) == (2, 1, 0.5)
    assert (row["appealed"], row["overturned"], row["overturn_rate"]) == (1, 1, 1.0)
    assert row["median_seconds_to_decide"] is not None and row["median_seconds_to_decide"] >= 0
    risks = {r["risk_level"]: r for r in body["risk_levels"]}
    assert set(risks) == {"clean", "suspicious", "forged"}
    assert (risks["forged"]["decisions"], risks["forged"]["overturned"], risks["forged"]["overturn_rate"]) == (
        2,
        1,
        1.0,
    )
    assert risks["clean"]["overturn_rate"] is None


def test_reviewers_appear_under_a_pseudonym_of_the_platforms_own(decided_on_a, key_a, key_b, product_b, reviewer):
    (row,) = client_with(key_a).get(URL).json()["reviewers"]
    assert row["reviewer"].startswith("rv_") and "reviewer" not in row["reviewer"]
    assert client_with(key_a).get(URL).json()["reviewers"][0]["reviewer"] == row["reviewer"]
    rejected_by(reviewer, product_b)
    (on_b,) = client_with(key_b).get(URL).json()["reviewers"]
    assert on_b["reviewer"] != row["reviewer"]


def test_a_key_sees_only_its_own_platforms_decisions(decided_on_a, key_b):
    body = client_with(key_b).get(URL).json()
    assert body["reviewers"] == []
    assert all(r["decisions"] == 0 for r in body["risk_levels"])


def test_the_period_counts_the_decisions_made_within_it(decided_on_a, key_a):
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    body = client_with(key_a).get(URL, {"since": later, "until": (timezone.now() + timedelta(days=2)).isoformat()})
    assert body.status_code == 200 and body.json()["reviewers"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"since": "2026-11-01T00:00:00"},  # no offset
        {"since": "2026-13-45T00:00:00Z"},
        {"until": "2026-11-31T00:00:00+08:00"},
    ],
)
def test_a_bad_period_is_refused_with_the_parameter_named(key_a, params):
    response = client_with(key_a).get(URL, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter" and error["details"]["param"] in {"since", "until"}


def test_a_period_ending_before_it_starts_is_empty_and_a_long_one_counts_its_last_year(decided_on_a, key_a):
    client = client_with(key_a)
    now = timezone.now()
    empty = client.get(URL, {"since": (now + timedelta(days=1)).isoformat(), "until": now.isoformat()})
    assert empty.status_code == 200 and empty.json()["reviewers"] == []
    long = client.get(URL, {"since": "2001-01-01T00:00:00Z", "until": (now + timedelta(hours=1)).isoformat()})
    assert long.status_code == 200 and long.json()["reviewers"][0]["decisions"] == 2
    assert long.json()["since"] > "2025-"
    early = client.get(URL, {"until": "0001-01-02T00:00:00Z"})
    assert early.status_code == 200 and early.json()["reviewers"] == []
    # Offsets the database would refuse, and the calendar's edges, are read in UTC.
    for until in ("0499-12-05T16:39:34+21:55", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"):
        assert client.get(URL, {"until": until}).status_code == 200, until


def test_the_figures_need_the_read_scope(platform_a):
    write_only = api_key_issue(platform=platform_a, name="w", scopes=["write"])[1]
    assert client_with(write_only).get(URL).status_code == 403


def test_the_schema_documents_the_figures(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/statistics/reviewers"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"since", "until"}
    figures = schema["components"]["schemas"]["ReviewerFigures"]["properties"]
    assert {"qa_agreement_rate", "overturn_rate", "median_seconds_to_decide"} <= set(figures)
    assert "qa_sample_rate" in schema["components"]["schemas"]["Policy"]["properties"]
