"""The Celery application: configuration from Django settings, beat schedule below."""

import logging
import os
from datetime import timedelta

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewhub.settings")

log = logging.getLogger(__name__)


def _guard_redis_restore_unacked() -> None:
    """Keep a worker alive when Redis restarts while it holds unacknowledged messages.

    When the broker connection drops, kombu releases the connection and then, closing the
    channel, tries to put the worker's unacknowledged messages back; with the connection
    already gone that raises ``AttributeError: 'NoneType' object has no attribute
    'hostname'`` and the worker exits ("Unrecoverable error"). Nothing is lost by skipping
    that step: the messages stay in Redis's unacked set and are restored after the visibility
    timeout. Deployments still run workers under a supervisor that restarts them (README).
    """
    from kombu.transport import redis as redis_transport

    original = redis_transport.QoS.restore_unacked
    if getattr(original, "guarded", False):
        return

    def restore_unacked(self: object, client: object = None) -> object:
        try:
            return original(self, client)
        except AttributeError:
            transport = getattr(self.channel, "connection", None)
            if transport is not None and getattr(transport, "client", None) is not None:
                raise  # not the released-connection case
            log.warning(
                "broker connection gone before unacknowledged messages were put back; "
                "Redis restores them after the visibility timeout"
            )
            return None

    restore_unacked.guarded = True  # type: ignore[attr-defined]
    redis_transport.QoS.restore_unacked = restore_unacked


_guard_redis_restore_unacked()

app = Celery("reviewhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["refunds", "refunds.portal", "screening"])
# The worker heartbeat task and the worker-ready signal (reviewhub/heartbeat.py).
app.autodiscover_tasks(["reviewhub"], related_name="heartbeat")


@app.on_after_finalize.connect
def _schedule_periodic_jobs(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    every = timedelta(seconds=settings.BEAT_INTERVAL_SECONDS)
    # Each job looks at everything overdue, not only what fell due since its last
    # run, so beat catches up after any downtime.
    sender.conf.beat_schedule = {
        "close-expired-merchant-windows": {"task": "refunds.close_expired_windows", "schedule": every},
        "release-idle-claims": {"task": "refunds.release_expired_claims", "schedule": every},
        "requeue-stale-screenings": {"task": "screening.requeue_stale_screenings", "schedule": every},
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
