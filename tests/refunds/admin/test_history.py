"""The admin's History of an application speaks the reader's language, whoever acted in which."""

from __future__ import annotations

import pytest
import time_machine
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from refunds import services
from refunds.models import RefundApplication
from tests.factories import CUP, screen, submit

pytestmark = pytest.mark.django_db


def in_review(product):
    application = screen(submit(product, evidence=[CUP]))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    return RefundApplication.objects.get(pk=application.pk)


def stored_as_text(application, user, text: str) -> None:
    """Write a History entry the way Django stored one before: plain text."""
    LogEntry.objects.log_actions(
        user_id=user.pk, queryset=[application], action_flag=CHANGE, change_message=text, single_object=True
    )


def history(client, application, language):
    url = reverse("admin:refunds_refundapplication_history", args=[application.pk])
    return client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()


def test_a_claim_and_a_decision_made_in_english_read_in_chinese(client, senior_reviewer, product):
    application = in_review(product)
    client.force_login(senior_reviewer)
    client.post(reverse("admin:refunds_refundapplication_claim", args=[application.pk]), HTTP_ACCEPT_LANGUAGE="en")
    decide = reverse("admin:refunds_refundapplication_decide", args=[application.pk])
    form = {"outcome": "partially_approved", "approved_amount": "30", "reason_codes": ["partial_damage"]}
    client.post(decide, {**form, "note": "Only the handle.", "confirm": "1"}, HTTP_ACCEPT_LANGUAGE="en", follow=True)

    chinese = history(client, application, "zh-hans")
    assert "已领取。" in chinese
    assert "已裁决：部分批准，30.00 CNY；理由：仅部分订单商品受影响。" in chinese
    assert "Claimed." not in chinese and "Decided:" not in chinese and "partial_damage" not in chinese

    english = history(client, application, "en")
    assert "Claimed." in english
    assert "Decided: Partially approved, 30.00 CNY; reasons: Only part of the order is affected." in english


def test_a_message_stored_as_english_text_before_reads_in_chinese_too(client, senior_reviewer, product):
    application = in_review(product)
    stored_as_text(application, senior_reviewer, "Claim released.")
    client.force_login(senior_reviewer)
    chinese = history(client, application, "zh-hans")
    assert "Claim released." not in chinese
    assert "已释放领取。" in chinese


@pytest.mark.parametrize(
    ("stored", "reader", "shown"),
    [
        (
            "Decided: Partially approved, 30.00 CNY; reasons: Only part of the order is affected.",
            "zh-hans",
            "已裁决：部分批准，30.00 CNY；理由：仅部分订单商品受影响。",
        ),
        (
            "已裁决：部分批准，30.00 CNY；理由：仅部分订单商品受影响。",
            "en",
            "Decided: Partially approved, 30.00 CNY; reasons: Only part of the order is affected.",
        ),
    ],
)
def test_a_decision_summary_stored_as_text_before_reads_in_the_readers_language(
    client, senior_reviewer, product, stored, reader, shown
):
    application = in_review(product)
    stored_as_text(application, senior_reviewer, stored)
    client.force_login(senior_reviewer)
    page = history(client, application, reader)
    assert shown in page and stored not in page


def test_a_text_that_only_looks_like_a_decision_summary_is_shown_as_it_was_written(client, senior_reviewer, product):
    application = in_review(product)
    stored = "Decided: Approved, 30.00 CNY; reasons: Because I said so."
    stored_as_text(application, senior_reviewer, stored)
    client.force_login(senior_reviewer)
    assert stored in history(client, application, "zh-hans")
