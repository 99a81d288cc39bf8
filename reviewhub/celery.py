"""The Celery application: configuration from Django settings, beat schedule below."""

import os
from datetime import timedelta

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewhub.settings")

app = Celery("reviewhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["refunds", "screening"])


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
        "purge-idempotency-records": {"task": "refunds.purge_idempotency_records", "schedule": timedelta(hours=1)},
        "purge-unused-evidence-uploads": {"task": "refunds.purge_unused_evidence_uploads", "schedule": timedelta(hours=1)},
    }
