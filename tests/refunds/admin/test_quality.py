"""The second-review pages: blind until the second reviewer has recorded an outcome (nothing of
the decision, its decider or a way to it on the page), then the comparison a senior resolves."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from refunds import services
from refunds.models import QAReview
from refunds.states import QAReviewState
from tests.factories import make_staff
from tests.refunds.admin.second_review_builders import sampled_partial_refund

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:refunds_qareview_changelist")


@pytest.fixture(autouse=True)
def english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def decider(db):
    return make_staff("decider-alice", "Reviewers")


@pytest.fixture
def sampled(platform_a, product, decider):
    """A partial refund of 17.35 CNY by decider-alice, drawn for a second review."""
    return sampled_partial_refund(platform_a, product, decider)


def page(review):
    return reverse("admin:refunds_qareview_change", args=[review.pk])


def without_the_record_form(html):
    # The form offers every outcome to choose from; the decision must be nowhere else.
    return re.sub(r'<form[^>]*id="qa-record".*?</form>', "", html, flags=re.S)


def assert_blind(html, review):
    application = review.application
    for secret in ("17.35", "decider-alice", "NOTE-4711", "order-blind-9", str(application.public_id)):
        assert secret not in html, secret
    assert reverse("admin:refunds_refundapplication_change", args=[application.pk]) not in html
    assert "Partially approved" not in without_the_record_form(html)


def test_the_second_reviewer_sees_the_case_but_nothing_of_the_decision(client, sampled, second_reviewer):
    client.force_login(second_reviewer)
    html = client.get(page(sampled)).content.decode()
    assert "Review the decision again" in html and "Hidden until the second review is recorded." in html
    assert "Ceramic cup" in html and "39.90" in html and "Intact." in html  # the claim and the rebuttal
    assert 'id="qa-claim"' in html
    assert_blind(html, sampled)

    client.post(reverse("admin:refunds_qareview_claim", args=[sampled.pk]))
    html = client.get(page(sampled)).content.decode()
    assert 'id="qa-record"' in html
    assert_blind(html, sampled)


def test_the_queue_is_as_blind_as_the_page(client, sampled, second_reviewer):
    client.force_login(second_reviewer)
    html = client.get(QUEUE).content.decode()
    assert str(sampled.public_id)[:8] in html
    assert_blind(html, sampled)


def test_the_decider_is_offered_neither_claim_nor_record(client, sampled, decider):
    client.force_login(decider)
    html = client.get(page(sampled)).content.decode()
    assert 'id="qa-claim"' not in html and 'id="qa-record"' not in html
    response = client.post(reverse("admin:refunds_qareview_claim", args=[sampled.pk]), follow=True)
    assert "another reviewer must review it a second time" in response.content.decode()
    assert QAReview.objects.get(pk=sampled.pk).state == QAReviewState.OPEN


def test_a_disagreement_recorded_on_the_page_is_resolved_there_by_a_senior(
    client, sampled, second_reviewer, senior_reviewer
):
    client.force_login(second_reviewer)
    client.post(reverse("admin:refunds_qareview_claim", args=[sampled.pk]))
    refused = client.post(
        reverse("admin:refunds_qareview_record", args=[sampled.pk]),
        {"outcome": "approved", "reason_codes": ["partial_damage"], "note": "All of it."},
    )
    assert refused.status_code == 200 and "reason_codes" in refused.context["record_form"].errors
    assert_blind(refused.content.decode(), sampled)
    response = client.post(
        reverse("admin:refunds_qareview_record", args=[sampled.pk]),
        {"outcome": "approved", "reason_codes": ["evidence_consistent"], "note": "All of it is broken."},
        follow=True,
    )
    html = response.content.decode()
    assert "The second review is recorded." in html
    assert QAReview.objects.get(pk=sampled.pk).state == QAReviewState.DISAGREED
    # Recorded: the comparison shows, for the senior who resolves it.
    assert "17.35" in html and "decider-alice" in html and "NOTE-4711" in html

    client.force_login(senior_reviewer)
    assert 'id="qa-resolve"' in client.get(page(sampled)).content.decode()
    response = client.post(
        reverse("admin:refunds_qareview_resolve", args=[sampled.pk]),
        {"resolution": "decision_stands", "note": "The saucer was intact."},
        follow=True,
    )
    assert "the decision stays as it was" in response.content.decode()
    review = QAReview.objects.get(pk=sampled.pk)
    assert review.state == QAReviewState.RESOLVED and review.resolved_by == senior_reviewer
    assert review.decision.approved_amount == Decimal("17.35")


def test_the_statistics_page_shows_agreement_and_overturns_instead_of_a_promise(client, sampled, second_reviewer):
    services.qa_review_claim(qa_review_id=sampled.public_id, reviewer=second_reviewer)
    services.qa_review_record(
        qa_review_id=sampled.public_id,
        reviewer=second_reviewer,
        outcome="partially_approved",
        reason_codes=["partial_damage"],
        approved_amount=Decimal("17.35"),
        note="Same.",
    )
    client.force_login(second_reviewer)
    response = client.get(reverse("admin:refunds_refundapplication_statistics"))
    html = response.content.decode()
    assert "once they are" not in html and 'id="reviewer-quality"' in html and 'id="overturn-by-risk"' in html
    (row,) = response.context["quality_reviewers"]
    assert (row.username, row.decisions, row.qa_reviewed, row.qa_agreed) == ("decider-alice", 1, 1, 1)
    assert "1 / 1" in html and "100%" in html


def test_an_address_resolved_against_the_page_is_not_found_not_a_server_error(client, sampled, second_reviewer):
    # axe-core resolves the admin stylesheet's @import against the page's address.
    client.force_login(second_reviewer)
    assert client.get(f"{page(sampled)}widgets.css/change/").status_code == 404
