"""The reviewers' appeals queue: open appeals oldest first; claiming and deciding through the
appeal services, with their refusals shown on the page."""

import pytest
from django.urls import reverse

from refunds.models import Appeal, AppealDecision, Decision
from refunds.services import Actor, appeal_withdraw
from refunds.states import AppealState
from tests.refunds.appeal_builders import buyer_appeal, rejected_by

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:refunds_appeal_changelist")


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def page(appeal):
    return reverse("admin:refunds_appeal_change", args=[appeal.pk])


def test_the_queue_shows_open_appeals_and_closed_ones_on_request(client, product, reviewer, second_reviewer):
    open_one = buyer_appeal(rejected_by(reviewer, product))
    closed = buyer_appeal(rejected_by(reviewer, product, buyer_ref="buyer-2"))
    appeal_withdraw(appeal_id=closed.public_id, actor=Actor.system())
    client.force_login(second_reviewer)
    body = client.get(QUEUE).content.decode()
    assert str(open_one.public_id)[:8] in body and str(closed.public_id)[:8] not in body
    assert str(closed.public_id)[:8] in client.get(QUEUE + "?status=closed").content.decode()


def test_another_reviewer_claims_and_upholds_from_the_appeals_page(client, product, reviewer, second_reviewer):
    appeal = buyer_appeal(rejected_by(reviewer, product))
    client.force_login(second_reviewer)
    shown = client.get(page(appeal)).content.decode()
    assert "Decide the appeal" in shown and appeal.statement in shown
    response = client.post(reverse("admin:refunds_appeal_claim", args=[appeal.pk]), follow=True)
    assert "You hold this appeal." in response.content.decode()
    response = client.post(
        reverse("admin:refunds_appeal_decide", args=[appeal.pk]),
        {"verdict": "upheld", "note": "The photo is the catalogue's."},
        follow=True,
    )
    assert "The appeal is decided." in response.content.decode()
    assert Appeal.objects.get(pk=appeal.pk).state == AppealState.UPHELD


def test_the_reviewer_who_decided_is_told_another_must_decide(client, product, reviewer):
    appeal = buyer_appeal(rejected_by(reviewer, product))
    client.force_login(reviewer)
    response = client.post(reverse("admin:refunds_appeal_claim", args=[appeal.pk]), follow=True)
    assert "another reviewer must decide its appeal" in response.content.decode()
    response = client.post(
        reverse("admin:refunds_appeal_decide", args=[appeal.pk]), {"verdict": "upheld", "note": "Mine stands."}
    )
    assert "another reviewer must decide its appeal" in response.content.decode()
    assert not AppealDecision.objects.exists()


def test_a_senior_overturns_and_the_original_decision_stays(client, product, reviewer, senior_reviewer):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    client.force_login(senior_reviewer)
    client.post(
        reverse("admin:refunds_appeal_decide", args=[appeal.pk]),
        {"verdict": "overturned", "outcome": "approved", "reason_codes": ["evidence_consistent"], "note": "Seen."},
    )
    ruling = AppealDecision.objects.get()
    assert ruling.overturns == Decision.objects.get(application=application) and ruling.outcome == "approved"
    assert Decision.objects.get(application=application).outcome == "rejected"
    assert "Overturned by senior" in client.get(page(appeal)).content.decode()


def test_an_auditor_reads_the_queue_but_neither_claims_nor_decides(client, product, reviewer, auditor):
    appeal = buyer_appeal(rejected_by(reviewer, product))
    client.force_login(auditor)
    assert client.get(QUEUE).status_code == 200
    shown = client.get(page(appeal)).content.decode()
    assert 'id="appeal-claim"' not in shown and 'id="appeal-decide"' not in shown
    response = client.post(
        reverse("admin:refunds_appeal_decide", args=[appeal.pk]), {"verdict": "upheld", "note": "x"}, follow=True
    )
    assert "You do not have permission to do this." in response.content.decode()
    assert Appeal.objects.get(pk=appeal.pk).state == AppealState.FILED
