"""Issue 23 in Chromium: a merchant appeals a decision in the portal and follows the appeal; a
reviewer asks for another photo, the platform answers through the API, the worker screens it and
compares it with the first, and the reviewer decides with both photos side by side.

Screenshots go to the test artefacts; every page must fit its screen without sideways scrolling.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from bench import synthetic
from refunds import services
from refunds.models import Appeal, Decision, EvidenceRequest, RefundApplication
from refunds.states import AppealState, ApplicationState, Outcome
from screening.core import ViewPairVerdict
from tests.browser.conftest import assert_no_horizontal_scroll, portal_log_in, staff_log_in
from tests.conftest import wait_for
from tests.factories import jpeg, make_staff
from tests.refunds.appeal_builders import approved_by
from tests.refunds.evidence_request_builders import contested

pytestmark = pytest.mark.django_db(transaction=True)

# A real item seen from two viewpoints (the stereo pair of the synthetic scenes): consistent in 3-D.
FIRST_VIEW = synthetic.jpeg(synthetic.photo("motorcycle"))
SECOND_VIEW = synthetic.jpeg(synthetic.photo("motorcycle_right"))


def test_a_merchant_appeals_a_decision_in_the_portal_and_follows_the_appeal(
    live_server, new_page, artifacts_dir, product, merchant_owner, tmp_path
):
    decider, other = make_staff("reviewer", "Reviewers"), make_staff("reviewer2", "Reviewers")
    application = approved_by(decider, product, order_ref="order-appeal")
    base = live_server.url
    page = new_page(locale="en-GB")
    portal_log_in(page, base, "owner", "pw-owner")
    page.goto(f"{base}/portal/applications/{application.public_id}/")
    page.locator("#appeal-link").click()
    page.wait_for_url(f"{base}/portal/applications/{application.public_id}/appeal/")

    page.locator("input[name=reason_codes]").first.check()
    page.fill("textarea[name=statement]", "The crack in the buyer's photo is a reflection on the glaze.")
    shelf = tmp_path / "shelf.jpg"
    shelf.write_bytes(jpeg(seed=7))
    page.locator("input[type=file]").set_input_files([str(shelf)])
    page.locator("input[name=confirm]").check()
    assert_no_horizontal_scroll(page)
    page.locator("form.upload-form button[type=submit]").click()
    page.wait_for_url(f"{base}/portal/applications/{application.public_id}/")

    appeal = Appeal.objects.get(application=application)
    assert appeal.state == AppealState.FILED and appeal.filed_by == merchant_owner
    card = page.locator(f"#appeal-{appeal.public_id}")
    expect(card.locator(".badge")).to_have_text("Filed")
    expect(card.locator(".files li")).to_have_count(1)
    expect(page.locator("#appeal-link")).to_have_count(0)
    assert_no_horizontal_scroll(page)
    page.locator("#appeals").screenshot(path=str(artifacts_dir / "portal-appeal-filed-en.png"))

    # Another reviewer than the one who decided overturns it; the merchant reads the new decision.
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=other)
    services.appeal_decide(
        appeal_id=appeal.public_id,
        reviewer=other,
        verdict="overturned",
        outcome=Outcome.REJECTED,
        reason_codes=["insufficient_evidence"],
        note="The crack is a reflection: it moves with the light.",
    )
    page.reload()
    expect(card.locator(".badge")).to_have_text("Overturned")
    expect(card.locator(".decision")).to_contain_text("The decision was overturned: Rejected")
    expect(card).to_contain_text("it moves with the light")
    expect(card.locator("form")).to_have_count(0)  # nothing left to withdraw
    page.screenshot(path=str(artifacts_dir / "portal-appeal-decided-en.png"), full_page=True)


def test_a_reviewer_asks_for_another_photo_the_platform_answers_and_the_reviewer_decides_on_both(
    live_server, new_page, artifacts_dir, celery_worker, product, key_a
):
    make_staff("reviewer", "Reviewers")
    application = contested(product, evidence=[FIRST_VIEW], order_ref="order-two-views")
    base = live_server.url
    page = new_page(locale="en-GB")
    staff_log_in(page, live_server.url, "reviewer")
    page.goto(f"{base}/admin/refunds/refundapplication/{application.pk}/change/")
    page.click("#claim")
    page.wait_for_selector("#decision-form")

    form = page.locator("#request-photo")
    form.locator("select[name=language]").select_option("en")
    form.locator("textarea[name=instructions]").fill("Please photograph the scratch on the tank from the right.")
    form.locator("button[type=submit]").click()
    expect(page.locator(".messagelist .success")).to_contain_text("the review clock is paused")
    panel = page.locator("#second-photo")
    expect(panel.locator(".rh-request-open")).to_have_text("Waiting for the buyer's second photo")
    paused = RefundApplication.objects.get(pk=application.pk)
    assert paused.review_due_at is None and paused.claimed_by is None  # the review clock is paused
    assert_no_horizontal_scroll(page)
    panel.screenshot(path=str(artifacts_dir / "review-second-photo-asked-en.png"))

    # The platform reads the open request and answers it with the buyer's photo, over HTTP.
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key_a}"}, timeout=30)
    listed = api.get(f"/api/v1/applications/{application.public_id}/evidence-requests")
    assert listed.status_code == 200
    (open_request,) = [r for r in listed.json() if r["state"] == "open"]
    assert open_request["instructions"] == "Please photograph the scratch on the tank from the right."
    path = f"/api/v1/applications/{application.public_id}/evidence-requests/{open_request['id']}/answer"
    assert open_request["answer_url"].endswith(path)
    answered = api.post(path, files={"evidence": ("right.jpg", SECOND_VIEW, "image/jpeg")})
    assert answered.status_code == 201, answered.text
    assert answered.json()["state"] == "answered"

    # The worker screens the second photo, then compares it with the first.
    request = EvidenceRequest.objects.get(public_id=open_request["id"])
    pair = wait_for(lambda: EvidenceRequest.objects.get(pk=request.pk).view_pair, timeout=120)
    assert pair["verdict"] == ViewPairVerdict.CONSISTENT_3D

    page.reload()
    photos = panel.locator(".rh-pair img")
    expect(photos).to_have_count(2)
    for n in range(2):
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photos.nth(n).element_handle())
    first_box, second_box = photos.nth(0).bounding_box(), photos.nth(1).bounding_box()
    assert abs(first_box["y"] - second_box["y"]) < 5 and second_box["x"] > first_box["x"] + first_box["width"]
    words = panel.locator(f"#view-pair-{request.public_id}")
    expect(words).to_contain_text("The two photos compared:")
    assert_no_horizontal_scroll(page)
    panel.screenshot(path=str(artifacts_dir / "review-second-photo-answered-en.png"))

    page.check("input[name=outcome][value=approved]")
    page.check("input[name=reason_codes][value=evidence_consistent]")
    page.fill("textarea[name=note]", "Both views show the same scratch in depth: a real item.")
    page.click("#decide")
    page.click("#confirm-decision")
    page.wait_for_selector("#decided")
    decision = Decision.objects.get(application=application)
    assert decision.outcome == Outcome.APPROVED and decision.actor.username == "reviewer"
    assert decision.application.state == ApplicationState.DECIDED
    assert decision.application.evidence.count() == 2
    page.screenshot(path=str(artifacts_dir / "review-decided-on-two-views-en.png"), full_page=True)
