"""An audit of the whole database against the workflow's invariants, after any incident.

``manage.py check_invariants`` prints it and exits 1 when anything is violated; the fault
tests run it after breaking the infrastructure on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from refunds import audit
from refunds.models import Decision, IdempotencyRecord, OutboxTask, RefundApplication
from refunds.services.screening_queue import SCREEN_TASK
from refunds.states import ActorKind, ApplicationState, Outcome


@dataclass
class InvariantReport:
    duplicate_idempotent_applications: int = 0
    stuck_idempotency_keys: int = 0
    evidence_without_result_or_pending_screening: int = 0
    system_approvals_without_clean_screening: int = 0
    decided_without_one_decision: int = 0
    broken_audit_chains: int = 0
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def violations(self) -> int:
        return sum(value for name, value in vars(self).items() if isinstance(value, int))

    def lines(self) -> list[str]:
        return [f"{name}: {value}" for name, value in vars(self).items() if isinstance(value, int)]


def audit_database(*, grace: timedelta | None = None, verify_chains: bool = True) -> InvariantReport:
    """Count every violation. ``grace``: how long a screening may go unseen before its evidence
    counts as lost (default: what the sweeper needs, SCREENING_STALE_AFTER plus a beat interval)."""
    report = InvariantReport()
    grace = (
        grace
        if grace is not None
        else settings.SCREENING_STALE_AFTER + timedelta(seconds=settings.BEAT_INTERVAL_SECONDS)
    )

    duplicates = (
        RefundApplication.objects.exclude(idempotency_key="")
        .values("platform_id", "idempotency_key")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    report.duplicate_idempotent_applications = sum(row["n"] - 1 for row in duplicates)
    # Records are written with their answer in one transaction; one without is stuck.
    report.stuck_idempotency_keys = IdempotencyRecord.objects.filter(status_code__isnull=True).count()

    # Evidence without a result is fine while its screening is pending: a task in the outbox,
    # or one enqueued or delivered within the grace period (the sweeper acts after it).
    lost = (
        RefundApplication.objects.filter(
            state__in=[ApplicationState.SUBMITTED, ApplicationState.AWAITING_MERCHANT, ApplicationState.IN_REVIEW],
            unscreened=False,
            evidence__screening__isnull=True,
        )
        .filter(Q(screening_enqueued_at__isnull=True) | Q(screening_enqueued_at__lt=timezone.now() - grace))
        .distinct()
    )
    lost_ids = [str(a.public_id) for a in lost.only("public_id")]
    queued = OutboxTask.objects.filter(task=SCREEN_TASK).values_list("args", flat=True)
    queued_ids = {args[0] for args in queued if args}
    lost_ids = [i for i in lost_ids if i not in queued_ids]
    report.evidence_without_result_or_pending_screening = len(lost_ids)
    report.examples["evidence_without_result_or_pending_screening"] = lost_ids[:10]

    system_approvals = RefundApplication.objects.filter(
        state=ApplicationState.DECIDED, decision__actor_kind=ActorKind.SYSTEM, decision__outcome=Outcome.APPROVED
    ).select_related("platform__policy")
    bad = [str(a.public_id) for a in system_approvals if not a.screening_is_clean()]
    report.system_approvals_without_clean_screening = len(bad)
    report.examples["system_approvals_without_clean_screening"] = bad[:10]

    report.decided_without_one_decision = (
        RefundApplication.objects.filter(state=ApplicationState.DECIDED)
        .exclude(Exists(Decision.objects.filter(application=OuterRef("pk"))))
        .count()
    )

    if verify_chains:
        broken = [str(a.public_id) for a in RefundApplication.objects.all().iterator() if not audit.verify_chain(a).ok]
        report.broken_audit_chains = len(broken)
        report.examples["broken_audit_chains"] = broken[:10]
    return report
