"""A sampled decision stays hidden from whoever may still review it blind, wherever they look in
the admin: the queue and its search, the application's page and history, the buyer's other
applications, the records of decisions and audit events. The reviewer who decided and the
senior reviewers keep their view; once the second review is recorded, everyone has it back."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from refunds import services
from tests.factories import make_staff
from tests.refunds.admin.second_review_builders import contested, sampled_partial_refund

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:refunds_refundapplication_changelist")


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


def get(client, url, **params):
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def assert_no_decision(html, *, outcome_named_elsewhere=False):
    secrets = ["17.35", "decider-alice", "NOTE-4711", "Partial approval"]
    # A list's filters name every outcome; a page about one application names none.
    secrets += [] if outcome_named_elsewhere else ["Partially approved"]
    for secret in secrets:
        assert secret not in html, secret


def application_page(review):
    return reverse("admin:refunds_refundapplication_change", args=[review.application_id])


def test_the_second_reviewer_searching_the_queue_finds_no_trace_of_the_application(client, sampled, second_reviewer):
    client.force_login(second_reviewer)
    html = get(client, QUEUE, view="all", q="order-blind-9")
    assert "0 results" in html and application_page(sampled) not in html
    for view in ("closed", "all"):
        html = get(client, QUEUE, view=view)
        assert "order-blind-9" not in html and application_page(sampled) not in html
        assert_no_decision(html, outcome_named_elsewhere=True)


def test_after_claiming_the_second_review_its_application_page_says_it_is_hidden(client, sampled, second_reviewer):
    client.force_login(second_reviewer)
    client.post(reverse("admin:refunds_qareview_claim", args=[sampled.pk]))
    html = get(client, application_page(sampled))
    assert "This application is hidden from you for now" in html
    assert "order-blind-9" not in html and "Intact." not in html
    assert_no_decision(html)
    history = get(client, reverse("admin:refunds_refundapplication_history", args=[sampled.application_id]))
    assert "This application is hidden from you for now" in history
    assert_no_decision(history)
    dossier = client.get(reverse("admin:refunds_refundapplication_dossier", args=[sampled.application_id]))
    assert dossier.status_code == 302 and dossier["Location"] == application_page(sampled)


def test_the_records_of_decisions_and_audit_events_leave_it_out(client, sampled, second_reviewer):
    client.force_login(second_reviewer)
    for url in (reverse("admin:refunds_decision_changelist"), reverse("admin:refunds_auditevent_changelist")):
        html = get(client, url)
        assert str(sampled.application.public_id) not in html and "order-blind-9" not in html
        assert_no_decision(html, outcome_named_elsewhere=True)
    decision = reverse("admin:refunds_decision_change", args=[sampled.decision_id])
    assert client.get(decision).status_code in (302, 404)


def test_the_buyers_other_application_does_not_give_the_decision_away(client, sampled, product, second_reviewer):
    other = contested(product, order_ref="order-next-10")  # the same buyer
    client.force_login(second_reviewer)
    services.application_claim(application_id=other.public_id, reviewer=second_reviewer)
    html = get(client, reverse("admin:refunds_refundapplication_change", args=[other.pk]))
    history = re.search(r'<section class="rh-card" id="buyer-history">.*?</section>', html, re.S).group(0)
    assert "hidden until its second review is recorded" in history
    # Nor do the totals: one earlier application and 17.35 refunded would say it all.
    assert "; — refunded in all;" in history
    assert_no_decision(history)
    assert "17.35" not in html and "NOTE-4711" not in html


def test_the_decider_and_a_senior_keep_their_view(client, sampled, decider, senior_reviewer):
    for user in (decider, senior_reviewer):
        client.force_login(user)
        assert "order-blind-9" in get(client, QUEUE, view="all", q="order-blind-9")
        html = get(client, application_page(sampled))
        assert "NOTE-4711" in html and "17.35" in html and "hidden from you" not in html


def test_once_the_second_review_is_recorded_the_decision_shows_again(client, sampled, second_reviewer):
    services.qa_review_claim(qa_review_id=sampled.public_id, reviewer=second_reviewer)
    services.qa_review_record(
        qa_review_id=sampled.public_id,
        reviewer=second_reviewer,
        outcome="partially_approved",
        reason_codes=["partial_damage"],
        note="Same.",
        approved_amount=Decimal("17.35"),
    )
    client.force_login(second_reviewer)
    assert "order-blind-9" in get(client, QUEUE, view="all", q="order-blind-9")
    assert "NOTE-4711" in get(client, application_page(sampled))
