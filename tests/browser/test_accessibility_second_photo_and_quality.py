"""axe-core on the pages issue 23 added, in both languages, on a desktop and a phone: the
second-review queue and page, the hidden application page a possible second reviewer gets, the
request for another photo on the application page (open, and answered with both photos), and the
merchant's view of the requests. No critical or serious violation, no page wider than its screen,
no vocabulary code in the text."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bench import synthetic
from refunds import services
from refunds.models import QAReview
from refunds.services import Actor
from refunds.services.platform import policy_update
from refunds.states import Outcome
from tests.browser.conftest import portal_log_in, staff_log_in
from tests.browser.test_accessibility import check
from tests.factories import make_staff, screen
from tests.refunds.evidence_request_builders import answer, ask, claimed_by, contested

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cases(platform_a, product, merchant_owner):
    """A request for another photo waiting, one answered with a second view and compared, and a
    decision drawn for a second review that the reviewer has claimed."""
    reviewer, decider = make_staff("reviewer", "Reviewers"), make_staff("decider", "Reviewers")
    policy_update(platform=platform_a, changes={"qa_sample_rate": Decimal("1")}, actor=Actor.system())
    asked = claimed_by(reviewer, product, order_ref="order-asked")
    ask(asked, reviewer, language="en")
    answered = claimed_by(
        reviewer,
        product,
        evidence=[synthetic.jpeg(synthetic.photo("motorcycle"))],
        order_ref="order-answered",
        buyer_ref="buyer-2",
    )
    request = answer(ask(answered, reviewer), synthetic.jpeg(synthetic.photo("motorcycle_right")))
    screen(answered)
    assert services.evidence_request_compare_views(request_id=request.public_id) is not None
    sampled = contested(product, order_ref="order-sampled", buyer_ref="buyer-3")
    services.application_claim(application_id=sampled.public_id, reviewer=decider)
    services.application_decide(
        application_id=sampled.public_id,
        reviewer=decider,
        outcome=Outcome.REJECTED,
        reason_codes=["insufficient_evidence"],
        note="The photo shows no damage.",
    )
    review = QAReview.objects.get(application=sampled)
    services.qa_review_claim(qa_review_id=review.public_id, reviewer=reviewer)
    return {"asked": asked, "answered": answered, "sampled": sampled, "review": review}


@pytest.mark.parametrize("width", [1440, 375])
@pytest.mark.parametrize("locale", ["zh-CN", "en-GB"])
def test_the_pages_of_second_photos_and_second_reviews_have_no_serious_accessibility_violation(
    live_server, new_page, cases, locale, width
):
    base = live_server.url
    problems: dict[str, list[str]] = {}
    page = new_page(locale=locale, width=width)
    staff_log_in(page, base, "reviewer")
    application = f"{base}/admin/refunds/refundapplication"
    for url in (
        f"{base}/admin/refunds/qareview/",
        f"{base}/admin/refunds/qareview/{cases['review'].pk}/change/",
        f"{application}/{cases['asked'].pk}/change/",
        f"{application}/{cases['answered'].pk}/change/",
        f"{application}/{cases['sampled'].pk}/change/",
    ):
        check(page, url, problems)
    assert page.locator("#decision-hidden").count() == 1

    page = new_page(locale=locale, width=width)
    portal_log_in(page, base, "owner", "pw-owner")
    for key in ("asked", "answered"):
        check(page, f"{base}/portal/applications/{cases[key].public_id}/", problems)
        assert page.locator("#photo-requests").count() == 1
    assert problems == {}, json.dumps(problems, indent=1, ensure_ascii=False)
