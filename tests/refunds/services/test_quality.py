"""Blind second reviews: a policy-set share of reviewers' decisions is drawn at decision time,
another reviewer decides it again, a disagreement goes to a senior, and the decision stays."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from refunds import audit, services
from refunds.errors import Conflict, Forbidden, InvalidInput
from refunds.models import Decision, QAReview, WebhookEvent
from refunds.services import Actor
from refunds.services.platform import policy_update
from refunds.services.sampling import qa_review_sample, qa_sample_draw
from refunds.states import ActorKind, Outcome, QAResolution, QAReviewState
from tests.refunds.appeal_builders import approved_by, rejected_by

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_decision_sampled(platform_a):
    policy_update(platform=platform_a, changes={"qa_sample_rate": Decimal("1")}, actor=Actor.system())


def record(review, reviewer, outcome=Outcome.REJECTED, reasons=("evidence_derived",), **kw):
    return services.qa_review_record(
        qa_review_id=review.public_id,
        reviewer=reviewer,
        outcome=outcome,
        reason_codes=list(reasons),
        note=kw.pop("note", "Looked at the photos myself."),
        **kw,
    )


def claimed(review, reviewer):
    return services.qa_review_claim(qa_review_id=review.public_id, reviewer=reviewer)


def test_the_draw_is_the_same_for_an_application_every_time_and_spread_over_zero_to_one():
    ids = [uuid.UUID(int=n * 7919 + 1) for n in range(4000)]
    draws = [qa_sample_draw(i) for i in ids]
    assert draws == [qa_sample_draw(i) for i in ids]
    assert all(Decimal(0) <= d < Decimal(1) for d in draws)
    # Five in a hundred at the default rate, give or take what 4,000 draws allow.
    share = sum(d < Decimal("0.05") for d in draws) / len(draws)
    assert 0.04 < share < 0.06


def test_a_decision_is_sampled_when_its_draw_falls_within_the_policys_share(product, reviewer):
    application = rejected_by(reviewer, product)
    decision = application.decision
    application.qa_reviews.all().delete()  # the default 5 % may have drawn it; ask again below
    policy = application.platform.policy
    policy.qa_sample_rate = Decimal("0.3")
    assert qa_review_sample(application=application, decision=decision, draw=lambda _id: Decimal("0.3")) is None
    review = qa_review_sample(application=application, decision=decision, draw=lambda _id: Decimal("0.2999"))
    assert review is not None and review.state == QAReviewState.OPEN and review.decision == decision


def test_no_decision_is_sampled_at_a_share_of_zero(platform_a, product, reviewer):
    policy_update(platform=platform_a, changes={"qa_sample_rate": Decimal("0")}, actor=Actor.system())
    application = rejected_by(reviewer, product)
    assert not QAReview.objects.filter(application=application).exists()


def test_a_sampled_decision_opens_one_second_review_in_the_applications_chain(
    every_decision_sampled, product, reviewer
):
    application = rejected_by(reviewer, product)
    review = QAReview.objects.get(application=application)
    assert review.decision == application.decision and review.state == QAReviewState.OPEN
    last = application.audit_events.order_by("-seq").first()
    assert last.action == "qa_sample" and last.payload["qa_review"] == str(review.public_id)
    assert audit.verify_chain(application).ok
    # The parties' decision did not change, so they are told nothing.
    assert not WebhookEvent.objects.filter(application=application, payload__action="qa_sample").exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        QAReview.objects.create(application=application, decision=application.decision, currency="CNY")


def test_merchant_acceptances_are_never_sampled(every_decision_sampled, product, merchant_owner):
    from tests.factories import screen, submit

    application = screen(submit(product))
    services.application_accept(
        application_id=application.public_id, actor=Actor.of_user(ActorKind.MERCHANT, merchant_owner)
    )
    assert not QAReview.objects.filter(application=application).exists()


def test_another_reviewer_who_agrees_closes_the_second_review(
    every_decision_sampled, product, reviewer, second_reviewer
):
    application = rejected_by(reviewer, product)
    review = claimed(QAReview.objects.get(application=application), second_reviewer)
    assert review.state == QAReviewState.CLAIMED

    review = record(review, second_reviewer)
    assert review.state == QAReviewState.AGREED and review.reviewer == second_reviewer
    assert review.outcome == Outcome.REJECTED and review.approved_amount == Decimal("0.00")
    actions = list(application.audit_events.order_by("seq").values_list("action", flat=True))
    assert actions[-3:] == ["qa_sample", "qa_claim", "qa_agree"]


def test_a_different_amount_is_a_disagreement_resolved_by_a_senior_and_the_decision_stays(
    every_decision_sampled, product, reviewer, second_reviewer, senior_reviewer
):
    application = approved_by(reviewer, product, amount="39.90")
    before = Decision.objects.filter(pk=application.decision.pk).values().get()
    review = claimed(QAReview.objects.get(application=application), second_reviewer)
    review = record(
        review,
        second_reviewer,
        outcome=Outcome.PARTIALLY_APPROVED,
        reasons=["partial_damage"],
        approved_amount=Decimal("20.00"),
    )
    assert review.state == QAReviewState.DISAGREED

    review = services.qa_review_resolve(
        qa_review_id=review.public_id,
        senior=senior_reviewer,
        resolution=QAResolution.SECOND_REVIEW_STANDS,
        note="Only the handle is cracked.",
    )
    assert review.state == QAReviewState.RESOLVED and review.resolved_by == senior_reviewer
    assert Decision.objects.filter(pk=application.decision.pk).values().get() == before
    application.refresh_from_db()
    assert application.audit_events.order_by("-seq").first().action == "qa_resolve"
    assert audit.verify_chain(application).ok


def test_the_reviewer_who_decided_may_not_review_it_again(every_decision_sampled, product, reviewer):
    review = QAReview.objects.get(application=rejected_by(reviewer, product))
    with pytest.raises(Forbidden) as refused:
        claimed(review, reviewer)
    assert refused.value.code == "qa_same_reviewer"


def test_recording_needs_the_live_claim(every_decision_sampled, product, reviewer, second_reviewer, senior_reviewer):
    review = QAReview.objects.get(application=rejected_by(reviewer, product))
    with pytest.raises(Conflict) as refused:
        record(review, second_reviewer)
    assert refused.value.code == "qa_claim_required"

    claimed(review, second_reviewer)
    with pytest.raises(Conflict) as refused:
        claimed(review, senior_reviewer)
    assert refused.value.code == "qa_claimed_by_other"
    with pytest.raises(Conflict) as refused:
        record(review, senior_reviewer)
    assert refused.value.code == "qa_claimed_by_other"

    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        # The claim ran out: another reviewer takes it over and records.
        claimed(review, senior_reviewer)
        assert record(review, senior_reviewer).state == QAReviewState.AGREED
        with pytest.raises(Conflict) as refused:
            record(review, second_reviewer)
    assert refused.value.code == "qa_already_recorded"


def test_a_second_outcome_is_checked_like_a_decision(every_decision_sampled, product, reviewer, second_reviewer):
    review = claimed(QAReview.objects.get(application=rejected_by(reviewer, product)), second_reviewer)
    with pytest.raises(InvalidInput) as refused:
        record(review, second_reviewer, outcome=Outcome.APPROVED, reasons=["evidence_derived"])
    assert refused.value.code == "invalid_reason_codes"
    with pytest.raises(InvalidInput) as refused:
        record(review, second_reviewer, outcome=Outcome.PARTIALLY_APPROVED, reasons=["partial_damage"])
    assert refused.value.code == "invalid_approved_amount"
    with pytest.raises(InvalidInput) as refused:
        record(review, second_reviewer, note="  ")
    assert refused.value.code == "note_required"
    assert QAReview.objects.get(pk=review.pk).state == QAReviewState.CLAIMED


def test_only_an_uninvolved_senior_resolves_a_disagreement(
    every_decision_sampled, product, reviewer, second_reviewer, senior_reviewer
):
    review = claimed(QAReview.objects.get(application=rejected_by(reviewer, product)), senior_reviewer)
    review = record(review, senior_reviewer, outcome=Outcome.APPROVED, reasons=["evidence_consistent"])
    assert review.state == QAReviewState.DISAGREED

    def resolve(user, resolution=QAResolution.DECISION_STANDS):
        return services.qa_review_resolve(qa_review_id=review.public_id, senior=user, resolution=resolution, note="n")

    with pytest.raises(Forbidden) as refused:
        resolve(second_reviewer)
    assert refused.value.code == "qa_senior_required"
    with pytest.raises(Forbidden) as refused:
        resolve(senior_reviewer)  # the second reviewer themself
    assert refused.value.code == "qa_resolver_involved"
    with pytest.raises(InvalidInput) as refused:
        resolve(senior_reviewer, resolution="both")
    assert refused.value.code == "invalid_qa_resolution"
    assert QAReview.objects.get(pk=review.pk).state == QAReviewState.DISAGREED


def test_an_agreed_second_review_cannot_be_resolved(
    every_decision_sampled, product, reviewer, second_reviewer, senior_reviewer
):
    review = record(
        claimed(QAReview.objects.get(application=rejected_by(reviewer, product)), second_reviewer), second_reviewer
    )
    with pytest.raises(Conflict) as refused:
        services.qa_review_resolve(
            qa_review_id=review.public_id, senior=senior_reviewer, resolution=QAResolution.DECISION_STANDS, note="n"
        )
    assert refused.value.code == "qa_invalid_state"
