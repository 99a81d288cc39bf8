"""Reviewers in Chromium: claim next, compare evidence, decide with confirmation, meet conflicts.

Screenshots of the queue and the application page, in Chinese and English, go to the test
artefacts; each page must fit 1440 px without sideways scrolling.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from refunds import services
from refunds.models import Decision, RefundApplication
from refunds.states import ApplicationState
from tests.browser.conftest import assert_no_horizontal_scroll, staff_log_in
from tests.factories import CUP, FORGED_CUP, make_staff, screen, submit

pytestmark = pytest.mark.django_db(transaction=True)


def in_review(product, *, evidence, **fields):
    application = screen(submit(product, evidence=evidence, **fields))
    RefundApplication.objects.filter(pk=application.pk).update(merchant_deadline=timezone.now())
    services.close_expired_windows()
    application = RefundApplication.objects.get(pk=application.pk)
    assert application.state == ApplicationState.IN_REVIEW
    return application


@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_a_senior_reviewer_claims_next_compares_the_evidence_and_partially_approves(
    live_server, new_page, artifacts_dir, product, locale
):
    suffix = "zh" if locale.startswith("zh") else "en"
    make_staff("senior", "Senior reviewers")
    application = in_review(product, evidence=[FORGED_CUP], amount="100.00", order_ref="order-forged")
    in_review(product, evidence=[CUP], buyer_ref="buyer-2", order_ref="order-copy")
    page = new_page(locale=locale)
    staff_log_in(page, live_server.url, "senior")
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts_dir / f"review-queue-{suffix}.png"), full_page=True)

    page.click("#claim-next")
    page.wait_for_selector("#decision-form")
    assert RefundApplication.objects.get(pk=application.pk).claimed_by.username == "senior"
    card = page.locator(".rh-evidence").first
    card.locator("[data-mode=overlay]").click()
    overlay = card.locator(".rh-overlay-top")
    overlay.wait_for(state="visible")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=overlay.element_handle(), timeout=45_000)
    card.locator(".rh-wipe").fill("80")
    assert "20%" in overlay.evaluate("img => img.style.clipPath")
    card.screenshot(path=str(artifacts_dir / f"review-overlay-{suffix}.png"))
    card.locator(".rh-blink").click()
    card.locator(".rh-blink").click()
    card.locator("[data-mode=heatmap]").click()
    heat = card.locator(".rh-heat")
    heat.wait_for(state="visible")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=heat.element_handle(), timeout=45_000)
    card.locator(".rh-zoom[data-zoom='2']").click()
    assert_no_horizontal_scroll(page)
    card.screenshot(path=str(artifacts_dir / f"review-heatmap-{suffix}.png"))
    card.locator("[data-mode=side]").click()
    page.screenshot(path=str(artifacts_dir / f"review-application-{suffix}.png"), full_page=True)

    page.check("input[name=outcome][value=partially_approved]")
    assert page.locator("label.rh-check[data-fits~=rejected]:not([data-fits~=partially_approved])").first.is_hidden()
    page.fill("input[name=approved_amount]", "30.00")
    page.check("input[name=reason_codes][value=partial_damage]")
    page.fill("textarea[name=note]", "Only the handle is chipped; the crack is painted on.")
    page.click("#decide")
    summary = page.locator("#confirm-summary")
    assert "30.00" in summary.inner_text()
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts_dir / f"review-confirm-{suffix}.png"))
    page.click("#confirm-decision")
    page.wait_for_selector("#decided")
    assert "30.00" in page.locator("#decided").inner_text()
    decision = Decision.objects.get(application=application)
    assert decision.approved_amount == 30 and decision.actor.username == "senior"


def test_the_second_reviewers_concurrent_decision_gets_the_conflict_message(live_server, new_page, product):
    make_staff("reviewer", "Reviewers")
    make_staff("senior", "Senior reviewers")
    application = in_review(product, evidence=[CUP])
    url = f"{live_server.url}/admin/refunds/refundapplication/{application.pk}/change/"
    first, second = new_page(locale="en-GB"), new_page(locale="en-GB")
    staff_log_in(first, live_server.url, "reviewer")
    first.goto(url)
    first.click("#claim")
    staff_log_in(second, live_server.url, "senior")
    second.goto(url)
    for page, reason in ((first, "insufficient_evidence"), (second, "evidence_derived")):
        page.check("input[name=outcome][value=rejected]")
        page.check(f"input[name=reason_codes][value={reason}]")
        page.fill("textarea[name=note]", "Checked against the catalogue photo.")
        page.click("#decide")
        page.wait_for_selector("#confirm-decision")
    second.click("#confirm-decision")
    second.wait_for_selector("#decided")
    first.click("#confirm-decision")
    error = first.locator(".messagelist .error")
    error.wait_for()
    assert "decided this application first" in error.inner_text()
    assert Decision.objects.get(application=application).actor.username == "senior"


def test_an_auditor_opens_everything_and_can_decide_nothing(live_server, new_page, artifacts_dir, product):
    make_staff("auditor", "Auditors")
    application = in_review(product, evidence=[CUP])
    page = new_page(locale="en-GB")
    staff_log_in(page, live_server.url, "auditor")
    assert page.locator("#claim-next").count() == 0
    page.click(f"a[href$='/{application.pk}/change/']")
    page.wait_for_selector("#read-only")
    assert page.locator("#decision-form").count() == 0 and page.locator("#claim").count() == 0
    assert page.locator("#timeline li").count() == application.audit_seq
    assert_no_horizontal_scroll(page)
    page.goto(f"{live_server.url}/admin/refunds/refundapplication/statistics/")
    page.wait_for_selector(".rh-stats")
    assert_no_horizontal_scroll(page)
    page.screenshot(path=str(artifacts_dir / "review-statistics-en.png"))


def test_a_plain_reviewer_cannot_approve_a_forged_application(live_server, new_page, product):
    make_staff("reviewer", "Reviewers")
    application = in_review(product, evidence=[CUP])
    page = new_page(locale="en-GB")
    staff_log_in(page, live_server.url, "reviewer")
    page.goto(f"{live_server.url}/admin/refunds/refundapplication/{application.pk}/change/")
    page.click("#claim")
    page.wait_for_selector("#decision-form")
    assert "senior reviewer" in page.locator("#decision-panel .rh-warning").first.inner_text()
    page.check("input[name=outcome][value=approved]")
    page.check("input[name=reason_codes][value=evidence_consistent]")
    page.fill("textarea[name=note]", "Looks genuine to me.")
    page.click("#decide")
    # Refused before any confirmation, with the panel as it was filled in.
    error = page.locator(".messagelist .error")
    error.wait_for()
    assert "senior reviewer" in error.inner_text()
    assert page.locator("#confirm-decision").count() == 0
    assert page.input_value("textarea[name=note]") == "Looks genuine to me."
    assert page.is_checked("input[name=reason_codes][value=evidence_consistent]")
    assert not Decision.objects.filter(application=application).exists()


def transforms(card) -> list[str]:
    return card.locator(".rh-sync-view img").evaluate_all("imgs => imgs.map(img => img.style.transform)")


def test_the_evidence_and_the_reference_zoom_and_move_together_by_buttons_wheel_drag_and_keys(
    live_server, new_page, artifacts_dir, product
):
    make_staff("reviewer", "Reviewers")
    application = in_review(product, evidence=[FORGED_CUP])
    page = new_page(locale="en-GB")
    staff_log_in(page, live_server.url, "reviewer")
    page.goto(f"{live_server.url}/admin/refunds/refundapplication/{application.pk}/change/")
    card = page.locator(".rh-evidence").first
    tools = card.locator(".rh-sync-tools")
    tools.wait_for(state="visible")
    assert tools.locator(".rh-sync-in").get_attribute("aria-label") == "Zoom in on both images"
    assert tools.locator(".rh-sync-out").get_attribute("aria-label") == "Zoom out of both images"

    tools.locator(".rh-sync-in").click()
    evidence_view, reference_view = transforms(card)
    assert evidence_view == reference_view and "scale(1.5)" in evidence_view
    assert tools.locator(".rh-sync-level").inner_text() == "150%"

    # Dragging the evidence moves the reference by the same part of its box.
    box = card.locator(".rh-sync-view").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2 + 30, steps=5)
    page.mouse.up()
    dragged = transforms(card)
    assert dragged[0] == dragged[1] != evidence_view

    # The plain wheel scrolls the page; with Ctrl held, over the reference, it zooms both about the pointer.
    reference_box = card.locator(".rh-sync-view").nth(1).bounding_box()
    page.mouse.move(reference_box["x"] + 20, reference_box["y"] + 20)
    page.mouse.wheel(0, -100)
    assert tools.locator(".rh-sync-level").inner_text() == "150%"
    reference_box = card.locator(".rh-sync-view").nth(1).bounding_box()
    page.mouse.move(reference_box["x"] + 20, reference_box["y"] + 20)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    page.wait_for_function("el => el.textContent === '225%'", arg=tools.locator(".rh-sync-level").element_handle())
    wheeled = transforms(card)
    assert wheeled[0] == wheeled[1] and "scale(2.25)" in wheeled[0]
    card.screenshot(path=str(artifacts_dir / "review-zoomed-side-by-side-en.png"))

    # The keyboard: each view is focusable; + zooms, arrows move, 0 fits.
    card.locator(".rh-sync-view").nth(1).focus()
    page.keyboard.press("+")
    assert tools.locator(".rh-sync-level").inner_text() == "338%"
    before = transforms(card)
    page.keyboard.press("ArrowRight")
    after = transforms(card)
    assert after[0] == after[1] != before[0]
    page.keyboard.press("0")
    assert transforms(card) == ["translate(0%, 0%) scale(1)"] * 2
    assert tools.locator(".rh-sync-level").inner_text() == "100%"
    assert_no_horizontal_scroll(page)


def checked_outcome(page) -> str | None:
    return page.evaluate("(document.querySelector('input[name=outcome]:checked') || {}).value || null")


def test_a_reviewer_decides_from_the_keyboard_and_typing_never_fires_a_shortcut(live_server, new_page, product):
    make_staff("senior", "Senior reviewers")  # the catalogue photo is screened as forged
    application = in_review(product, evidence=[CUP], amount="80.00")
    page = new_page(locale="en-GB")
    staff_log_in(page, live_server.url, "senior")
    page.goto(f"{live_server.url}/admin/refunds/refundapplication/{application.pk}/change/")
    page.keyboard.press("c")
    page.wait_for_selector("#decision-form fieldset:not([disabled])")
    assert RefundApplication.objects.get(pk=application.pk).claimed_by.username == "senior"

    page.keyboard.press("?")
    help_dialog = page.locator("dialog#shortcuts")
    help_dialog.wait_for(state="visible")
    assert "Review and confirm the decision" in help_dialog.inner_text()
    assert "Partially approved" in help_dialog.inner_text()
    page.keyboard.press("Escape")
    help_dialog.wait_for(state="hidden")

    page.keyboard.press("r")
    assert checked_outcome(page) == "rejected"
    page.keyboard.press("n")
    assert page.evaluate("document.activeElement.name") == "note"
    page.keyboard.type("a painted crack; approve nothing, decide later")
    assert checked_outcome(page) == "rejected", "letters typed in the note are text, not shortcuts"
    assert page.input_value("textarea[name=note]") == "a painted crack; approve nothing, decide later"

    page.locator("textarea[name=note]").evaluate("el => el.blur()")
    page.keyboard.press("p")
    assert checked_outcome(page) == "partially_approved"
    assert page.evaluate("document.activeElement.name") == "approved_amount"
    page.keyboard.type("20.00")
    assert checked_outcome(page) == "partially_approved"
    page.locator("input[name=approved_amount]").evaluate("el => el.blur()")
    page.check("input[name=reason_codes][value=partial_damage]")
    page.keyboard.press("d")
    page.wait_for_selector("#confirm-decision")
    assert "20.00" in page.locator("#confirm-summary").inner_text()
