"""Invariant 2 on PostgreSQL: racing deciders produce exactly one decision."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from refunds import services
from refunds.errors import Conflict
from refunds.models import AuditEvent, Decision, RefundApplication
from refunds.services import Actor
from refunds.states import ActorKind, ApplicationState, Outcome
from tests.conftest import race
from tests.factories import CUP, screen, submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


def in_review(product):
    application = screen(submit(product, evidence=[CUP]))
    RefundApplication.objects.filter(pk=application.pk).update(merchant_deadline=timezone.now())
    services.close_expired_windows()
    assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.IN_REVIEW
    return application


def test_two_reviewers_deciding_at_once_make_one_decision_and_one_conflict(product, reviewer, senior_reviewer):
    for _ in range(3):
        application = in_review(product)
        services.application_claim(application_id=application.public_id, reviewer=reviewer)
        results = race(
            lambda: services.application_decide(
                application_id=application.public_id,
                reviewer=reviewer,
                outcome=Outcome.REJECTED,
                reason_codes=["insufficient_evidence"],
                note="The photo shows no crack.",
            ),
            lambda: services.application_decide(
                application_id=application.public_id,
                reviewer=senior_reviewer,
                outcome=Outcome.REJECTED,
                reason_codes=["evidence_derived"],
                note="Catalogue photo sent back.",
            ),
        )
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(conflicts) == 1 and conflicts[0].code == "already_decided", results
        assert Decision.objects.filter(application=application).count() == 1
        assert AuditEvent.objects.filter(application=application, action="decide").count() == 1


def test_window_expiry_racing_the_merchants_accept_has_one_outcome(product, merchant_owner):
    outcomes = set()
    for attempt in range(6):
        application = screen(submit(product, buyer_ref=f"buyer-{attempt}"))
        deadline = timezone.now() + timedelta(milliseconds=300)
        RefundApplication.objects.filter(pk=application.pk).update(merchant_deadline=deadline)

        def accept_at_the_last_moment():
            time.sleep(max(0.0, (deadline - timezone.now()).total_seconds() - 0.002 * attempt))
            return services.application_accept(
                application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
            )

        def expire_as_soon_as_due():
            time.sleep(max(0.0, (deadline - timezone.now()).total_seconds()))
            return services.application_expire_window(application_id=application.public_id)

        accepted, expired = race(accept_at_the_last_moment, expire_as_soon_as_due)
        application.refresh_from_db()
        leaving = AuditEvent.objects.filter(application=application, from_state=ApplicationState.AWAITING_MERCHANT)
        assert leaving.count() == 1
        if isinstance(accepted, Conflict):
            assert accepted.code in {"deadline_passed", "invalid_state"}
            assert expired is not None
            outcomes.add("expiry")
        else:
            assert expired is None  # the closer found the application decided and did nothing
            assert application.decision.actor_kind == ActorKind.MERCHANT
            outcomes.add("merchant")
        assert Decision.objects.filter(application=application).count() <= 1
    assert outcomes  # at least one race ran to an outcome


def test_two_claims_at_once_leave_one_reviewer_holding_it(product, reviewer, second_reviewer):
    application = in_review(product)
    results = race(
        lambda: services.application_claim(application_id=application.public_id, reviewer=reviewer),
        lambda: services.application_claim(application_id=application.public_id, reviewer=second_reviewer),
    )
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert AuditEvent.objects.filter(application=application, action="claim").count() == 1
