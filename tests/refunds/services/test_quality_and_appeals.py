"""A second review is blind: whoever has seen the decision through its appeal may not review it a
second time, and whoever is reviewing it a second time may not take its appeal until recorded."""

from decimal import Decimal

import pytest

from refunds import services
from refunds.errors import Forbidden
from refunds.models import QAReview
from refunds.selectors import decision_hidden_from
from refunds.services import Actor
from refunds.services.platform import policy_update
from refunds.states import Outcome
from tests.factories import make_staff
from tests.refunds.appeal_builders import buyer_appeal, rejected_by

pytestmark = pytest.mark.django_db


@pytest.fixture
def sampled_and_appealed(platform_a, product, reviewer):
    policy_update(platform=platform_a, changes={"qa_sample_rate": Decimal("1")}, actor=Actor.system())
    application = rejected_by(reviewer, product)
    return QAReview.objects.get(application=application), buyer_appeal(application)


def test_the_reviewer_who_claimed_the_appeal_may_not_review_the_decision_blind(sampled_and_appealed, second_reviewer):
    review, appeal = sampled_and_appealed
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    with pytest.raises(Forbidden) as refused:
        services.qa_review_claim(qa_review_id=review.public_id, reviewer=second_reviewer)
    assert refused.value.code == "qa_handled_the_appeal"
    rights = services.qa_review_rights(review=review, user=second_reviewer)
    assert not rights.may_claim
    # No longer a possible second reviewer, the application is no longer hidden from them.
    assert not decision_hidden_from(application_pk=review.application_id, user=second_reviewer)


def test_the_reviewer_who_decided_the_appeal_may_not_review_the_decision_blind(sampled_and_appealed, second_reviewer):
    review, appeal = sampled_and_appealed
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    services.appeal_decide(
        appeal_id=appeal.public_id, reviewer=second_reviewer, verdict="upheld", note="The decision stands."
    )
    with pytest.raises(Forbidden) as refused:
        services.qa_review_claim(qa_review_id=review.public_id, reviewer=second_reviewer)
    assert refused.value.code == "qa_handled_the_appeal"


def test_the_second_reviewer_takes_the_appeal_only_after_recording_the_second_review(
    sampled_and_appealed, second_reviewer
):
    review, appeal = sampled_and_appealed
    services.qa_review_claim(qa_review_id=review.public_id, reviewer=second_reviewer)
    with pytest.raises(Forbidden) as refused:
        services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    assert refused.value.code == "appeal_second_review_pending"

    services.qa_review_record(
        qa_review_id=review.public_id,
        reviewer=second_reviewer,
        outcome=Outcome.REJECTED,
        reason_codes=["evidence_derived"],
        note="Looked at the photos myself.",
    )
    assert services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer).claimed_by == second_reviewer


def test_another_reviewer_still_reviews_the_appealed_decision_blind(sampled_and_appealed, second_reviewer):
    review, appeal = sampled_and_appealed
    reviewer_c = make_staff("reviewer3", "Reviewers")
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    assert decision_hidden_from(application_pk=review.application_id, user=reviewer_c)
    assert services.qa_review_claim(qa_review_id=review.public_id, reviewer=reviewer_c).claimed_by == reviewer_c
