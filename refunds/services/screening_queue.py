"""Scheduling an application's screening: the one step every service that adds evidence takes.

Its own module, below both the screening services (which route what screening found, and may
then ask for another photo) and the services that add evidence (a submission, evidence in the
merchant window, the answer to a request for another photo), so that neither imports the other.
"""

from __future__ import annotations

from django.utils import timezone

from refunds.integration import outbox
from refunds.models import RefundApplication

SCREEN_TASK = "screening.screen_application"


def enqueue_screening(application: RefundApplication, *, stamped: bool = False) -> None:
    """Schedule the screening task in the current transaction's outbox: sent once it commits
    (never for a rollback), and by the relay if the broker is down then.
    ``stamped``: the row already carries its ``screening_enqueued_at`` (set at insert)."""
    if not stamped:
        RefundApplication.objects.filter(pk=application.pk).update(screening_enqueued_at=timezone.now())
    outbox.schedule(SCREEN_TASK, [str(application.public_id)])
