"""Prometheus metrics, all named ``reviewhub_*``, served at ``/metrics``.

Two kinds:

- **Counted where they happen** (transitions, screening check latency, task durations,
  defined in ``reviewhub/instruments.py``), in every process: gunicorn's workers and Celery's prefork pool children. prometheus_client's
  multiprocess mode keeps each process's values in files under ``PROMETHEUS_MULTIPROC_DIR``
  (settings.py sets it before prometheus_client is imported), and a scrape sums the files of
  every process on the host, dead ones included, so counters never go backwards when a pool
  child is replaced. A worker on a host without the web server serves the same sum on
  ``WORKER_METRICS_PORT``.
- **Read at scrape time** from the database and the broker (applications by state, ages,
  deadlines, webhook backlog, reviewer queue, queue depth): one process answers for the
  whole deployment, so these come only from ``/metrics`` on the web server.

Access: loopback in development; in production a bearer token (``METRICS_TOKEN``) or an
allow-list of addresses (``METRICS_ALLOWED_ADDRESSES``); 403 otherwise.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import math
import os
from collections.abc import Iterator
from datetime import timedelta

from celery.signals import worker_ready
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

# The instruments counted in every process are in reviewhub/instruments.py; imported here
# so that a process that serves the scrape has registered their signal handlers too.
from reviewhub import instruments  # noqa: E402, F401


class DatabaseCollector:
    """Gauges read from the database at scrape time, a few indexed queries."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count, Min, Q
        from django.utils import timezone

        from refunds.models import OutboxTask, RefundApplication, WebhookDelivery
        from refunds.states import ApplicationState
        from reviewhub.heartbeat import BEAT, WORKER_PREFIX
        from reviewhub.models import Heartbeat

        now = timezone.now()
        soon = now + timedelta(hours=1)

        def age(moment) -> float:  # noqa: ANN001
            return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0

        apps = RefundApplication.objects.order_by()
        by_state = dict(apps.values_list("state").annotate(n=Count("pk")))
        gauge = GaugeMetricFamily("reviewhub_applications", "Applications by state.", labels=["state"])
        for state in ApplicationState.values:
            gauge.add_metric([state], by_state.get(state, 0))
        yield gauge

        oldest = apps.filter(state=ApplicationState.SUBMITTED).aggregate(at=Min("created_at"))["at"]
        yield GaugeMetricFamily(
            "reviewhub_oldest_submitted_age_seconds",
            "Age of the oldest application still waiting for screening (0 when none waits).",
            value=age(oldest),
        )

        gauge = GaugeMetricFamily(
            "reviewhub_deadlines_due_within_hour",
            "Open deadlines due within the next hour, overdue ones not yet handled included.",
            labels=["deadline"],
        )
        gauge.add_metric(
            ["merchant_window"],
            apps.filter(state=ApplicationState.AWAITING_MERCHANT, merchant_deadline__lte=soon).count(),
        )
        gauge.add_metric(["review"], apps.filter(state=ApplicationState.IN_REVIEW, review_due_at__lte=soon).count())
        yield gauge

        live_claim = Q(claimed_by__isnull=False, claim_expires_at__gt=now)
        queue = apps.filter(state=ApplicationState.IN_REVIEW).aggregate(
            claimed=Count("pk", filter=live_claim),
            unclaimed=Count("pk", filter=~live_claim),
            oldest=Min("review_started_at"),
        )
        gauge = GaugeMetricFamily(
            "reviewhub_review_queue_size",
            "Applications in human review, by whether a live claim holds them.",
            labels=["claimed"],
        )
        gauge.add_metric(["yes"], queue["claimed"])
        gauge.add_metric(["no"], queue["unclaimed"])
        yield gauge
        yield GaugeMetricFamily(
            "reviewhub_review_queue_oldest_age_seconds",
            "Time the longest-waiting application has been in review (0 when the queue is empty).",
            value=age(queue["oldest"]),
        )

        pending = WebhookDelivery.objects.order_by().filter(status=WebhookDelivery.Status.PENDING)
        hooks = pending.aggregate(
            pending=Count("pk"), retrying=Count("pk", filter=Q(attempts__gt=0)), oldest=Min("event__created_at")
        )
        failed = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.FAILED).count()
        gauge = GaugeMetricFamily(
            "reviewhub_webhook_deliveries",
            "Webhook deliveries not delivered: pending, retrying (pending after a failed attempt), failed (given up).",
            labels=["status"],
        )
        gauge.add_metric(["pending"], hooks["pending"])
        gauge.add_metric(["retrying"], hooks["retrying"])
        gauge.add_metric(["failed"], failed)
        yield gauge
        yield GaugeMetricFamily(
            "reviewhub_webhook_delivery_lag_seconds",
            "Age of the oldest event still waiting for a delivery (0 when none waits).",
            value=age(hooks["oldest"]),
        )

        outbox = OutboxTask.objects.order_by().aggregate(n=Count("pk"), oldest=Min("created_at"))
        yield GaugeMetricFamily(
            "reviewhub_outbox_tasks", "Tasks waiting in the outbox for the broker.", value=outbox["n"]
        )

        beats = dict(Heartbeat.objects.filter(name=BEAT).values_list("name", "at"))
        workers = list(Heartbeat.objects.filter(name__startswith=WORKER_PREFIX).values_list("at", flat=True))
        gauge = GaugeMetricFamily(
            "reviewhub_heartbeat_age_seconds",
            "Seconds since beat's last tick and since the newest worker heartbeat (NaN when never seen).",
            labels=["component"],
        )
        gauge.add_metric(["beat"], age(beats[BEAT]) if beats else math.nan)
        gauge.add_metric(["worker"], age(max(workers)) if workers else math.nan)
        yield gauge


