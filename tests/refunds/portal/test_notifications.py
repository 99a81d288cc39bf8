"""E-mail to the shop's users, on a real broker with a real worker: when the window opens, 12 hours
before it closes and when the claim is decided; each sent once however often its task runs, each
with a working unsubscribe link, and the same events listed in the portal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import current_app
from django.core import mail
from django.utils import timezone

from refunds.models import MerchantMember, RefundApplication
from refunds.notifications.models import Notification, NotificationPreference
from refunds.services import Actor, application_accept
from refunds.services.notifications import (
    SWEEP_MIN_AGE,
    notification_send,
    notifications_remind_deadlines,
    notifications_send_overdue,
    notifications_send_pending,
)
from refunds.states import ActorKind
from tests.conftest import _wait_until_worker_idle, wait_for
from tests.factories import submit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner(merchant_owner):
    merchant_owner.email = "owner@acme.example"
    merchant_owner.save()
    return merchant_owner


@pytest.fixture
def staff_member(merchant):
    """A second user of Acme who has never opened the portal's e-mail settings."""
    from django.contrib.auth.models import User

    user = User.objects.create_user("acme-staff", email="staff@acme.example", password="pw")
    MerchantMember.objects.create(user=user, merchant=merchant)
    return user


def run_task_twice(name: str, **kwargs: object) -> None:
    """Deliver the task twice, as a redelivery after a lost acknowledgement would, and wait for both."""
    current_app.send_task(name, kwargs=kwargs)
    current_app.send_task(name, kwargs=kwargs)
    _wait_until_worker_idle()


def emails_to(address: str, kind_words: str) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if address in m.to and kind_words in m.subject]


def open_window(product) -> RefundApplication:
    application = submit(product, order_ref="order-7001")
    wait_for(lambda: RefundApplication.objects.get(pk=application.pk).state == "awaiting_merchant")
    return RefundApplication.objects.get(pk=application.pk)


def unsubscribe_path(message: mail.EmailMessage) -> str:
    url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert url in message.body
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_the_window_opened_email_goes_to_every_user_of_the_shop_once(celery_worker, owner, staff_member, product):
    application = open_window(product)
    wait_for(lambda: len(mail.outbox) == 2)
    run_task_twice("portal.send_notifications", application_pk=application.pk)
    assert sorted(m.to[0] for m in mail.outbox) == ["owner@acme.example", "staff@acme.example"]
    message = mail.outbox[0]
    assert "order-7001" in message.subject and f"/portal/applications/{application.public_id}/" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert Notification.objects.filter(kind="window_opened", status="sent").count() == 2


def test_the_reminder_is_sent_once_12_hours_before_the_deadline(celery_worker, owner, product):
    application = open_window(product)
    wait_for(lambda: len(mail.outbox) == 1)
    run_task_twice("portal.remind_deadlines")
    assert len(mail.outbox) == 1, "the window closes in 48 hours: no reminder yet"
    RefundApplication.objects.filter(pk=application.pk).update(merchant_deadline=timezone.now() + timedelta(hours=11))
    run_task_twice("portal.remind_deadlines")
    run_task_twice("portal.remind_deadlines")
    assert len(emails_to("owner@acme.example", "10")) == 1, "sent with 10 hours and some minutes left"
    assert Notification.objects.filter(kind="deadline_reminder").count() == 1


def test_the_reminder_names_the_time_really_left(celery_worker, owner, product):
    NotificationPreference.objects.create(user=owner, language="en")
    application = open_window(product)
    wait_for(lambda: len(mail.outbox) == 1)
    RefundApplication.objects.filter(pk=application.pk).update(
        merchant_deadline=timezone.now() + timedelta(hours=3, minutes=30)
    )
    run_task_twice("portal.remind_deadlines")
    (reminder,) = emails_to("owner@acme.example", "left to respond")
    assert reminder.subject.startswith("3 hours left") and "12" not in reminder.subject


def test_the_decision_email_is_sent_once(celery_worker, owner, product):
    application = open_window(product)
    wait_for(lambda: len(mail.outbox) == 1)
    application_accept(application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, owner))
    wait_for(lambda: len(mail.outbox) == 2)
    run_task_twice("portal.send_notifications", application_pk=application.pk)
    decision = mail.outbox[1]
    assert "order-7001" in decision.subject and "39.90 CNY" in decision.body
    assert len(mail.outbox) == 2


def test_a_notification_already_sent_is_not_sent_again(owner, product):
    application = RefundApplication.objects.get(pk=submit(product).pk)
    notification = Notification.objects.create(key="decision:x", user=owner, application=application, kind="decision")
    assert notification_send(notification_pk=notification.pk) is True
    assert notification_send(notification_pk=notification.pk) is False
    assert notifications_send_pending() == 0
    assert len(mail.outbox) == 1


