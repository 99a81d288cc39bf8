"""Invariant 2 for second reviews on PostgreSQL: two reviewers claiming one at once get one
claim and one conflict, and one second outcome is recorded."""

from decimal import Decimal

import pytest

from refunds import services
from refunds.errors import Conflict
from refunds.models import AuditEvent, QAReview
from refunds.services import Actor
from refunds.services.platform import policy_update
from refunds.states import QAReviewState
from tests.conftest import race
from tests.refunds.appeal_builders import rejected_by

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


def test_two_reviewers_claiming_a_second_review_at_once_get_one_claim_and_one_conflict(
    platform_a, product, reviewer, second_reviewer, senior_reviewer
):
    policy_update(platform=platform_a, changes={"qa_sample_rate": Decimal("1")}, actor=Actor.system())
    for attempt in range(3):
        review = QAReview.objects.get(application=rejected_by(reviewer, product, buyer_ref=f"buyer-{attempt}"))
        results = race(
            lambda: services.qa_review_claim(qa_review_id=review.public_id, reviewer=second_reviewer),
            lambda: services.qa_review_claim(qa_review_id=review.public_id, reviewer=senior_reviewer),
        )
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(conflicts) == 1 and conflicts[0].code == "qa_claimed_by_other", results
        winner = next(r for r in results if isinstance(r, QAReview)).claimed_by
        results = race(
            *(
                lambda: services.qa_review_record(
                    qa_review_id=review.public_id,
                    reviewer=winner,
                    outcome="rejected",
                    reason_codes=["evidence_derived"],
                    note="The catalogue photo.",
                )
                for _ in range(2)
            )
        )
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(conflicts) == 1 and conflicts[0].code == "qa_already_recorded", results
        assert QAReview.objects.get(pk=review.pk).state == QAReviewState.AGREED
        assert AuditEvent.objects.filter(application=review.application, action="qa_agree").count() == 1
