"""Invariant 2 for appeals on PostgreSQL: racing deciders make one appeal decision, racing
filings one open appeal; the losers get a conflict."""

import pytest

from refunds import services
from refunds.errors import Conflict
from refunds.models import Appeal, AppealDecision, AuditEvent, WebhookEvent
from refunds.states import AppealState
from tests.conftest import race
from tests.refunds.appeal_builders import buyer_appeal, rejected_by

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


def test_two_reviewers_deciding_an_appeal_at_once_make_one_decision_and_one_conflict(
    product, reviewer, second_reviewer, senior_reviewer
):
    for attempt in range(3):
        appeal = buyer_appeal(rejected_by(reviewer, product, buyer_ref=f"buyer-{attempt}"))
        services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
        results = race(
            lambda: services.appeal_decide(
                appeal_id=appeal.public_id, reviewer=second_reviewer, verdict="upheld", note="Still the catalogue's."
            ),
            lambda: services.appeal_decide(
                appeal_id=appeal.public_id,
                reviewer=senior_reviewer,
                verdict="overturned",
                outcome="approved",
                reason_codes=["evidence_consistent"],
                note="The receipt settles it.",
            ),
        )
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(conflicts) == 1 and conflicts[0].code == "appeal_already_decided", results
        assert AppealDecision.objects.filter(appeal=appeal).count() == 1
        decided = AuditEvent.objects.filter(
            application=appeal.application, action__in=["appeal_uphold", "appeal_overturn"]
        )
        assert decided.count() == 1
        assert (
            WebhookEvent.objects.filter(application=appeal.application, type="application.appeal_decided").count() == 1
        )


def test_two_appeals_filed_at_once_leave_one_open(product, reviewer):
    application = rejected_by(reviewer, product)
    results = race(lambda: buyer_appeal(application), lambda: buyer_appeal(application))
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1 and conflicts[0].code == "appeal_open_exists", results
    assert Appeal.objects.filter(application=application, state=AppealState.FILED).count() == 1
