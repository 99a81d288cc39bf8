"""The instruments the workflow and the workers count with, kept in every process.

prometheus_client's multiprocess mode keeps each process's values in files under
``PROMETHEUS_MULTIPROC_DIR`` (settings.py sets it before prometheus_client is imported);
``reviewhub/metrics.py`` sums them at scrape time. Importing nothing of the project, this
module may be used from any layer.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery.signals import task_postrun, task_prerun
from django.db import transaction
from prometheus_client import Counter, Histogram

# The folder must exist before the first value is written (prometheus_client opens its files there).
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

TRANSITIONS = Counter(
    "reviewhub_transitions",
    "Transitions of applications, counted when their audit event commits.",
    ["action", "from_state", "to_state"],
)
# Screening is CPU-bound: an image costs tens to hundreds of milliseconds, a 12-MP one about 0.3 s.
SCREENING_CHECK_SECONDS = Histogram(
    "reviewhub_screening_check_seconds",
    "Time spent in each screening check of one evidence image (reference analysis on a cache miss).",
    ["check"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
TASK_SECONDS = Histogram(
    "reviewhub_task_seconds",
    "Duration of Celery tasks in the worker, by task and final state.",
    ["task", "state"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60),
)

# Per attempt, not per delivery: a receiver that fails twice and then accepts shows two here,
# which the delivered/failed counts of reviewhub_webhook_deliveries never would.
WEBHOOK_DELIVERY_FAILURES = Counter(
    "reviewhub_webhook_delivery_failures",
    "Failed webhook delivery attempts, by reason (retried ones included).",
    ["reason"],
)


def webhook_delivery_failed(reason: str) -> None:
    """Count one failed delivery attempt (it happened, whatever becomes of its transaction)."""
    WEBHOOK_DELIVERY_FAILURES.labels(reason).inc()


def transition_counted(*, action: str, from_state: str, to_state: str) -> None:
    """Count a transition once its transaction commits (a rolled-back one never happened)."""
    transaction.on_commit(lambda: TRANSITIONS.labels(action, from_state, to_state).inc())


@contextmanager
def screening_check(check: str) -> Iterator[None]:
    """Time one screening check of one image."""
    started = time.perf_counter()
    try:
        yield
    finally:
        SCREENING_CHECK_SECONDS.labels(check).observe(time.perf_counter() - started)


# Task durations: measured in the pool process that runs the task.
_task_started: dict[str, float] = {}


@task_prerun.connect(dispatch_uid="reviewhub.instruments.task_prerun")
def _task_prerun(task_id: str = "", **kwargs: object) -> None:
    _task_started[task_id] = time.perf_counter()


@task_postrun.connect(dispatch_uid="reviewhub.instruments.task_postrun")
def _task_postrun(task_id: str = "", task: object = None, state: str | None = None, **kwargs: object) -> None:
    started = _task_started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.labels(getattr(task, "name", "?"), state or "?").observe(time.perf_counter() - started)
