"""Recording what screening found, and routing the application by policy."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from refunds import policy
from refunds.integration import outbox
from refunds.models import RefundApplication
from refunds.services._base import (
    Actor,
    apply,
    approve_unless_held,
    locked_application,
    transitions_written_together,
)
from refunds.services.evidence_requests import evidence_request_by_policy
from refunds.services.linked_claims import claim_group_join
from refunds.services.screening_queue import SCREEN_TASK
from refunds.states import ApplicationState, DecisionReason
from refunds.vocab import AuditAction
from screening.models import Finding


def application_requeue_stale_screenings(*, older_than: timedelta, queued: int | None = None) -> int:
    """Enqueue screening for every open application with evidence lacking a result of which
    nothing has been seen for ``older_than``; return how many. Applications flagged
    ``unscreened`` are left to people (their screening gave up; enqueueing it again would loop).

    ``queued``: how many messages the screening queue holds now (None: unknown). While it holds
    at least one per stale application, nothing is enqueued: under a backlog a message waits
    longer than ``older_than`` without being lost, and enqueueing every waiting application
    again each round multiplied the queue (the 10 000-application soak had 28 000-29 000
    messages for about 9 000 waiting applications, each a lock and a look-up for the worker).
    Nothing waits for ever: the workers keep taking from the queue, so either the stale
    applications are screened or the queue shrinks below their number and they are enqueued."""
    waiting = Q(state=ApplicationState.SUBMITTED) | Q(
        state__in=RESCREENABLE, unscreened=False, evidence__screening__isnull=True
    )
    cutoff = timezone.now() - older_than
    stale = list(
        RefundApplication.objects.filter(waiting, screening_enqueued_at__lt=cutoff)
        .values_list("pk", "public_id")
        .distinct()
    )
    if queued is not None and queued >= len(stale):
        return 0
    count = 0
    for pk, public_id in stale:
        with transaction.atomic():
            # Restamped only if still stale: two sweeps running at once (both pool processes
            # took one of beat's messages) each enqueued every application of the other's list,
            # two messages apiece for the soak's 7 800 waiting applications after a Redis restart.
            restamped = RefundApplication.objects.filter(pk=pk, screening_enqueued_at__lt=cutoff).update(
                screening_enqueued_at=timezone.now()
            )
            if not restamped:
                continue
            outbox.schedule(SCREEN_TASK, [str(public_id)])
        count += 1
    return count


# States in which evidence may still lack a result: new applications, evidence added in the
# merchant window, and such evidence still screening when the application went to review.
RESCREENABLE = (ApplicationState.SUBMITTED, ApplicationState.AWAITING_MERCHANT, ApplicationState.IN_REVIEW)


def application_register_delivery(*, application_id: UUID | str) -> int | None:
    """Count one more delivery of the screening task; return the count, or None if nothing of
    the application waits for screening. Committed at once, so a worker killed right after
    still leaves its count behind.

    The delivery also restamps ``screening_enqueued_at``: the sweeper measures staleness from
    the last sign of life, so a screening that is running (within its time limit) is never
    enqueued a second time beside itself."""
    counted = _count_delivery_of_new_application(application_id)
    if counted is not None:
        return counted
    with locked_application(application_id) as application:
        waiting = application.state == ApplicationState.SUBMITTED or (
            application.state in RESCREENABLE
            and not application.unscreened
            and application.evidence.filter(screening__isnull=True).exists()
        )
        if not waiting:
            return None
        application.screening_deliveries += 1
        RefundApplication.objects.filter(pk=application.pk).update(
            screening_deliveries=application.screening_deliveries, screening_enqueued_at=timezone.now()
        )
        return application.screening_deliveries


def _count_delivery_of_new_application(application_id: UUID | str) -> int | None:
    """Count the delivery of an application still ``submitted`` (every first screening) in one
    statement and return the count; None for any other (or no) application, which the locked
    path above then answers.

    A new application waits for screening whatever its evidence, so the question needs nothing
    but its own row, and an UPDATE that tests the state in its WHERE counts under the row's lock
    as the locked path does (a concurrent transition is waited for and its state tested again).
    The locked path took four round trips (BEGIN, the locked read, the update, COMMIT), each of
    them 2 to 3 ms of a worker's time on the soak's loaded machine (RELIABILITY.md)."""
    fields = RefundApplication._meta
    try:
        public_id = fields.get_field("public_id").get_db_prep_value(UUID(str(application_id)), connection)
    except ValueError:
        return None  # not a public id: the locked path says it is not found
    now = fields.get_field("screening_enqueued_at").get_db_prep_value(timezone.now(), connection)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(fields.db_table)} SET {quote('screening_deliveries')} = {quote('screening_deliveries')} + 1, "
            f"{quote('screening_enqueued_at')} = %s WHERE {quote('public_id')} = %s AND {quote('state')} = %s "
            f"RETURNING {quote('screening_deliveries')}",
            [now, public_id, ApplicationState.SUBMITTED.value],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def application_record_screening(*, application_id: UUID | str) -> RefundApplication | None:
    """Move a screened application on: auto_screened, then fast-track or the merchant window.
    For evidence added during the merchant window, update the risk instead.

    Idempotent: nothing changes when there is nothing new (returns None).
    """
    with locked_application(application_id) as application:
        if application.state not in RESCREENABLE or not application.every_evidence_screened():
            return None
        findings = [
            policy.FindingView(f.code, f.score, f.detail)
            for f in Finding.objects.filter(result__evidence__application=application)
        ]
        risk = policy.assess(application.platform.policy, findings)
        claim_group_join(application=application)
        system = Actor.system("screening")
        if application.state != ApplicationState.SUBMITTED:
            if (application.risk_level, application.risk_score, application.risk_explanation) == (
                risk.level,
                risk.score,
                risk.explanation,
            ):
                return None
            apply(
                application,
                application.update_screening,
                actor=system,
                action=AuditAction.RESCREEN,
                payload={"risk": risk.level, "score": risk.score},
                risk_level=risk.level,
                risk_score=risk.score,
                explanation=risk.explanation,
            )
            # Evidence added in the merchant window, screened once the application is in review,
            # may leave the doubt the policy asks another photo for: asked now, in this
            # transaction, as when a suspicious application enters review. One still in its
            # merchant window is asked when it enters review.
            evidence_request_by_policy(application)
            return application
        # The row is written once, by the transition that follows in this transaction (the
        # fast track or the window): nothing between them reads it from the database. Their
        # audit and webhook events are written together too: 18 round trips were 14 (each 2 to
        # 3 ms of a worker's time on the soak's loaded machine, RELIABILITY.md).
        with transitions_written_together():
            apply(
                application,
                application.record_screening,
                actor=system,
                action=AuditAction.SCREEN,
                payload={"risk": risk.level, "score": risk.score},
                save=False,
                risk_level=risk.level,
                risk_score=risk.score,
                explanation=risk.explanation,
            )
            approve_unless_held(
                application,
                eligible=application.fast_track_allowed() and application.screening_is_clean(),
                approve=application.fast_track,
                approve_action=AuditAction.FAST_TRACK,
                reason=DecisionReason.FAST_TRACK_CLEAN,
                otherwise=application.open_merchant_window,
                otherwise_action=AuditAction.OPEN_WINDOW,
                actor=system,
            )
        return application


def application_give_up_screening(*, application_id: UUID | str, explanation: str) -> RefundApplication | None:
    """Flag an application whose screening cannot finish ``unscreened``: people must look. A new
    application goes to reviewers at once; one in its merchant window can no longer be approved
    automatically when the window closes."""
    with locked_application(application_id) as application:
        transition = {
            ApplicationState.SUBMITTED: application.give_up_screening,
            ApplicationState.AWAITING_MERCHANT: application.flag_unscreened,
            ApplicationState.IN_REVIEW: application.flag_unscreened,
        }.get(application.state)
        if transition is None:
            return None
        apply(
            application,
            transition,
            actor=Actor.system("screening"),
            action=AuditAction.UNSCREENED,
            reason=explanation,
            explanation=explanation,
        )
        return application
