"""The merchant appeals a decision in the portal within the window, sees where the appeal
stands, and may withdraw it; another shop finds none of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from refunds import services
from refunds.models import Appeal, Decision
from refunds.services import Actor
from refunds.states import ActorKind, AppealState
from tests.factories import jpeg
from tests.refunds.appeal_builders import approved_by, buyer_appeal, overturn, rejected_by

pytestmark = pytest.mark.django_db


def appeal_form(**overrides):
    form = {
        "reason_codes": ["evidence_misread"],
        "statement": "The crack in the buyer's photo is a reflection.",
        "confirm": "on",
        "attachments": [SimpleUploadedFile("shelf.jpg", jpeg(seed=7))],
    }
    form.update(overrides)
    return form


def page(client, application):
    return client.get(f"/portal/applications/{application.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_owner_appeals_an_approval_and_sees_the_appeal_decided(
    owner_client, product, reviewer, second_reviewer, merchant_owner
):
    application = approved_by(reviewer, product)
    assert "Appeal this decision" in page(owner_client, application)
    url = f"/portal/applications/{application.public_id}/appeal/"
    assert owner_client.get(url).status_code == 200
    response = owner_client.post(url, appeal_form(), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    appeal = Appeal.objects.get()
    assert appeal.side == "merchant" and appeal.filed_by == merchant_owner
    (attachment,) = appeal.attachments.all()
    assert owner_client.get(f"/files/appeal/{attachment.public_id}")["Content-Type"] == "image/jpeg"
    shown = page(owner_client, application)
    assert "Your appeal was sent." in shown and "Filed" in shown and "Appeal this decision" not in shown

    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    services.appeal_decide(
        appeal_id=appeal.public_id, reviewer=second_reviewer, verdict="upheld", note="The crack is in the glaze."
    )
    shown = page(owner_client, application)
    assert "The decision was upheld." in shown and "The crack is in the glaze." in shown


def test_after_an_overturn_the_response_section_leads_with_what_applies_now(
    owner_client, product, reviewer, second_reviewer
):
    application = approved_by(reviewer, product)
    appeal = services.appeal_file(
        application_id=application.public_id,
        side="merchant",
        actor=Actor(ActorKind.MERCHANT, None, "owner"),
        statement="The buyer's photo is our catalogue photo.",
        reason_codes=["evidence_misread"],
    )
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    overturn(appeal, second_reviewer, "rejected", ["evidence_derived"])
    shown = page(owner_client, application)
    summary = shown[shown.index('id="decision"') :]
    summary = summary[: summary.index("</p>")]
    assert summary.index("Overturned on appeal: Rejected") < summary.index("The original decision: Approved")


def test_an_appeal_without_a_statement_or_confirmation_is_a_form_error(owner_client, product, reviewer):
    application = approved_by(reviewer, product)
    url = f"/portal/applications/{application.public_id}/appeal/"
    response = owner_client.post(url, appeal_form(statement="", confirm=""), HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 400 and "Explain why you appeal the decision." in body and "Tick the box" in body
    assert not Appeal.objects.exists()


def test_after_the_window_the_page_says_so_and_a_post_is_refused(owner_client, product, reviewer):
    application = approved_by(reviewer, product)
    # The decision a month old (the login would not last a month of frozen time).
    Decision.objects.filter(pk=application.decision.pk).update(decided_at=timezone.now() - timedelta(days=30))
    shown = page(owner_client, application)
    assert "Appeal this decision</a>" not in shown and "The appeal window closed at" in shown
    response = owner_client.post(
        f"/portal/applications/{application.public_id}/appeal/", appeal_form(), HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 409 and "The appeal window closed at" in response.content.decode()
    assert not Appeal.objects.exists()


def test_a_decision_that_went_the_shops_way_offers_no_appeal(owner_client, product, reviewer):
    application = rejected_by(reviewer, product)
    assert "Appeal this decision" not in page(owner_client, application)
    response = owner_client.get(f"/portal/applications/{application.public_id}/appeal/", HTTP_ACCEPT_LANGUAGE="en")
    assert "nothing to appeal" in response.content.decode()


def test_the_owner_withdraws_the_shops_appeal_but_not_the_buyers(owner_client, product, reviewer):
    approved = approved_by(reviewer, product)
    owner_client.post(f"/portal/applications/{approved.public_id}/appeal/", appeal_form())
    appeal = Appeal.objects.get()
    response = owner_client.post(f"/portal/applications/{approved.public_id}/appeals/{appeal.public_id}/withdraw/")
    assert response.status_code == 302
    assert Appeal.objects.get(pk=appeal.pk).state == AppealState.WITHDRAWN

    rejected = rejected_by(reviewer, product, buyer_ref="buyer-2")
    buyers = buyer_appeal(rejected)
    response = owner_client.post(f"/portal/applications/{rejected.public_id}/appeals/{buyers.public_id}/withdraw/")
    assert response.status_code == 404
    assert Appeal.objects.get(pk=buyers.pk).state == AppealState.FILED


def test_another_shop_finds_neither_the_appeal_form_nor_the_appeal(client, other_owner, product, reviewer):
    application = approved_by(reviewer, product)
    appeal = buyer_appeal(rejected_by(reviewer, product, buyer_ref="buyer-2"))
    client.force_login(other_owner)
    assert client.get(f"/portal/applications/{application.public_id}/appeal/").status_code == 404
    assert client.post(f"/portal/applications/{application.public_id}/appeal/", appeal_form()).status_code == 404
    withdraw = f"/portal/applications/{appeal.application.public_id}/appeals/{appeal.public_id}/withdraw/"
    assert client.post(withdraw).status_code == 404
    assert not Appeal.objects.filter(side="merchant").exists()
