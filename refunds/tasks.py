"""Celery tasks of the refund workflow: screening an application, then beat jobs that each catch
up with everything overdue.

The screening task lives here, not in ``screening``: the workflow calls ``screening.services``
to screen and store the findings, and ``refunds.services`` to apply them (transition, audit,
webhooks), so that screening never imports the workflow. The task names stay
``screening.*``: the outbox, the beat schedule and the messages already queued route by name.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from celery import current_app, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, close_old_connections
from django.db import OperationalError as DjangoOperationalError
from django.utils import timezone
from kombu.exceptions import ChannelError
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from refunds import services
from refunds.errors import NotFound
from refunds.integration import idempotency, outbox, webhooks
from refunds.services import (
    SCREEN_TASK,
    application_give_up_screening,
    application_record_screening,
    application_register_delivery,
    application_requeue_stale_screenings,
)
from refunds.services.second_view import COMPARE_TASK, evidence_requests_schedule_comparisons
from screening.services import UnreadableEvidence, application_screen_evidence

log = logging.getLogger(__name__)


def _backoff(attempt: int) -> int:
    # Exponential with jitter, capped below the broker's visibility timeout (settings check).
    return min(settings.SCREENING_RETRY_BACKOFF_MAX, int(5 * 2**attempt + random.uniform(0, 5)))


# Database and broker outages: the task did nothing lasting yet, or stops before its next
# write; retried in a moment rather than acknowledged and lost (late acknowledgement acks a
# failed task).
INFRASTRUCTURE_ERRORS = (DjangoOperationalError, InterfaceError, KombuOperationalError, RedisConnectionError)


@shared_task(
    bind=True,
    name=SCREEN_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # bounded by SCREENING_MAX_ATTEMPTS, which also counts killed deliveries
    time_limit=settings.SCREENING_TIME_LIMIT,
    soft_time_limit=settings.SCREENING_SOFT_TIME_LIMIT,
)
def screen_application(self, application_id: str) -> str:
    """Screen the application's evidence, then let the policy route it."""
    try:
        return _screen(self, application_id)
    except INFRASTRUCTURE_ERRORS as exc:
        log.warning("screening of %s hit an outage, retrying: %r", application_id, exc)
        # A connection that failed mid-query is useless; the next attempt opens a new one.
        close_old_connections()
        raise self.retry(exc=exc, countdown=_backoff(min(self.request.retries, 3))) from exc


def _screen(task, application_id: str) -> str:
    try:
        attempt = application_register_delivery(application_id=application_id)
    except NotFound:
        return "gone"
    if attempt is None:
        # A redelivery after the screening was recorded: the comparison of a second photo may
        # not have been scheduled yet (the worker died in between).
        evidence_requests_schedule_comparisons(application_id=application_id)
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
        application_give_up_screening(
            application_id=application_id, explanation=f"An evidence image is unreadable: {exc}"
        )
        return "unscreened"
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception as exc:
        if attempt >= settings.SCREENING_MAX_ATTEMPTS:
            log.exception("screening of %s failed for good", application_id)
            application_give_up_screening(
                application_id=application_id,
                explanation=f"Screening failed {attempt} times; last error: {type(exc).__name__}.",
            )
            return "unscreened"
        log.warning("screening of %s failed (attempt %d), retrying: %r", application_id, attempt, exc)
        raise task.retry(exc=exc, countdown=_backoff(attempt)) from exc
    application_record_screening(application_id=application_id)
    evidence_requests_schedule_comparisons(application_id=application_id)
    return "screened"


@shared_task(
    bind=True,
    name=COMPARE_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
    time_limit=settings.SCREENING_TIME_LIMIT,
    soft_time_limit=settings.SCREENING_SOFT_TIME_LIMIT,
)
def compare_second_photo(self, request_id: str) -> str:
    """Compare an answered request's second photo with the first, after its screening. The
    comparison never raises for what the photos contain (an unreadable one is a result), and a
    redelivery finds it done; an outage is retried."""
    try:
        found = services.evidence_request_compare_views(request_id=request_id)
    except INFRASTRUCTURE_ERRORS as exc:
        log.warning("comparing the second photo of %s hit an outage, retrying: %r", request_id, exc)
        close_old_connections()
        raise self.retry(exc=exc, countdown=_backoff(min(self.request.retries, 3))) from exc
    return "compared" if found is not None else "nothing to compare"


@shared_task(name="screening.requeue_stale_screenings", acks_late=True)
def requeue_stale_screenings() -> int:
    """Enqueue screening again wherever evidence lacks a result and nothing has been seen of its
    screening for SCREENING_STALE_AFTER (a lost message, a dead worker), unless the screening
    queue still holds a message for each. When the broker lost everything it held since the
    last sweep, every application still waiting is enqueued at once: none of their messages
    is left, and waiting out the staleness would only let them sit."""
    with broker_loss(marker=BROKER_MARKER) as lost:
        return application_requeue_stale_screenings(
            older_than=timedelta(0) if lost else settings.SCREENING_STALE_AFTER,
            queued=_messages_waiting(settings.CELERY_TASK_DEFAULT_QUEUE),
        )


