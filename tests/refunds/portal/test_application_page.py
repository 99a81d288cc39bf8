"""The application page: the claim, the buyer's photos with what screening found in plain words,
the heat-map beside the matched catalogue photo, and the timeline."""

from __future__ import annotations

import re

import pytest
import time_machine

from tests.factories import CUP, screen, submit

pytestmark = pytest.mark.django_db


def test_a_forged_photo_is_explained_beside_the_heat_map_and_the_catalogue_photo(owner_client, forged):
    evidence = forged.evidence.get()
    finding = evidence.screening.findings.exclude(artifact="").get()
    reference = forged.product.reference_images.get()
    page = owner_client.get(f"/portal/applications/{forged.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "This photo appears to be derived from your catalogue photo No. 1." in page
    # Said once, naming the photo: not again in the finding's general words.
    assert "is one of your reference photos, transformed" not in page
    assert "The marked area was changed" in page
    # Its technical details name each finding in words, never by its code.
    assert "<strong>Local edits</strong>" in page and "<code>local_edit</code>" not in page
    for url in (
        f"/files/evidence/{evidence.public_id}",
        f"/files/heatmap/{finding.public_id}",
        f"/files/reference/{reference.public_id}",
    ):
        assert url in page
        assert owner_client.get(url).status_code == 200


def test_the_heat_map_says_what_it_boxes_with_a_legend(owner_client, forged, product):
    page = owner_client.get(f"/portal/applications/{forged.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r"Heat-map: \d+ changed areas? boxed", page)
    assert "blue: the same as your photo" in page
    copy = screen(submit(product, order_ref="order-copy", evidence=[CUP]))
    assert not copy.evidence.get().screening.findings.filter(code="local_edit").exists()
    page = owner_client.get(f"/portal/applications/{copy.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "/files/heatmap/" in page and "Heat-map: no area differs from your photo" in page
    assert not re.search(r"Heat-map: \d+ changed", page)


def test_the_page_speaks_chinese_by_default(owner_client, forged):
    page = owner_client.get(f"/portal/applications/{forged.public_id}/").content.decode()
    assert '<html lang="zh-hans">' in page
    assert "这张照片似乎由您的第 1 张商品图加工而来。" in page


def test_a_clean_photo_says_screening_found_nothing(owner_client, awaiting):
    page = owner_client.get(f"/portal/applications/{awaiting.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Screening found no sign that this photo was copied or edited." in page
    assert "/files/heatmap/" not in page


def test_the_timeline_tells_the_story_without_naming_staff(owner_client, forged):
    page = owner_client.get(f"/portal/applications/{forged.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    story = ["The buyer asked for a refund", "The photos were screened", "Your response window opened"]
    positions = [page.index(text) for text in story]
    assert positions == sorted(positions)


def test_the_timeline_leaves_out_the_staffs_second_review(owner_client, forged, senior_reviewer, second_reviewer):
    from decimal import Decimal

    from refunds import services
    from refunds.models import QAReview
    from refunds.services import Actor
    from refunds.services.platform import policy_update

    policy_update(platform=forged.platform, changes={"qa_sample_rate": Decimal("1")}, actor=Actor.system())
    with time_machine.travel(forged.merchant_deadline):
        services.close_expired_windows()
    services.application_decide(
        application_id=forged.public_id,
        reviewer=senior_reviewer,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Derived.",
    )
    review = QAReview.objects.get(application=forged)
    services.qa_review_claim(qa_review_id=review.public_id, reviewer=second_reviewer)
    page = owner_client.get(f"/portal/applications/{forged.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "A reviewer decided" in page
    assert "second review" not in page.lower()


def test_the_page_offers_both_answers_while_the_window_is_open(owner_client, awaiting):
    page = owner_client.get(f"/portal/applications/{awaiting.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/portal/applications/{awaiting.public_id}/accept/" in page
    assert f"/portal/applications/{awaiting.public_id}/contest/" in page


def test_a_decision_for_another_reason_shows_the_reviewers_explanation(owner_client, forged, senior_reviewer, key_a):
    from rest_framework.test import APIClient

    from refunds import services

    with time_machine.travel(forged.merchant_deadline):
        services.close_expired_windows()
    services.application_decide(
        application_id=forged.public_id,
        reviewer=senior_reviewer,
        outcome="rejected",
        reason_codes=["other"],
        note="The parcel was never opened, per the courier.",
    )
    page = owner_client.get(f"/portal/applications/{forged.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The reviewer's explanation:" in page and "The parcel was never opened, per the courier." in page
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key_a}")
    decision = api.get(f"/api/v1/applications/{forged.public_id}").json()["decision"]
    assert decision["explanation"] == "The parcel was never opened, per the courier."


def test_a_reviewers_note_stays_internal_when_a_listed_reason_explains(owner_client, forged, senior_reviewer):
    from refunds import services

    with time_machine.travel(forged.merchant_deadline):
        services.close_expired_windows()
    services.application_decide(
        application_id=forged.public_id,
        reviewer=senior_reviewer,
        outcome="rejected",
        reason_codes=["evidence_derived"],
        note="Internal: same as case 41.",
    )
    page = owner_client.get(f"/portal/applications/{forged.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Internal: same as case 41." not in page and 'id="decision-explanation"' not in page


def test_the_decision_reads_with_the_readers_punctuation(owner_client, awaiting, merchant_owner):
    from refunds import services
    from refunds.services import Actor
    from refunds.states import ActorKind

    services.application_accept(
        application_id=awaiting.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
    )
    url = f"/portal/applications/{awaiting.public_id}/"
    english = owner_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert re.search(r'id="decision">Approved \(Merchant\) — 39\.90 CNY\. \S', english)
    chinese = owner_client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert re.search(r'id="decision">[^<]*（[^<]*）— 39\.90 CNY。[^.<]+</p>', chinese)
