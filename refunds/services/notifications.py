"""E-mail to a shop's users when a response window opens, 12 hours before it closes and when a
claim is decided.

Each notification is a row written in the transaction of the change it reports (or by the beat
job, for reminders) under a unique key, and sent afterwards by a task: a rolled-back change sends
nothing, and a task that is retried or delivered twice finds the row sent and sends nothing more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from refunds.compiled import CompiledQuery, Slot
from refunds.errors import ErrorCode, InvalidInput
from refunds.integration import outbox
from refunds.models import Appeal, MerchantMember, RefundApplication
from refunds.notifications.models import Notification, NotificationKind, NotificationPreference, preference_kind
from refunds.states import ApplicationState

logger = logging.getLogger(__name__)

SEND_TASK = "portal.send_notifications"
REMINDER_LEAD = timedelta(hours=12)
_UNSUBSCRIBE_SALT = "reviewhub.portal.unsubscribe"


def _kind_of_transition(application: RefundApplication, from_state: str) -> str | None:
    if application.state == ApplicationState.AWAITING_MERCHANT and from_state != ApplicationState.AWAITING_MERCHANT:
        return NotificationKind.WINDOW_OPENED
    if application.state == ApplicationState.DECIDED and from_state != ApplicationState.DECIDED:
        return NotificationKind.DECISION
    return None


def _rows(
    application: RefundApplication, kind: str, suffix: str = "", appeal: Appeal | None = None
) -> list[Notification]:
    """Return a pending notification (unsaved) for every user of the application's shop."""
    user_ids = MerchantMember.objects.filter(merchant_id=application.merchant_id).values_list("user_id", flat=True)
    return [
        Notification(
            key=f"{kind}:{application.public_id}:{user_id}{suffix}",
            user_id=user_id,
            application=application,
            kind=kind,
            appeal=appeal,
        )
        for user_id in user_ids
    ]


def _record(application: RefundApplication, kind: str, suffix: str = "", appeal: Appeal | None = None) -> int:
    """Write a pending notification for every user of the application's shop; return how many are new."""
    rows = _rows(application, kind, suffix, appeal)
    existing = set(Notification.objects.filter(key__in=[row.key for row in rows]).values_list("key", flat=True))
    # The unique key, not the look-up above, is what guarantees one row per event and user.
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len({row.key for row in rows} - existing)


def notifications_record_transition(application: RefundApplication, *, from_state: str) -> None:
    """Record the notifications a state change causes, in the caller's transaction, and ask for
    them to be sent once it commits (beat sends them anyway if that message is lost)."""
    kind = _kind_of_transition(application, from_state)
    if kind is None:
        return
    # Without asking first which rows are already there (a query in every screening and every
    # decision): the state was just entered under the row lock, so its rows are new, and were
    # one there (a state entered twice), the unique key keeps it once and the kick finds
    # nothing more to send.
    rows = _rows(application, kind)
    if rows:
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        _send_on_commit(application.pk)


def notifications_record_appeal_decided(application: RefundApplication, *, appeal: Appeal) -> None:
    """Record the e-mail telling the shop's users how an appeal of the application's decision was
    decided (whichever side appealed), in the caller's transaction, and ask for it to be sent once
    it commits."""
    if _record(application, NotificationKind.APPEAL_DECIDED, suffix=f":{appeal.public_id}", appeal=appeal):
        _send_on_commit(application.pk)


def _send_on_commit(application_pk: int | None = None) -> None:
    def send() -> None:
        try:
            current_app.send_task(SEND_TASK, kwargs={"application_pk": application_pk})
        except Exception:  # noqa: BLE001 - the broker being away must not fail a committed change
            logger.warning("could not enqueue notifications; beat will send them", exc_info=True)

    outbox.on_commit_once((SEND_TASK, application_pk), send)


def notifications_remind_deadlines(*, now: datetime | None = None) -> int:
    """Record a reminder for every open window that closes within 12 hours (once per deadline)
    and send what is pending; return how many reminders are new."""
    now = now or timezone.now()
    closing = RefundApplication.objects.filter(
        state=ApplicationState.AWAITING_MERCHANT, merchant_deadline__gt=now, merchant_deadline__lte=now + REMINDER_LEAD
    )
    created = 0
    for application in closing:
        # The deadline is part of the key: a window that is reopened with a new deadline reminds again.
        created += _record(
            application, NotificationKind.DEADLINE_REMINDER, suffix=f":{int(application.merchant_deadline.timestamp())}"
        )
    # Its own only: the others have a message of their own, and beat's sweep for lost ones.
    notifications_send_pending(kind=NotificationKind.DEADLINE_REMINDER)
    return created


# Beat's sweep leaves notifications younger than this to the message their own transaction sent,
# as the outbox's relay leaves its rows. The sweep and the reminder job each went through every
# notification written since their last round, whose messages were still on their way, so a
# fresh one was locked and read up to three times: in the soak's profile the reminder job alone
# took 3 % of the worker's samples, nearly all of it on notifications that were not its own.
SWEEP_MIN_AGE = outbox.RELAY_MIN_AGE


def notifications_send_pending(*, application_pk: int | None = None, kind: str | None = None) -> int:
    """Send every pending notification (of one application, of one kind, if given); return how
    many were sent."""
    pending = Notification.objects.filter(status=Notification.Status.PENDING)
    if application_pk is not None:
        pending = pending.filter(application_id=application_pk)
    if kind is not None:
        pending = pending.filter(kind=kind)
    ids = list(pending.order_by("created_at").values_list("pk", flat=True))
    return sum(notification_send(notification_pk=pk) for pk in ids)


