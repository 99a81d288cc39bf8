"""Review statistics: decisions per reviewer per day, handling time, outcomes by risk."""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from refunds.models import Decision
from refunds.selectors import review_quality
from refunds.states import ActorKind, Outcome, RiskLevel

DAYS = 14
# Handling times are read row by row; the newest this many decisions make the median.
HANDLING_SAMPLE = 5000


def statistics_context(*, now: object = None) -> dict[str, Any]:
    """Return the figures of the statistics page over the last ``DAYS`` days."""
    now = now or timezone.now()
    since = now - timedelta(days=DAYS)
    by_reviewer = Decision.objects.filter(actor_kind=ActorKind.REVIEWER, decided_at__gte=since)
    per_day = (
        by_reviewer.annotate(day=TruncDate("decided_at", tzinfo=timezone.get_current_timezone()))
        .values("actor__username", "day")
        .annotate(count=Count("pk"))
        .order_by("-day", "actor__username")
    )
    handled = (
        by_reviewer.filter(application__review_started_at__isnull=False)
        .order_by("-decided_at")
        .values_list("actor__username", "decided_at", "application__review_started_at")[:HANDLING_SAMPLE]
    )
    minutes: dict[str, list[float]] = {}
    for username, decided_at, started in handled:
        minutes.setdefault(username, []).append((decided_at - started).total_seconds() / 60)
    all_minutes = [m for values in minutes.values() for m in values]
    outcomes = (
        Decision.objects.filter(decided_at__gte=since)
        .values("application__risk_level", "outcome")
        .annotate(count=Count("pk"))
    )
    table: dict[str, dict[str, int]] = {}
    for row in outcomes:
        table.setdefault(row["application__risk_level"] or "", {})[row["outcome"]] = row["count"]
    risk_rows = []
    for level, label in RiskLevel.choices:
        counts = table.get(level, {})
        total = sum(counts.values())
        risk_rows.append(
            {
                "label": label,
                "total": total,
                "shares": [
                    (counts.get(outcome, 0), (100 * counts.get(outcome, 0) / total) if total else 0.0)
                    for outcome in Outcome.values
                ],
            }
        )
    quality = review_quality(since=since, until=now)
    labels = dict(RiskLevel.choices)
    return {
        "days": DAYS,
        "quality_reviewers": quality.reviewers,
        "quality_risks": [(labels[row.risk_level], row) for row in quality.risk_levels],
        "per_day": list(per_day),
        "median_minutes": statistics.median(all_minutes) if all_minutes else None,
        "median_by_reviewer": sorted(
            (name, statistics.median(values), len(values)) for name, values in minutes.items()
        ),
        "risk_rows": risk_rows,
        "outcome_labels": [label for _value, label in Outcome.choices],
    }
