"""A buyer's record: in the policy (no automatic approval for a buyer with forged claims), through
the API with its reasons, and the linked claims a platform can list."""

from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from refunds import selectors, services
from refunds.models import Policy
from refunds.services import Actor
from refunds.services.platform import api_key_issue
from refunds.states import ActorKind, ApplicationState, BuyerRiskReason, RiskLevel
from tests.factories import CUP, GENUINE_CUP, jpeg, screen, submit

pytestmark = pytest.mark.django_db


def client_with(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def set_policy(platform, **values):
    Policy.objects.filter(platform=platform).update(**values)


def refunded_forgery(product, merchant_owner, *, buyer_ref, amount):
    """A forged claim (the catalogue photo sent back) that the merchant nevertheless accepted."""
    application = screen(submit(product, evidence=[CUP], buyer_ref=buyer_ref, amount=amount))
    assert application.risk_level == RiskLevel.FORGED
    services.application_accept(
        application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
    )
    return application


def test_a_buyer_with_a_forged_claim_gets_no_fast_track_and_the_audit_says_why(product, merchant_owner):
    set_policy(product.merchant.platform, fast_track_enabled=True, fast_track_ceiling=Decimal("50.00"))
    refunded_forgery(product, merchant_owner, buyer_ref="buyer-1", amount="20.00")
    application = screen(submit(product, buyer_ref="buyer-1", amount="10.00"))
    assert application.risk_level == RiskLevel.CLEAN
    assert application.state == ApplicationState.AWAITING_MERCHANT
    event = application.audit_events.get(action="open_window")
    assert event.payload["buyer_risk"] == [BuyerRiskReason.FORGED_BEFORE]
    assert "[forged_before]" in event.reason


def test_another_buyers_forgery_does_not_hold_a_clean_claim(product, merchant_owner):
    set_policy(product.merchant.platform, fast_track_enabled=True, fast_track_ceiling=Decimal("50.00"))
    refunded_forgery(product, merchant_owner, buyer_ref="buyer-1", amount="20.00")
    application = screen(submit(product, buyer_ref="buyer-2", amount="10.00"))
    assert application.state == ApplicationState.DECIDED


def test_the_policy_may_let_buyer_risk_inform_without_holding(product, merchant_owner):
    set_policy(
        product.merchant.platform,
        fast_track_enabled=True,
        fast_track_ceiling=Decimal("50.00"),
        buyer_risk_holds_for_review=False,
    )
    refunded_forgery(product, merchant_owner, buyer_ref="buyer-1", amount="20.00")
    assert screen(submit(product, buyer_ref="buyer-1", amount="10.00")).state == ApplicationState.DECIDED


def test_a_closing_window_sends_a_risky_buyers_clean_claim_to_people(product, merchant_owner):
    refunded_forgery(product, merchant_owner, buyer_ref="buyer-1", amount="20.00")
    application = screen(submit(product, buyer_ref="buyer-1"))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW
    assert application.audit_events.get(action="window_expired_review").payload == {"buyer_risk": ["forged_before"]}


def test_refunds_on_forged_claims_at_the_alert_amount_are_a_reason_of_their_own(product, merchant_owner):
    refunded_forgery(product, merchant_owner, buyer_ref="buyer-1", amount="2000.00")
    below = selectors.buyer_risk(platform=product.merchant.platform, buyer_ref="buyer-1")
    assert not below.at_alert_amount and below.refunded_on_forged == {"CNY": Decimal("2000.00")}
    refunded_forgery(product, merchant_owner, buyer_ref="buyer-1", amount="1000.00")
    risk = selectors.buyer_risk(platform=product.merchant.platform, buyer_ref="buyer-1")
    assert risk.at_alert_amount and risk.refunded_on_forged == {"CNY": Decimal("3000.00")}
    assert BuyerRiskReason.REFUNDED_ON_FORGED_OVER_ALERT in [r.code for r in risk.reasons]
    assert "3000.00 CNY" in risk.reasons[1].message


def test_amounts_of_two_currencies_are_never_added(product, merchant_owner):
    refunded_forgery(product, merchant_owner, buyer_ref="buyer-1", amount="2500.00")
    screen(submit(product, buyer_ref="buyer-1", amount="900.00", currency="USD", evidence=[CUP]))
    risk = selectors.buyer_risk(platform=product.merchant.platform, buyer_ref="buyer-1")
    assert risk.claimed == {"CNY": Decimal("2500.00"), "USD": Decimal("900.00")}
    assert not risk.at_alert_amount


def test_the_api_gives_a_buyers_record_with_its_reasons(product, merchant_owner, key_a):
    refunded_forgery(product, merchant_owner, buyer_ref="buyer-1", amount="20.00")
    screen(submit(product, buyer_ref="buyer-1", amount="5.50"))
    body = client_with(key_a).get("/api/v1/buyers/buyer-1").json()
    assert body["applications"] == 2 and body["forged"] == 1 and body["open"] == 1
    assert body["outcomes"]["approved"] == 1
    assert body["claimed"] == [{"amount": "25.50", "currency": "CNY"}]
    assert body["refunded_on_forged"] == [{"amount": "20.00", "currency": "CNY"}]
    assert body["alert_amount"] == {"amount": "3000.00", "currency": "CNY"}
    assert body["holds_automatic_approval"] is True
    assert [r["code"] for r in body["reasons"]] == ["forged_before"]


def test_a_buyer_of_another_platform_is_not_found(product, product_b, key_a, key_b):
    screen(submit(product_b, buyer_ref="buyer-b"))
    response = client_with(key_a).get("/api/v1/buyers/buyer-b")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert client_with(key_b).get("/api/v1/buyers/buyer-b").status_code == 200


def test_the_api_lists_a_group_of_linked_claims_to_its_platform_only(product, key_a, key_b):
    first = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first", amount="10.00"))
    second = screen(submit(product, evidence=[jpeg(seed=3), GENUINE_CUP], buyer_ref="second", amount="20.00"))
    detail = client_with(key_a).get(f"/api/v1/applications/{second.public_id}").json()
    group_id = detail["linked_claims"]
    assert group_id
    body = client_with(key_a).get(f"/api/v1/claim-groups/{group_id}").json()
    assert [a["id"] for a in body["applications"]] == [str(first.public_id), str(second.public_id)]
    assert body["claimed"] == [{"amount": "30.00", "currency": "CNY"}]
    assert body["links"] == [
        {
            "application": str(second.public_id),
            "earlier_application": str(first.public_id),
            "kind": "same_file",
            "distance": 0,
            "points": 0,
        }
    ]
    assert client_with(key_b).get(f"/api/v1/claim-groups/{group_id}").status_code == 404
    assert client_with(key_a).get("/api/v1/claim-groups/not-a-uuid").status_code == 404


def test_a_policy_refuses_a_bad_alert_currency(platform_a):
    key = api_key_issue(platform=platform_a, name="ops", scopes=["policy"])[1]
    response = client_with(key).patch("/api/v1/policy", {"buyer_alert_currency": "cny"}, format="json")
    assert response.status_code == 400
    assert "buyer_alert_currency" in str(response.json())
