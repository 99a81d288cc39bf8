"""Beat jobs of the refund workflow. Each catches up with everything overdue."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from refunds import services
from refunds.integration import idempotency, outbox, webhooks


@shared_task(name="refunds.close_expired_windows", acks_late=True)
def close_expired_windows() -> int:
    return services.close_expired_windows()


@shared_task(name="refunds.release_expired_claims", acks_late=True)
def release_expired_claims() -> int:
    return services.release_expired_claims()


@shared_task(name="refunds.purge_idempotency_records", acks_late=True)
def purge_idempotency_records() -> int:
    return idempotency.purge_expired()


@shared_task(name="refunds.deliver_webhooks", acks_late=True)
def deliver_webhooks(endpoint_pk: int, application_pk: int) -> int:
    return webhooks.deliver_pending(endpoint_pk=endpoint_pk, application_pk=application_pk)


@shared_task(name="refunds.retry_due_webhooks", acks_late=True)
def retry_due_webhooks() -> int:
    return webhooks.retry_due()


@shared_task(name="refunds.purge_unused_evidence_uploads", acks_late=True)
def purge_unused_evidence_uploads() -> int:
    return services.evidence_uploads_purge()


@shared_task(name="refunds.relay_outbox", acks_late=True)
def relay_outbox() -> int:
    return outbox.relay()


log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    name="refunds.prepare_rebuttal_video",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by VIDEO_MAX_ATTEMPTS, counted in the database
    time_limit=settings.VIDEO_TIME_LIMIT,
    soft_time_limit=settings.VIDEO_SOFT_TIME_LIMIT,
)
def prepare_rebuttal_video(self, attachment_pk: int) -> str:
    """Make a packing video's playable copy and poster. A video too long to convert within the
    time limit is marked failed at once (it would overrun again); a killed worker's delivery
    counts as an attempt, so a poison video ends failed, never in a loop."""
    try:
        return services.rebuttal_video_prepare(attachment_id=attachment_pk)
    except SoftTimeLimitExceeded:
        log.warning("rebuttal video %s took longer than the time limit", attachment_pk)
        services.rebuttal_video_fail(attachment_id=attachment_pk)
        return "failed"
    except Exception as exc:
        # An outage (storage, database): tried again shortly; the attempt was counted, so a
        # fault that never clears ends with the video marked failed.
        log.warning("preparing rebuttal video %s failed, retrying: %r", attachment_pk, exc)
        raise self.retry(exc=exc, countdown=min(30, settings.VIDEO_SOFT_TIME_LIMIT)) from exc


@shared_task(name="refunds.requeue_stale_videos", acks_late=True)
def requeue_stale_videos() -> int:
    """Send again the packing videos whose preparation was lost on the way."""
    return services.rebuttal_videos_requeue_stale(older_than=settings.VIDEO_STALE_AFTER)
