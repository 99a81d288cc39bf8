"""axe-core on every page a reviewer and a merchant work on, in both languages, on a desktop and
a phone: no critical or serious violation, and no page wider than its screen."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.utils import timezone

from refunds import services
from refunds.models import MerchantMember, RefundApplication
from refunds.states import ApplicationState, DecisionReason, Outcome, RebuttalReason
from screening.core import FINDING_CODES
from tests.browser.conftest import assert_no_horizontal_scroll, portal_log_in, staff_log_in
from tests.factories import CUP, FORGED_CUP, make_staff, screen, submit

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Axe()
BLOCKING = {"critical", "serious"}
# The vocabularies' codes, which a person should never read on a page: each has its words.
# Those with an underscore ("awaiting_merchant", "local_edit"), since "decided" is also a word.
CODES = re.compile(
    r"\b("
    + "|".join(
        sorted(
            code
            for code in {
                *FINDING_CODES,
                *ApplicationState.values,
                *Outcome.values,
                *DecisionReason.values,
                *RebuttalReason.values,
            }
            if "_" in code
        )
    )
    + r")\b"
)


def blocking_violations(page) -> list[str]:
    results = AXE.run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']} {v['nodes'][0].get('failureSummary', '')[:160]}"
        for v in results.response["violations"]
        if v["impact"] in BLOCKING
    ]


def check(page, url: str, problems: dict[str, list[str]]) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    record(page, url, problems)


def record(page, name: str, problems: dict[str, list[str]]) -> None:
    """Note the page's serious violations and a sideways scroll under the page's name."""
    found = blocking_violations(page)
    raw = sorted(set(CODES.findall(page.inner_text("body"))))
    if raw:
        found.append(f"raw codes in the text: {raw}")
    try:
        assert_no_horizontal_scroll(page)
    except AssertionError as wide:
        found.append(str(wide).splitlines()[0])
    if found:
        problems[name] = found


@pytest.fixture
def day(product, merchant):
    """A reviewer's and a merchant's day: applications in review, a decided one, a forged claim waiting."""
    make_staff("senior", "Senior reviewers")
    make_staff("auditor", "Auditors")
    owner = User.objects.create_user("acme-owner", password="pw-owner-browser")
    MerchantMember.objects.create(user=owner, merchant=merchant)
    staff = User.objects.create_user("acme-staff", password="pw-staff-browser")
    MerchantMember.objects.create(user=staff, merchant=merchant, role=MerchantMember.Role.STAFF)
    reviewing = screen(submit(product, evidence=[FORGED_CUP], order_ref="order-review", amount="100.00"))
    copied = screen(submit(product, evidence=[CUP], order_ref="order-copy", buyer_ref="buyer-2"))
    for application in (reviewing, copied):
        RefundApplication.objects.filter(pk=application.pk).update(merchant_deadline=timezone.now())
    services.close_expired_windows()
    waiting = screen(submit(product, evidence=[FORGED_CUP], order_ref="order-waiting", buyer_ref="buyer-3"))
    RefundApplication.objects.filter(pk=waiting.pk).update(merchant_deadline=timezone.now() + timedelta(hours=3))
    return {"reviewing": reviewing, "copied": copied, "waiting": waiting, "product": product}


@pytest.mark.parametrize("width", [1440, 375])
@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_reviewers_pages_have_no_serious_accessibility_violation(live_server, new_page, day, locale, width):
    page = new_page(locale=locale, width=width)
    base = live_server.url
    staff_log_in(page, base, "senior")
    problems: dict[str, list[str]] = {}
    application = day["reviewing"]
    services.application_claim(application_id=application.public_id, reviewer=User.objects.get(username="senior"))
    change = f"{base}/admin/refunds/refundapplication/{application.pk}/change/"
    for url in (
        f"{base}/admin/refunds/refundapplication/",
        change,
        f"{base}/admin/refunds/refundapplication/statistics/",
        f"{base}/admin/",
    ):
        check(page, url, problems)
    page.goto(change)
    page.check("input[name=outcome][value=rejected]")
    page.check("input[name=reason_codes][value=evidence_derived]")
    page.fill("textarea[name=note]", "The catalogue photo with a painted crack.")
    page.click("#decide")
    page.wait_for_selector("#confirm-decision")
    record(page, "confirmation", problems)
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("width", [1440, 375])
@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_merchants_pages_have_no_serious_accessibility_violation(live_server, new_page, day, locale, width):
    page = new_page(locale=locale, width=width)
    base = live_server.url
    portal_log_in(page, base, "acme-owner", "pw-owner-browser")
    problems: dict[str, list[str]] = {}
    waiting, product = day["waiting"], day["product"]
    reference = product.reference_images.get()
    for url in (
        f"{base}/portal/",
        f"{base}/portal/applications/",
        f"{base}/portal/applications/{waiting.public_id}/",
        f"{base}/portal/applications/{waiting.public_id}/contest/",
        f"{base}/portal/applications/{waiting.public_id}/accept/",
        f"{base}/portal/applications/{day['reviewing'].public_id}/",
        f"{base}/portal/products/",
        f"{base}/portal/products/{product.public_id}/",
        f"{base}/portal/products/{product.public_id}/references/{reference.public_id}/remove/",
        f"{base}/portal/notifications/",
    ):
        check(page, url, problems)
    # A page with a flash message.
    page.goto(f"{base}/portal/applications/{waiting.public_id}/contest/")
    page.locator("form.upload-form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    record(page, "contest refused", problems)
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("width", [1440, 375])
@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_auditors_and_the_shop_staffs_pages_have_no_serious_accessibility_violation(
    live_server, new_page, day, locale, width
):
    base = live_server.url
    problems: dict[str, list[str]] = {}
    page = new_page(locale=locale, width=width)
    staff_log_in(page, base, "auditor")
    for url in (
        f"{base}/admin/refunds/refundapplication/?view=all",
        f"{base}/admin/refunds/refundapplication/{day['reviewing'].pk}/change/",
        f"{base}/admin/refunds/auditevent/",
        f"{base}/admin/refunds/settingschange/",
    ):
        check(page, url, problems)
    page = new_page(locale=locale, width=width)
    portal_log_in(page, base, "acme-staff", "pw-staff-browser")
    product = day["product"]
    for url in (
        f"{base}/portal/",
        f"{base}/portal/applications/{day['waiting'].public_id}/",
        f"{base}/portal/products/{product.public_id}/",
    ):
        check(page, url, problems)
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)
