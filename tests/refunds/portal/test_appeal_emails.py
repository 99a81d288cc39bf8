"""E-mail to the shop's users when an appeal of a claim's decision is decided, whichever side
appealed: the verdict, what now applies and the reviewer's note, in each user's language, once,
and under the user's choice for decision e-mails."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from refunds import services
from refunds.notifications.models import Notification, NotificationPreference
from refunds.services import Actor
from refunds.services.notifications import notifications_send_pending
from refunds.states import ActorKind, AppealSide
from tests.refunds.appeal_builders import approved_by, buyer_appeal, overturn, rejected_by

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(merchant_owner):
    merchant_owner.email = "owner@acme.example"
    merchant_owner.save()
    NotificationPreference.objects.create(user=merchant_owner, language="en")
    return merchant_owner


def overturn_to_partial(appeal, senior):
    overturn(
        appeal,
        senior,
        "partially_approved",
        ["partial_damage"],
        approved_amount=Decimal("20.00"),
        note="Only the handle is cracked.",
    )


def appeal_emails():
    notifications_send_pending()
    return [m for m in mail.outbox if "appeal" in m.subject.lower() or "申诉" in m.subject]


def test_the_merchant_is_told_when_the_buyers_appeal_overturns_the_decision(owner, product, reviewer, senior_reviewer):
    application = rejected_by(reviewer, product, order_ref="order-8101")
    overturn_to_partial(buyer_appeal(application), senior_reviewer)
    (message,) = appeal_emails()
    assert message.to == ["owner@acme.example"] and "order-8101" in message.subject
    assert "the buyer's appeal was decided" in message.body
    assert "The decision was overturned. It now reads: Partially approved, 20.00 CNY refunded." in message.body
    assert "Only the handle is cracked." in message.body
    assert f"/portal/applications/{application.public_id}/" in message.body
    notifications_send_pending()
    assert len(appeal_emails()) == 1, "sent once"


def test_the_merchant_is_told_when_its_own_appeal_is_upheld(owner, product, reviewer, second_reviewer):
    application = approved_by(reviewer, product, order_ref="order-8102")
    appeal = services.appeal_file(
        application_id=application.public_id,
        side=AppealSide.MERCHANT,
        actor=Actor.of_user(ActorKind.MERCHANT, owner),
        statement="The cup left intact.",
        reason_codes=["evidence_misread"],
    )
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    services.appeal_decide(
        appeal_id=appeal.public_id, reviewer=second_reviewer, verdict="upheld", note="The crack is real."
    )
    (message,) = appeal_emails()
    assert "Order order-8102: your appeal was decided." in message.body
    assert "The decision stands: Approved, 39.90 CNY refunded." in message.body


def test_the_email_is_in_the_users_language(owner, product, reviewer, senior_reviewer):
    NotificationPreference.objects.filter(user=owner).update(language="zh-hans")
    overturn_to_partial(buyer_appeal(rejected_by(reviewer, product, order_ref="order-8103")), senior_reviewer)
    (message,) = appeal_emails()
    assert "申诉" in message.subject and "order-8103" in message.subject
    assert "买家的申诉已有结果" in message.body and "部分批准" in message.body


def test_a_user_who_turned_off_decision_emails_gets_none_and_its_link_turns_them_off(
    client, owner, product, reviewer, senior_reviewer
):
    overturn_to_partial(buyer_appeal(rejected_by(reviewer, product, order_ref="order-8104")), senior_reviewer)
    (message,) = appeal_emails()
    path = "/" + message.extra_headers["List-Unsubscribe"].strip("<>").split("://", 1)[1].split("/", 1)[1]
    assert client.post(path).status_code == 200
    assert NotificationPreference.objects.get(user=owner).decision is False

    overturn_to_partial(buyer_appeal(rejected_by(reviewer, product, order_ref="order-8105")), senior_reviewer)
    assert len(appeal_emails()) == 1
    assert Notification.objects.filter(kind="appeal_decided", status="skipped").count() == 1