def test_beat_sends_what_a_lost_message_left_pending(celery_worker, owner, product):
    application = RefundApplication.objects.get(pk=submit(product).pk)
    _wait_until_worker_idle()
    mail.outbox.clear()
    # The row was written with its change a while ago, but the message asking to send it never arrived.
    Notification.objects.create(
        key="window_opened:lost",
        user=owner,
        application=application,
        kind="window_opened",
        created_at=timezone.now() - SWEEP_MIN_AGE,
    )
    run_task_twice("portal.send_notifications")
    assert len(mail.outbox) == 1


def test_beat_leaves_a_fresh_notification_to_its_own_message(owner, product):
    application = RefundApplication.objects.get(pk=submit(product).pk)
    Notification.objects.create(key="decision:fresh", user=owner, application=application, kind="decision")

    assert notifications_send_overdue() == 0
    assert notifications_send_overdue(now=timezone.now() + SWEEP_MIN_AGE) == 1
    assert len(mail.outbox) == 1


def test_the_reminder_job_sends_reminders_and_leaves_other_notifications_to_their_messages(owner, product):
    application = RefundApplication.objects.get(pk=submit(product).pk)
    Notification.objects.create(key="decision:fresh", user=owner, application=application, kind="decision")

    notifications_remind_deadlines()

    assert Notification.objects.get(key="decision:fresh").status == "pending"
    assert mail.outbox == []


def test_the_unsubscribe_link_stops_that_kind_of_email(celery_worker, client, owner, product):
    application = open_window(product)
    wait_for(lambda: len(mail.outbox) == 1)
    # Opening the link (as a mail scanner does) only asks; the button unsubscribes.
    page = client.get(unsubscribe_path(mail.outbox[0]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and 'id="unsubscribe"' in page.content.decode()
    assert not NotificationPreference.objects.filter(user=owner, window_opened=False).exists()
    page = client.post(unsubscribe_path(mail.outbox[0]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "You are unsubscribed" in page.content.decode()
    assert NotificationPreference.objects.get(user=owner).window_opened is False
    assert NotificationPreference.objects.get(user=owner).decision is True
    second = open_window(product)
    _wait_until_worker_idle()
    assert len(mail.outbox) == 1
    assert Notification.objects.get(application=second, kind="window_opened").status == "skipped"
    assert Notification.objects.get(application=application, kind="window_opened").status == "sent"


def test_mail_clients_unsubscribe_with_one_post(celery_worker, client, owner, product):
    open_window(product)
    wait_for(lambda: len(mail.outbox) == 1)
    response = client.post(unsubscribe_path(mail.outbox[0]), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=owner).window_opened is False


def test_a_forged_unsubscribe_token_is_refused(client, owner):
    response = client.get("/portal/notifications/unsubscribe/not-a-token/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "not valid" in response.content.decode()


def test_the_portal_lists_the_events_and_saves_the_settings(celery_worker, client, owner, product):
    open_window(product)
    wait_for(lambda: len(mail.outbox) == 1)
    client.force_login(owner)
    page = client.get("/portal/notifications/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "A response window opened" in page and "order-7001" in page
    response = client.post("/portal/notifications/", {"window_opened": "on", "decision": "on", "language": "en"})
    assert response.status_code == 302
    preference = NotificationPreference.objects.get(user=owner)
    assert (preference.window_opened, preference.deadline_reminder, preference.decision, preference.language) == (
        True,
        False,
        True,
        "en",
    )


def test_the_email_speaks_the_language_the_user_reads_the_portal_in(client, owner, product):
    client.force_login(owner)
    assert client.get("/portal/", HTTP_ACCEPT_LANGUAGE="en").status_code == 200
    application = RefundApplication.objects.get(pk=submit(product).pk)
    notification = Notification.objects.create(
        key="decision:portal-language", user=owner, application=application, kind="decision"
    )
    notification_send(notification_pk=notification.pk)
    assert mail.outbox[-1].subject == "The refund claim for order order-1 was decided"
    # A language chosen for e-mails still wins.
    NotificationPreference.objects.filter(user=owner).update(language="zh-hans")
    notification = Notification.objects.create(
        key="decision:chosen", user=owner, application=application, kind="decision"
    )
    notification_send(notification_pk=notification.pk)
    assert mail.outbox[-1].subject == "订单 order-1 的退款申请已裁定"


@pytest.mark.parametrize(
    ("language", "subject"),
    [("", "订单 order-1 的退款申请已裁定"), ("en", "The refund claim for order order-1 was decided")],
)
def test_the_email_speaks_the_users_language(owner, product, language, subject):
    NotificationPreference.objects.create(user=owner, language=language)
    application = RefundApplication.objects.get(pk=submit(product).pk)
    notification = Notification.objects.create(
        key=f"decision:{language}", user=owner, application=application, kind="decision"
    )
    notification_send(notification_pk=notification.pk)
    assert mail.outbox[-1].subject == subject
    assert f"?shop={product.merchant.public_id}" in mail.outbox[-1].body
