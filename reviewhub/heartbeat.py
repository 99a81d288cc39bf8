"""Workers and beat record that they are alive, for ``/readyz`` and ``manage.py health``.

- Beat records ``beat`` on every tick of its scheduler (``HeartbeatScheduler``, configured as
  ``CELERY_BEAT_SCHEDULER``), at most every few seconds: its freshness is beat's last run.
- A worker records ``worker:<hostname>`` when it is ready and whenever it runs the
  ``reviewhub.heartbeat`` task, which beat sends every ``BEAT_INTERVAL_SECONDS``. The task goes
  through the broker and a pool process like any screening, so a fresh worker heartbeat says
  that the whole path works, not only that a process exists.

Nothing here may take a worker or beat down: a failed write is logged and forgotten.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from celery import shared_task
from celery.beat import PersistentScheduler
from celery.signals import worker_ready

log = logging.getLogger(__name__)

BEAT = "beat"
WORKER_PREFIX = "worker:"
# Rows of workers gone for this long are dropped (hosts come and go with deployments).
FORGET_AFTER = timedelta(days=1)
# Beat ticks often (at every due entry); one write per this many seconds is plenty.
BEAT_RECORD_EVERY = 5.0


def record(name: str) -> bool:
    """Write the heartbeat ``name`` at the current time; return whether it was written."""
    from django.db import DatabaseError, close_old_connections, connection
    from django.utils import timezone

    from reviewhub.models import Heartbeat

    try:
        Heartbeat.objects.update_or_create(name=name[:200], defaults={"at": timezone.now()})
    except DatabaseError as exc:
        log.warning("heartbeat %s not recorded: %s", name, type(exc).__name__)
        # A broken connection outside any request is never closed for us; the next try reconnects.
        if not connection.in_atomic_block:
            connection.close()
        return False
    if not connection.in_atomic_block:
        # Beat holds no request cycle that would close it; an idle connection would go stale.
        close_old_connections()
    return True


class HeartbeatScheduler(PersistentScheduler):
    """Celery's default scheduler that also records beat's heartbeat as it ticks."""

    _last_recorded = float("-inf")

    def tick(self, *args: object, **kwargs: object) -> float:
        now = time.monotonic()
        if now - self._last_recorded >= BEAT_RECORD_EVERY:
            self._last_recorded = now
            record(BEAT)
        return super().tick(*args, **kwargs)


@shared_task(name="reviewhub.heartbeat", ignore_result=True)
def heartbeat() -> None:
    from django.utils import timezone

    from reviewhub.models import Heartbeat

    hostname = heartbeat.request.hostname or "unknown"
    if record(WORKER_PREFIX + hostname):
        Heartbeat.objects.filter(at__lt=timezone.now() - FORGET_AFTER).delete()


@worker_ready.connect(dispatch_uid="reviewhub.heartbeat.worker_ready")
def _worker_ready(sender: object = None, **kwargs: object) -> None:
    record(WORKER_PREFIX + (getattr(sender, "hostname", None) or "unknown"))
