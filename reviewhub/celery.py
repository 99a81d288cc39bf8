"""The Celery application: configuration from Django settings, beat schedule below."""

import logging
import os
from datetime import timedelta

from celery import Celery
from celery.signals import (
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_process_shutdown,
    worker_shutdown,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewhub.settings")

log = logging.getLogger(__name__)


def _guard_redis_released_channel() -> None:
    """Keep a worker alive when Redis restarts while it holds unacknowledged messages.

    When the broker connection drops, the consumer closes its channel and releases the
    connection; the running tasks' messages still point at that channel. Closing it, kombu
    tries to put those messages back, and later, when each task ends, Celery acknowledges it
    (late ack) or rejects it on that same channel. Once the connection is released, the channel
    can no longer build a Redis client: kombu fails with ``AttributeError: 'NoneType' object
    has no attribute 'client'`` (or ``'hostname'``), which Celery does not know as a broker
    error, so it reports "Unrecoverable error" and the worker exits.

    Every Redis command of a channel (ack, reject/requeue, restore, the health checks) gets
    its client from ``Channel._create_client``: there, that failure becomes a connection
    error of the transport, which kombu and Celery already recover from. An ack or reject is
    logged as not done ("Couldn't ack") and the worker carries on with its new connection;
    the message stays in Redis's unacked set and is delivered again after the visibility
    timeout, which screening's idempotency absorbs (late ack, reject_on_worker_lost). The
    put-back at close is skipped with a warning for the same reason.
    """
    from kombu.transport import redis as redis_transport
    from redis.exceptions import ConnectionError as RedisConnectionError

    channel_class, qos_class = redis_transport.Channel, redis_transport.QoS
    if getattr(channel_class._create_client, "guarded", False):
        return

    class ReleasedChannel(RedisConnectionError):
        """The channel's broker connection was released (a reconnect replaced it)."""

    def released(channel: object) -> bool:
        transport = getattr(channel, "connection", None)
        return transport is None or getattr(transport, "client", None) is None

    create_client = channel_class._create_client

    def _create_client(self: object, asynchronous: bool = False) -> object:
        try:
            return create_client(self, asynchronous)
        except AttributeError as exc:
            if not released(self):
                raise  # not the released-connection case
            raise ReleasedChannel(f"the channel's broker connection was released: {exc}") from exc

    restore_unacked = qos_class.restore_unacked

    def guarded_restore_unacked(self: object, client: object = None) -> object:
        try:
            return restore_unacked(self, client)
        except ReleasedChannel:
            log.warning(
                "broker connection gone before unacknowledged messages were put back; "
                "Redis restores them after the visibility timeout"
            )
            return None

    _create_client.guarded = True  # type: ignore[attr-defined]
    channel_class._create_client = _create_client
    qos_class.restore_unacked = guarded_restore_unacked


_guard_redis_released_channel()


@task_prerun.connect(dispatch_uid="reviewhub.celery.recycle_connections_before")
@task_postrun.connect(dispatch_uid="reviewhub.celery.recycle_connections_after")
def _recycle_database_connections(task: object = None, **kwargs: object) -> None:
    """Around each task, what Django does around each request: close a connection that is past
    CONN_MAX_AGE or broke (a database restart, pg_terminate_backend), and health-check the one
    kept before the task's first query. Eager tasks run inside their caller's transaction."""
    if task is None or getattr(getattr(task, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@worker_process_init.connect(dispatch_uid="reviewhub.celery.screening_process")
def _prepare_screening_process(**kwargs: object) -> None:
    """Give each pool process what the command line gives its screening workers
    (screening/core/cli.py): one OpenCV thread, since the pool already spreads the screenings
    over the cores (OpenCV started one thread per core in each process, so two processes on two
    cores ran four threads), and a malloc that keeps one image's freed planes for the next
    instead of handing them back to the kernel to be zeroed again (screening/core/memory.py:
    a seventh of the CPU time of 12 MP photographs went to those page faults). Values are not
    touched, only threads and where the bytes come from. The memory kept is the peak of one
    screening per process, which --max-tasks-per-child releases with the process."""
    import cv2

    from screening.core.memory import keep_freed_memory

    cv2.setNumThreads(1)
    keep_freed_memory()


@worker_shutdown.connect(dispatch_uid="reviewhub.celery.close_connections_worker")
@worker_process_shutdown.connect(dispatch_uid="reviewhub.celery.close_connections_process")
def _close_database_connections(**kwargs: object) -> None:
    """A worker that stops ends its kept connections instead of leaving them to the server."""
    from django.db import connections

    connections.close_all()


app = Celery("reviewhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["refunds", "refunds.portal", "screening"])
# The worker heartbeat task and the worker-ready signal (reviewhub/heartbeat.py).
app.autodiscover_tasks(["reviewhub"], related_name="heartbeat")
# The worker's own metrics port opens when the worker is ready (reviewhub/metrics.py).
app.autodiscover_tasks(["reviewhub"], related_name="metrics")


@app.on_after_finalize.connect
def _schedule_periodic_jobs(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    every = timedelta(seconds=settings.BEAT_INTERVAL_SECONDS)
    # Each job looks at everything overdue, not only what fell due since its last
    # run, so beat catches up after any downtime.
    sender.conf.beat_schedule = {
        "close-expired-merchant-windows": {"task": "refunds.close_expired_windows", "schedule": every},
        "release-idle-claims": {"task": "refunds.release_expired_claims", "schedule": every},
        "expire-evidence-requests": {"task": "refunds.expire_evidence_requests", "schedule": every},
        "requeue-stale-screenings": {"task": "screening.requeue_stale_screenings", "schedule": every},
        "requeue-stale-videos": {"task": "refunds.requeue_stale_videos", "schedule": every},
        "relay-outbox": {"task": "refunds.relay_outbox", "schedule": every},
        "retry-due-webhooks": {"task": "refunds.retry_due_webhooks", "schedule": every},
        "send-pending-notifications": {"task": "portal.send_notifications", "schedule": every},
        "remind-merchant-deadlines": {"task": "portal.remind_deadlines", "schedule": every},
        # Proves that a worker takes tasks off the broker (read by /readyz).
        "worker-heartbeat": {"task": "reviewhub.heartbeat", "schedule": every},
        "purge-idempotency-records": {"task": "refunds.purge_idempotency_records", "schedule": timedelta(hours=1)},
        "purge-unused-evidence-uploads": {
            "task": "refunds.purge_unused_evidence_uploads",
            "schedule": timedelta(hours=1),
        },
    }
