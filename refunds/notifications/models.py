"""Each user's notification preferences and every notification, recorded by the services in the
transaction of the change it reports and sent afterwards.

The tables keep the names they were created with, under the merchant portal that first
showed them (``portal_*``); the services own the records now, and the portal reads them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    WINDOW_OPENED = "window_opened", _("A response window opened")
    DEADLINE_REMINDER = "deadline_reminder", _("A response window closes in 12 hours")
    DECISION = "decision", _("A claim was decided")
    APPEAL_DECIDED = "appeal_decided", _("An appeal was decided")


# The preference that turns each kind of e-mail on or off: an appeal's verdict is the decision
# of the claim said again, so whoever wants decisions wants it, and unsubscribing from one is
# unsubscribing from both.
_PREFERENCE_OF = {NotificationKind.APPEAL_DECIDED: NotificationKind.DECISION}


def preference_kind(kind: str) -> NotificationKind:
    """Return the kind whose preference decides whether e-mails of ``kind`` are sent."""
    return _PREFERENCE_OF.get(NotificationKind(kind), NotificationKind(kind))


class NotificationPreference(models.Model):
    """Which e-mails a portal user wants, and in which language. No row: every e-mail, site language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    window_opened = models.BooleanField(_("when a response window opens"), default=True)
    deadline_reminder = models.BooleanField(_("12 hours before a window closes"), default=True)
    decision = models.BooleanField(_("when a claim is decided"), default=True)
    language = models.CharField(_("e-mail language"), max_length=10, choices=settings.LANGUAGES, blank=True)
    # The language the user last read the portal in: e-mails follow it unless ``language`` says otherwise.
    interface_language = models.CharField(_("portal language"), max_length=10, choices=settings.LANGUAGES, blank=True)

    class Meta:
        db_table = "portal_notificationpreference"
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, preference_kind(kind).value))


class Notification(models.Model):
    """One e-mail to one user about one event. ``key`` names the event for that user, so recording
    the same event twice (a retried task, a beat run repeated) finds the row already there."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Not sent (unsubscribed or no e-mail address)")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name=_("public id"))
    key = models.CharField(max_length=200, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("user"),
    )
    application = models.ForeignKey(
        "refunds.RefundApplication",
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("application"),
    )
    kind = models.CharField(_("kind"), max_length=30, choices=NotificationKind.choices)
    # The appeal an "appeal decided" e-mail is about (an application may have one per side).
    appeal = models.ForeignKey(
        "refunds.Appeal",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("appeal"),
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        db_table = "portal_notification"
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            # The sender's sweep: pending rows, oldest first.
            models.Index(fields=["status", "created_at"], name="notification_pending"),
            # The portal's list of a user's notifications, newest first.
            models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
        ]

    def __str__(self) -> str:
        return self.key