# Kept in the broker's Redis (the screening queue's server and database), with no expiry, by
# every sweep. Gone means that the broker lost its data since the last sweep: a restart without
# persistence, a FLUSHDB, a failover to an empty replica. In the 10 000-application soak, the
# applications whose messages a Redis restart took waited for the staleness rule, about 60 s a
# restart. An eviction of the key (an allkeys eviction policy) only costs a sweep that enqueues
# every waiting application once more, which the screening task absorbs.
BROKER_MARKER = "reviewhub:sweeper:broker-intact-since"
# One marker per sweeper: the first sweep after a loss sets its marker again, so a marker
# shared with the screening sweeper would hide the loss from the video sweeper.
VIDEO_BROKER_MARKER = "reviewhub:sweeper:videos:broker-intact-since"


@contextmanager
def broker_loss(*, marker: str) -> Iterator[bool]:
    """Yield whether the broker lost its messages since the last sweep that set ``marker``,
    setting it again. If the sweep fails after a loss, the marker is removed again: otherwise
    the next sweep would take the broker for intact and leave what was lost to the staleness
    rule."""
    lost = _broker_lost_its_messages(marker=marker)
    try:
        yield lost
    except BaseException:
        if lost:
            _forget_broker_marker(marker=marker)
        raise


def _broker_lost_its_messages(*, marker: str) -> bool:
    """Set ``marker`` if it is missing; return True if it was (the broker lost its messages).
    Return False on brokers other than Redis, and when Redis does not answer now: the sweep
    then keeps to the staleness rule."""
    try:
        with current_app.connection_for_write() as connection:
            if connection.transport.driver_type != "redis":
                return False
            client = connection.default_channel.client
            return bool(client.set(marker, timezone.now().isoformat(), nx=True))
    except (*INFRASTRUCTURE_ERRORS, RedisError, OSError) as exc:
        log.warning("cannot tell whether the broker lost its messages, keeping to the staleness rule: %r", exc)
        return False


def _forget_broker_marker(*, marker: str) -> None:
    try:
        with current_app.connection_for_write() as connection:
            connection.default_channel.client.delete(marker)
    except (*INFRASTRUCTURE_ERRORS, RedisError, OSError) as exc:
        log.warning("could not clear the broker marker after a failed sweep: %r", exc)


def _messages_waiting(queue: str) -> int | None:
    """Return how many messages ``queue`` holds (every priority of it), or None if the broker
    cannot tell now: the sweeper then enqueues as if the queue were empty."""
    try:
        with current_app.connection_for_read() as connection:
            return int(connection.default_channel.queue_declare(queue=queue, passive=True).message_count)
    except ChannelError:  # an empty queue: kombu's Redis transport keeps no key for it
        return 0
    except (*INFRASTRUCTURE_ERRORS, OSError) as exc:
        log.warning("screening queue's depth unknown, sweeping as if it were empty: %r", exc)
        return None


@shared_task(name="refunds.close_expired_windows", acks_late=True)
def close_expired_windows() -> int:
    return services.close_expired_windows()


@shared_task(name="refunds.expire_evidence_requests", acks_late=True)
def expire_evidence_requests() -> int:
    """Close the requests for another photo whose deadline passed; their applications go back to review."""
    return services.expire_evidence_requests()


@shared_task(name="refunds.release_expired_claims", acks_late=True)
def release_expired_claims() -> int:
    return services.release_expired_claims()


@shared_task(name="refunds.purge_idempotency_records", acks_late=True)
def purge_idempotency_records() -> int:
    return idempotency.purge_expired()


@shared_task(name="refunds.deliver_webhooks", acks_late=True)
def deliver_webhooks(endpoint_pk: int, application_pk: int) -> int:
    return webhooks.deliver_kicked(endpoint_pk=endpoint_pk, application_pk=application_pk)


@shared_task(name="refunds.drain_webhooks", acks_late=True)
def drain_webhooks(endpoint_pk: int) -> int:
    # Until beat's next round, which starts the next drain of what is left: drains of one
    # endpoint do not pile up, and each ends far inside the broker's visibility timeout.
    return webhooks.deliver_due(endpoint_pk=endpoint_pk, budget_seconds=settings.BEAT_INTERVAL_SECONDS)


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
    """Send again the packing videos whose preparation was lost on the way. When the broker lost
    everything it held since the last sweep, every video still being prepared is sent again at
    once (as the screening sweeper does): its message is gone, and VIDEO_STALE_AFTER (at least
    five minutes) would only let it sit."""
    with broker_loss(marker=VIDEO_BROKER_MARKER) as lost:
        if lost:
            return services.rebuttal_videos_requeue_stale(older_than=timedelta(0), every_batch=True)
        return services.rebuttal_videos_requeue_stale(older_than=settings.VIDEO_STALE_AFTER)