def notifications_send_overdue(*, now: datetime | None = None) -> int:
    """Send the pending notifications older than ``SWEEP_MIN_AGE``, whose message was lost or
    never sent (beat's sweep); return how many were sent."""
    cutoff = (now or timezone.now()) - SWEEP_MIN_AGE
    ids = list(
        Notification.objects.filter(status=Notification.Status.PENDING, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    return sum(notification_send(notification_pk=pk) for pk in ids)


def preference_for(user: User) -> NotificationPreference:
    """Return the user's preferences, unsaved defaults if the user never changed them."""
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(user=user)


# A notification with everything its e-mail says, compiled once and prepared (refunds.compiled):
# its ten tables took PostgreSQL 7.5 ms to plan and 0.4 ms to run (EXPLAIN ANALYZE on the soak's
# database), at every e-mail. SKIP LOCKED: a concurrent delivery of the same task is sending
# this row; it is its job.
_PENDING_NOTIFICATION = CompiledQuery(
    lambda: (
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related(
            "user__notification_preference",
            "application__merchant",
            "application__product",
            "application__decision",
            "appeal__decision",
            "appeal__appeal_decision",
        )
        .filter(
            pk=Slot("notification", Notification._meta.get_field("id")),
            status=Notification.Status.PENDING,
        )
    )
)


def notification_send(*, notification_pk: int) -> bool:
    """Send one pending notification and mark it sent; return False if it was not pending (sent
    by another delivery of the task) or the user does not want it."""
    with transaction.atomic():
        notification = _PENDING_NOTIFICATION.first(notification=notification_pk)
        if notification is None:
            return False
        # Read with the notification, one query fewer per e-mail than preference_for.
        try:
            preference = notification.user.notification_preference
        except NotificationPreference.DoesNotExist:
            preference = NotificationPreference(user=notification.user)
        if not notification.user.email or not notification.user.is_active or not preference.wants(notification.kind):
            notification.status = Notification.Status.SKIPPED
            notification.save(update_fields=["status"])
            return False
        _message(notification, preference).send()
        notification.status = Notification.Status.SENT
        notification.sent_at = timezone.now()
        notification.save(update_fields=["status", "sent_at"])
        return True


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def unsubscribe_token(*, user: User, kind: str) -> str:
    return signing.dumps({"u": user.pk, "k": kind}, salt=_UNSUBSCRIBE_SALT, compress=True)


def _message(notification: Notification, preference: NotificationPreference) -> EmailMultiAlternatives:
    application = notification.application
    unsubscribe = _absolute(
        reverse(
            "portal:unsubscribe",
            args=[unsubscribe_token(user=notification.user, kind=preference_kind(notification.kind))],
        )
    )
    context: dict[str, Any] = {
        "application": application,
        "user": notification.user,
        "kind": notification.kind,
        "deadline": timezone.localtime(application.merchant_deadline) if application.merchant_deadline else None,
        "decision": getattr(application, "decision", None) if application.state == ApplicationState.DECIDED else None,
        "appeal": notification.appeal,
        "ruling": getattr(notification.appeal, "appeal_decision", None) if notification.appeal else None,
        # ?shop= makes the link open in this shop for a user who acts for several.
        "url": _absolute(
            reverse("portal:application", args=[application.public_id]) + f"?shop={application.merchant.public_id}"
        ),
        "unsubscribe_url": unsubscribe,
    }
    with translation.override(preference.language or preference.interface_language or settings.LANGUAGE_CODE):
        if application.merchant_deadline is not None:
            # Said at the moment of sending: a reminder sent late, or for a window shorter than
            # the lead, must not claim twelve hours that are not left.
            context["time_left"] = _time_left(application.merchant_deadline - timezone.now())
        subject = render_to_string(f"portal/email/{notification.kind}_subject.txt", context).strip()
        body = render_to_string(f"portal/email/{notification.kind}.txt", context)
    message = EmailMultiAlternatives(
        subject,
        body,
        to=[notification.user.email],
        headers={
            # One-click unsubscribe from the mail client (RFC 8058).
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    return message


def unsubscribe_token_read(*, token: str) -> tuple[User, NotificationKind]:
    """Return the user and the kind of e-mail the token names, changing nothing; raise
    InvalidInput for a bad token."""
    try:
        data = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
        kind = NotificationKind(data["k"])
        user = get_user_model().objects.get(pk=int(data["u"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError, ObjectDoesNotExist):
        raise InvalidInput(ErrorCode.INVALID_TOKEN) from None
    return user, kind


def _time_left(delta: timedelta) -> str:
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    hours = minutes // 60
    return ngettext("%(n)d hour", "%(n)d hours", hours) % {"n": hours}


def notification_unsubscribe(*, token: str) -> tuple[User, NotificationKind]:
    """Turn off one kind of e-mail for the user the token names; raise InvalidInput for a bad token."""
    user, kind = unsubscribe_token_read(token=token)
    preference, _created = NotificationPreference.objects.get_or_create(user=user)
    setattr(preference, kind.value, False)
    preference.save(update_fields=[kind.value])
    return user, kind


def notification_interface_language_record(*, user: User, language: str) -> None:
    """Remember the language the user reads the portal in, for e-mails sent in "the site's" language."""
    if language in dict(settings.LANGUAGES):
        NotificationPreference.objects.update_or_create(user=user, defaults={"interface_language": language})


def notification_preferences_update(
    *, user: User, window_opened: bool, deadline_reminder: bool, decision: bool, language: str
) -> NotificationPreference:
    """Save which e-mails the user wants and in which language ("" for the site's)."""
    preference, _created = NotificationPreference.objects.update_or_create(
        user=user,
        defaults={
            "window_opened": window_opened,
            "deadline_reminder": deadline_reminder,
            "decision": decision,
            "language": language,
        },
    )
    return preference
