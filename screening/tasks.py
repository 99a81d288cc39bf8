"""Celery tasks of screening: thin adapters around the services."""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from refunds.errors import NotFound
from refunds.models import RefundApplication
from refunds.services import (
    application_give_up_screening,
    application_record_screening,
    application_register_delivery,
    enqueue_screening,
)
from refunds.states import ApplicationState
from screening.services import UnreadableEvidence, application_screen_evidence

log = logging.getLogger(__name__)


def _backoff(attempt: int) -> int:
    # Exponential with jitter, capped below the broker's visibility timeout (settings check).
    return min(settings.SCREENING_RETRY_BACKOFF_MAX, int(5 * 2**attempt + random.uniform(0, 5)))


@shared_task(
    bind=True,
    name="screening.screen_application",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by SCREENING_MAX_ATTEMPTS, which also counts killed deliveries
    time_limit=settings.SCREENING_TIME_LIMIT,
    soft_time_limit=settings.SCREENING_SOFT_TIME_LIMIT,
)
def screen_application(self, application_id: str) -> str:
    """Screen the application's evidence, then let the policy route it."""
    try:
        attempt = application_register_delivery(application_id=application_id)
    except NotFound:
        return "gone"
    if attempt is None:
        return "already screened"
    if attempt > settings.SCREENING_MAX_ATTEMPTS:
        application_give_up_screening(
            application_id=application_id,
            explanation=f"Screening did not complete in {attempt - 1} attempts.",
        )
        return "unscreened"
    try:
        application_screen_evidence(application_id=application_id)
    except UnreadableEvidence as exc:
        application_give_up_screening(application_id=application_id, explanation=f"An evidence image is unreadable: {exc}")
        return "unscreened"
    except Exception as exc:
        if attempt >= settings.SCREENING_MAX_ATTEMPTS:
            log.exception("screening of %s failed for good", application_id)
            application_give_up_screening(
                application_id=application_id,
                explanation=f"Screening failed {attempt} times; last error: {type(exc).__name__}.",
            )
            return "unscreened"
        log.warning("screening of %s failed (attempt %d), retrying: %r", application_id, attempt, exc)
        raise self.retry(exc=exc, countdown=_backoff(attempt)) from exc
    application_record_screening(application_id=application_id)
    return "screened"


@shared_task(name="screening.requeue_stale_submissions", acks_late=True)
def requeue_stale_submissions() -> int:
    """Enqueue screening again for applications left in ``submitted`` too long (a lost message)."""
    cutoff = timezone.now() - settings.SCREENING_STALE_AFTER
    stale = RefundApplication.objects.filter(state=ApplicationState.SUBMITTED, screening_enqueued_at__lt=cutoff)
    count = 0
    for application in stale.only("pk", "public_id"):
        with transaction.atomic():
            enqueue_screening(application)
        count += 1
    return count
