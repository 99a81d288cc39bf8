"""Notification tasks: thin adapters over ``refunds.services.notifications``."""

from celery import shared_task

from refunds.services import notifications


@shared_task(name="portal.send_notifications", acks_late=True)
def send_notifications(application_pk: int | None = None) -> int:
    """Send an application's pending notifications (the message its change sent), or, from
    beat, those whose message was lost."""
    if application_pk is None:
        return notifications.notifications_send_overdue()
    return notifications.notifications_send_pending(application_pk=application_pk)


@shared_task(name="portal.remind_deadlines", acks_late=True)
def remind_deadlines() -> int:
    return notifications.notifications_remind_deadlines()
