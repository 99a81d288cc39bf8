"""With 50 000 applications the queue and an application page cost a bounded number of queries.

The times are printed (run with ``-s``) for the README, never asserted.
"""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from refunds import services
from refunds.models import Decision, RefundApplication
from refunds.states import ActorKind, ApplicationState, Outcome, RiskLevel
from tests.factories import CUP, screen, submit

pytestmark = pytest.mark.django_db

COUNT = 50_000
# Measured: 8 for the queue and 14 for the page, at 50 000 rows as at a handful. A page that
# grew a query per row or per finding would fail here long before a reviewer noticed it.
QUEUE_QUERIES = 10
PAGE_QUERIES = 16


def fill(product, reviewers, buyer_ref):
    """Bulk-create COUNT applications in every state, a tenth of them the same buyer's (with decisions where decided)."""
    now = timezone.now()
    states = [
        ApplicationState.IN_REVIEW,
        ApplicationState.DECIDED,
        ApplicationState.AWAITING_MERCHANT,
        ApplicationState.DECIDED,
        ApplicationState.WITHDRAWN,
    ]
    risks = [RiskLevel.CLEAN, RiskLevel.SUSPICIOUS, RiskLevel.FORGED]
    rows = []
    for i in range(COUNT):
        state = states[i % len(states)]
        in_review = state == ApplicationState.IN_REVIEW
        rows.append(
            RefundApplication(
                platform=product.merchant.platform,
                merchant=product.merchant,
                product=product,
                buyer_ref=buyer_ref if i % 10 == 0 else f"bulk-{i}",
                order_ref=f"bulk-order-{i}",
                amount=Decimal(10 + i % 3000),
                currency="CNY",
                reason_code="damaged",
                state=state,
                risk_level=risks[i % 3],
                risk_score=(i % 100) / 100,
                created_at=now - timedelta(minutes=i),
                review_started_at=now - timedelta(minutes=i) if in_review else None,
                review_due_at=now + timedelta(hours=24) - timedelta(minutes=i) if in_review else None,
                claimed_by=reviewers[i % 3] if in_review and i % 2 else None,
                claim_expires_at=now + timedelta(minutes=30) if in_review and i % 2 else None,
            )
        )
    created = RefundApplication.objects.bulk_create(rows, batch_size=5000)
    Decision.objects.bulk_create(
        [
            Decision(
                application=row,
                outcome=Outcome.REJECTED if i % 2 else Outcome.APPROVED,
                approved_amount=Decimal("0") if i % 2 else row.amount,
                currency="CNY",
                actor_kind=ActorKind.REVIEWER,
                actor=reviewers[i % 3],
                reason_codes=["other"],
                note="bulk",
                decided_at=now - timedelta(minutes=i),
            )
            for i, row in enumerate(created)
            if row.state == ApplicationState.DECIDED and i % 10 == 0
        ],
        batch_size=5000,
    )


def timed(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.get(url, params or {})
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, url
    return response, len(queries), elapsed


def test_the_queue_and_an_application_page_stay_within_a_fixed_number_of_queries(
    client, reviewer, second_reviewer, senior_reviewer, product
):
    application = screen(submit(product, evidence=[CUP], buyer_ref="regular"))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    started = time.perf_counter()
    fill(product, [reviewer, second_reviewer, senior_reviewer], buyer_ref="regular")
    print(f"\nbulk-created {COUNT} applications in {time.perf_counter() - started:.1f} s")
    assert RefundApplication.objects.count() == COUNT + 1

    client.force_login(reviewer)
    queue = reverse("admin:refunds_refundapplication_changelist")
    page = reverse("admin:refunds_refundapplication_change", args=[application.pk])
    client.get(queue)  # warm caches (content types, templates)
    measured = {}
    for name, url, params, limit in [
        ("queue, default view", queue, {}, QUEUE_QUERIES),
        ("queue, my claims", queue, {"view": "mine"}, QUEUE_QUERIES),
        (
            "queue, forged with a finding, over 500",
            queue,
            {"risk_level__exact": "forged", "finding": "local_edit", "amount_band": "500-2000"},
            QUEUE_QUERIES,
        ),
        ("queue, search by order", queue, {"q": "bulk-order-4000", "view": "all"}, QUEUE_QUERIES),
        ("queue, page 20 of everything", queue, {"view": "all", "p": "20"}, QUEUE_QUERIES),
        ("application page", page, {}, PAGE_QUERIES),
        ("statistics", reverse("admin:refunds_refundapplication_statistics"), {}, QUEUE_QUERIES),
    ]:
        response, queries, elapsed = timed(client, url, params)
        measured[name] = (queries, elapsed)
        assert queries <= limit, (name, queries)
    for name, (queries, elapsed) in measured.items():
        print(f"{name:<42} {queries:>3} queries {elapsed * 1000:>7.1f} ms")
    response, _, _ = timed(client, page)
    assert response.context["history_totals"]["count"] == COUNT // 10
