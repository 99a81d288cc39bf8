"""The merchant sees, on the application page, that the buyer was asked for another photo: open
with its deadline and the paused review clock, answered, expired or withdrawn; never what was
written to the buyer, the buyer's language, nor which reviewer asked."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from refunds import services
from refunds.models import RefundApplication
from refunds.services import Actor
from refunds.services.platform import policy_update
from refunds.states import ActorKind, RiskLevel
from tests.factories import jpeg, screen, submit
from tests.refunds.evidence_request_builders import answer, ask, claimed_by

pytestmark = pytest.mark.django_db

# Written to the buyer: it may address them by name, so the merchant never reads it.
INSTRUCTIONS = "Dear Ms Lin Wei, please photograph the cracked rim from the left."


def page(client, application, language="en"):
    response = client.get(f"/portal/applications/{application.public_id}/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def section(html):
    found = re.search(r'<section class="photo-requests".*?</section>', html, re.S)
    assert found, "the page has no section on requests for another photo"
    return found.group(0)


def test_an_open_request_shows_its_deadline_and_the_paused_review_clock(owner_client, product, reviewer):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        application = claimed_by(reviewer, product)
    with time_machine.travel(start + timedelta(minutes=10), tick=False):
        request = ask(application, reviewer, instructions=INSTRUCTIONS, language="en")
        shown = section(page(owner_client, application))

    assert "Waiting for the buyer&#x27;s second photo" in shown and "Asked by a reviewer" in shown
    assert "Photo 1, from another angle" in shown
    assert f'class="countdown" data-deadline="{int(request.deadline.timestamp())}"' in shown
    # The policy's review time (a day by default) less the ten minutes the claim had run.
    assert "Paused with 23\xa0hours, 50\xa0minutes of review time left" in shown


def test_the_page_never_shows_what_the_buyer_was_told_nor_who_asked(owner_client, product, second_reviewer):
    application = claimed_by(second_reviewer, product, buyer_ref="buyer-lin-wei-13800138000")
    request = ask(application, second_reviewer, instructions=INSTRUCTIONS, language="en")
    services.evidence_request_cancel(
        request_id=request.public_id,
        actor=Actor.of_user(ActorKind.REVIEWER, second_reviewer),
        reason="Ms Lin Wei phoned the platform instead.",
    )
    html = page(owner_client, application)
    assert "The request was withdrawn; the reviewer decides without a second photo." in section(html)
    for private in ("Lin Wei", "13800138000", "cracked rim", "phoned", second_reviewer.username):
        assert private not in html


def test_an_answered_request_points_to_the_second_photo_and_the_clock_runs_again(owner_client, product, reviewer):
    application = claimed_by(reviewer, product)
    answer(ask(application, reviewer), jpeg(seed=41))
    html = page(owner_client, application)
    shown = section(html)
    assert "Answered" in shown
    assert "The buyer sent the second photo: photo 2 below, with what screening found." in shown
    assert "Runs again, with the" in shown and 'class="countdown"' not in shown
    assert "The buyer sent another photo; the review resumed" in html
    assert html.count('<article class="evidence"') == 2


def test_an_expired_request_says_the_reviewer_decides_without_it(owner_client, product, reviewer):
    application = claimed_by(reviewer, product)
    request = ask(application, reviewer)
    with time_machine.travel(request.deadline + timedelta(minutes=5), tick=False):
        services.expire_evidence_requests()
        html = page(owner_client, application)
    assert "Expired without an answer" in section(html)
    assert "No second photo came by the deadline; the reviewer decides without it." in section(html)
    assert "No other photo came in time; the review resumed" in html


def test_a_request_the_policy_made_says_so_in_chinese(owner_client, product):
    policy_update(
        platform=product.merchant.platform, changes={"second_photo_for_uncertain": True}, actor=Actor.system()
    )
    application = screen(submit(product))
    # A screening that leaves doubt: the middle finding sends it to people as suspicious.
    RefundApplication.objects.filter(pk=application.pk).update(risk_level=RiskLevel.SUSPICIOUS)
    services.application_contest(
        application_id=application.public_id, actor=Actor(ActorKind.MERCHANT, None, "owner"), statement="No."
    )
    html = page(owner_client, application, language="zh-hans")
    shown = section(html)
    assert "买家的补充照片" in shown and "等待买家的第二张照片" in shown
    assert "平台规则" in shown and "审核计时已暂停" in shown


def test_an_application_never_asked_has_no_such_section(owner_client, product, reviewer):
    assert 'class="photo-requests"' not in page(owner_client, claimed_by(reviewer, product))