class BrokerCollector:
    """Each Celery queue's depth, read from Redis at scrape time; NaN (unknown) on other brokers."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from reviewhub.celery import app
        from reviewhub.health import broker_url, redis_client

        queues = list(app.amqp.queues)
        depth = GaugeMetricFamily(
            "reviewhub_queue_depth",
            "Messages waiting in a Celery queue (NaN: unknown for this broker).",
            labels=["queue"],
        )
        unacked = GaugeMetricFamily(
            "reviewhub_queue_unacked", "Messages taken by workers and not yet acknowledged (Redis only)."
        )
        url = broker_url()
        if url.split("://", 1)[0] not in {"redis", "rediss"}:
            for queue in queues:
                depth.add_metric([queue], math.nan)
            yield depth
            return
        with redis_client(url) as client:
            # kombu keeps one list per priority step; messages without a priority go to the first.
            pipe = client.pipeline()
            for queue in queues:
                for key in [queue] + [f"{queue}\x06\x16{step}" for step in (1, 2, 3, 4, 5, 6, 7, 8, 9)]:
                    pipe.llen(key)
            pipe.hlen("unacked")
            *lengths, in_flight = pipe.execute()
        for index, queue in enumerate(queues):
            depth.add_metric([queue], sum(lengths[index * 10 : (index + 1) * 10]))
        unacked.add_metric([], in_flight)
        yield depth
        yield unacked


class _Guarded:
    """Run a collector; when its source is down, report that instead of failing the scrape."""

    def __init__(self, source: str, collector: object) -> None:
        self.source, self.collector = source, collector

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "reviewhub_metrics_source_up", "Whether a scrape-time source answered (1) or not (0).", labels=["source"]
        )
        try:
            families = list(self.collector.collect())
        except Exception as exc:  # noqa: BLE001 - any failure: the other metrics still count
            log.warning("metrics: %s unavailable: %s", self.source, type(exc).__name__)
            from django.db import connection

            if self.source == "database" and not connection.in_atomic_block:
                connection.close()
            families = []
        up.add_metric([self.source], 1 if families else 0)
        yield from families
        yield up


def process_registry() -> CollectorRegistry:
    """The values counted in processes: all of this host's processes in multiprocess mode."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        return REGISTRY
    return registry


def scrape() -> bytes:
    return generate_latest(_Combined(process_registry()))  # type: ignore[arg-type]


class _Combined:
    """The process values plus the scrape-time gauges, as one registry for generate_latest."""

    def __init__(self, processes: CollectorRegistry) -> None:
        self.processes = processes

    def collect(self) -> Iterator[object]:
        yield from self.processes.collect()
        yield from _Guarded("database", DatabaseCollector()).collect()
        yield from _Guarded("broker", BrokerCollector()).collect()


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(item, strict=False) for item in settings.METRICS_ALLOWED_ADDRESSES]


def allowed(request: HttpRequest) -> bool:
    """A matching bearer token, or a client address on the allow-list."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks())


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse(status=403)
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)


@worker_ready.connect(dispatch_uid="reviewhub.metrics.worker_ready")
def serve_worker_metrics(sender: object = None, **kwargs: object) -> object | None:
    """On a worker host without the web server, serve this host's process values on a port
    (from the worker's main process, which forks the pool: one server per worker service)."""
    port = settings.WORKER_METRICS_PORT
    if not port:
        return None
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=settings.WORKER_METRICS_ADDRESS, registry=process_registry())
    log.info("worker metrics on %s:%d", settings.WORKER_METRICS_ADDRESS, port)
    return server
