"""/metrics: the series exist, move as applications go through, and only the allowed may read them."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from refunds.models import RefundApplication
from refunds.states import ApplicationState
from tests.conftest import wait_for
from tests.factories import GENUINE_CUP, jpeg, screen, submit
from tests.reviewhub.test_health import database_unreachable


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics by name and labels."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples, name, **labels) -> float:
    """The sum of a series over the labels not given."""
    return sum(
        value
        for (sample_name, sample_labels), value in samples.items()
        if sample_name == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


@pytest.mark.django_db(transaction=True)
def test_metrics_move_as_applications_are_screened_by_the_worker(client, celery_worker, product):
    before = scrape(client)
    applications = []
    for seed in range(3):
        with transaction.atomic():
            applications.append(submit(product, evidence=[GENUINE_CUP, jpeg(seed=40 + seed)], order_ref=f"o-{seed}"))
    wait_for(
        lambda: (
            RefundApplication.objects.filter(
                pk__in=[a.pk for a in applications], state=ApplicationState.AWAITING_MERCHANT
            ).count()
            == 3
        )
    )
    after = scrape(client)

    def grew(name, by=None, **labels):
        change = total(after, name, **labels) - total(before, name, **labels)
        return change == by if by is not None else change > 0

    assert grew("reviewhub_applications", by=3, state="awaiting_merchant")
    assert grew("reviewhub_transitions_total", by=3, action="submit")
    assert grew("reviewhub_transitions_total", to_state="awaiting_merchant")
    assert grew("reviewhub_screening_check_seconds_count", by=6, check="consistency")
    assert grew("reviewhub_screening_check_seconds_count", by=6, check="reuse")
    assert grew("reviewhub_task_seconds_count", task="screening.screen_application", state="SUCCESS")


@pytest.mark.django_db
def test_the_scrape_time_gauges_read_the_database(client, product):
    for order in ("a", "b"):
        screen(submit(product, evidence=[jpeg(seed=50)], order_ref=order))
    RefundApplication.objects.filter(order_ref="a").update(merchant_deadline=timezone.now() + timedelta(minutes=10))
    waiting = submit(product, evidence=[jpeg(seed=51)], order_ref="c")
    RefundApplication.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    samples = scrape(client)

    assert total(samples, "reviewhub_applications", state="submitted") == 1
    assert total(samples, "reviewhub_deadlines_due_within_hour", deadline="merchant_window") == 1
    assert 290 <= total(samples, "reviewhub_oldest_submitted_age_seconds") <= 3600
    assert total(samples, "reviewhub_review_queue_size") == 0
    assert total(samples, "reviewhub_webhook_deliveries", status="failed") == 0
    assert ("reviewhub_webhook_delivery_lag_seconds", ()) in samples
    assert ("reviewhub_review_queue_oldest_age_seconds", ()) in samples
    assert total(samples, "reviewhub_metrics_source_up", source="database") == 1


@pytest.mark.django_db
def test_the_queue_depth_is_known_on_redis_and_unknown_on_other_brokers(client):
    from reviewhub.celery import app

    depth = total(scrape(client), "reviewhub_queue_depth")
    if app.conf.broker_url.startswith("redis"):
        assert depth >= 0
    else:
        assert math.isnan(depth)


@pytest.mark.django_db(transaction=True)
def test_a_database_outage_is_reported_in_the_scrape_instead_of_failing_it(client):
    with database_unreachable():
        samples = scrape(client)
    assert total(samples, "reviewhub_metrics_source_up", source="database") == 0
    assert ("reviewhub_applications", (("state", "submitted"),)) not in samples


@pytest.mark.django_db
def test_metrics_are_open_to_loopback_in_development(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


@pytest.mark.django_db
def test_metrics_refuse_other_addresses(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 403


@pytest.mark.django_db
def test_in_production_metrics_need_the_token_or_a_listed_address(client, settings):
    settings.METRICS_ALLOWED_ADDRESSES = []
    settings.METRICS_TOKEN = "metrics-token-from-the-environment"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-from-the-environment").status_code == 200
    settings.METRICS_ALLOWED_ADDRESSES = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="11.1.2.3").status_code == 403


def test_the_grafana_dashboard_plots_only_series_that_exist():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sources = (root / "reviewhub/metrics.py").read_text() + (root / "reviewhub/instruments.py").read_text()
    defined = set(re.findall(r'"(reviewhub_[a-z_]+)"', sources))
    plotted = set(re.findall(r"reviewhub_[a-z_]+", (root / "docs/grafana/reviewhub-dashboard.json").read_text()))
    suffixes = re.compile(r"_(total|bucket|count|sum)$")
    assert {suffixes.sub("", name) for name in plotted} <= defined


@pytest.mark.django_db(transaction=True)
def test_a_worker_host_serves_its_process_metrics_on_its_own_port(settings, celery_worker, product):
    import socket
    import urllib.request

    from reviewhub.metrics import serve_worker_metrics

    with transaction.atomic():
        application = submit(product, evidence=[jpeg(seed=60)], order_ref="worker-port")
    wait_for(lambda: RefundApplication.objects.get(pk=application.pk).state != ApplicationState.SUBMITTED)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.WORKER_METRICS_PORT = probe.getsockname()[1]
    server = serve_worker_metrics()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.WORKER_METRICS_PORT}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'reviewhub_screening_check_seconds_count{check="consistency"}' in text
    # The scrape-time gauges come from the web server only.
    assert "reviewhub_applications{" not in text


@pytest.mark.django_db(transaction=True)
def test_a_transition_that_rolls_back_is_not_counted(client, product):
    before = total(scrape(client), "reviewhub_transitions_total", action="submit")
    with pytest.raises(RuntimeError), transaction.atomic():
        submit(product, evidence=[jpeg(seed=61)], order_ref="rolled-back")
        raise RuntimeError("the caller's transaction fails after the submission")
    assert total(scrape(client), "reviewhub_transitions_total", action="submit") == before


@pytest.mark.django_db
def test_each_failed_webhook_attempt_is_counted_by_its_reason(client, product, platform_a):
    import socket

    import time_machine

    from refunds.integration.webhooks import deliver_pending
    from tests.factories import endpoint_create
    from tests.refunds.test_webhooks import Receiver

    failing = Receiver(failures=5)  # answers 500
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"http://127.0.0.1:{closed.getsockname()[1]}/hooks"  # nothing listens once closed
    endpoints = [endpoint_create(platform=platform_a, url=url) for url in (failing.url, nobody)]
    before = scrape(client)
    application = submit(product, evidence=[jpeg(seed=31)])
    try:
        for hours_later in (0, 1):  # the retry once its back-off has passed
            with time_machine.travel(timezone.now() + timedelta(hours=hours_later)):
                for endpoint in endpoints:
                    deliver_pending(endpoint_pk=endpoint.pk, application_pk=application.pk)
    finally:
        failing.close()
    after = scrape(client)
    name = "reviewhub_webhook_delivery_failures_total"
    assert total(after, name, reason="http_5xx") - total(before, name, reason="http_5xx") == 2
    assert total(after, name, reason="connection") - total(before, name, reason="connection") == 2
    assert total(after, name, reason="timeout") == total(before, name, reason="timeout")
