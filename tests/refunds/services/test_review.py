"""Who may decide what: claims, claim-next, senior rules, reasons that fit, a required note."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from refunds import services
from refunds.errors import Conflict, Forbidden, InvalidInput
from refunds.models import AuditEvent, Decision, RefundApplication
from refunds.states import ApplicationState, Outcome
from tests.conftest import race
from tests.factories import CUP, GENUINE_CUP, screen, submit

pytestmark = pytest.mark.django_db


def in_review(product, *, evidence=None, **fields):
    application = screen(submit(product, evidence=evidence or [CUP], **fields))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    application = RefundApplication.objects.get(pk=application.pk)
    assert application.state == ApplicationState.IN_REVIEW
    return application


def clean_in_review(product, **fields):
    """A clean application the merchant contested: in review without any forgery finding."""
    from refunds.services import Actor
    from refunds.states import ActorKind

    application = screen(submit(product, evidence=[GENUINE_CUP], **fields))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor(ActorKind.MERCHANT, None, "owner"),
        statement="The cup left intact.",
    )
    return RefundApplication.objects.get(pk=application.pk)


def decide(
    application, reviewer, outcome=Outcome.REJECTED, reasons=("evidence_derived",), note="Catalogue photo.", **kw
):
    return services.application_decide(
        application_id=application.public_id,
        reviewer=reviewer,
        outcome=outcome,
        reason_codes=list(reasons),
        note=note,
        **kw,
    )


def test_entering_review_sets_the_due_date_from_the_policy(product):
    application = in_review(product)
    policy = application.platform.policy
    assert application.review_due_at == application.review_started_at + policy.review_time_limit


def test_a_reviewer_must_claim_before_deciding(product, reviewer):
    application = in_review(product)
    with pytest.raises(Conflict) as refused:
        decide(application, reviewer)
    assert refused.value.code == "claim_required"
    assert not Decision.objects.exists()


def test_a_reviewer_whose_claim_expired_is_told_so(product, reviewer):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        with pytest.raises(Conflict) as refused:
            decide(application, reviewer)
        assert refused.value.code == "claim_expired"
        services.release_expired_claims()
        with pytest.raises(Conflict) as refused:
            decide(application, reviewer)
        assert refused.value.code == "claim_expired"


def test_claiming_what_another_reviewer_holds_names_the_holder(product, reviewer, second_reviewer):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    with pytest.raises(Conflict) as refused:
        services.application_claim(application_id=application.public_id, reviewer=second_reviewer)
    assert refused.value.code == "claimed_by_other" and "reviewer" in refused.value.message


def test_a_senior_reviewer_overrides_another_reviewers_claim_and_the_audit_says_so(product, reviewer, senior_reviewer):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    decide(application, senior_reviewer)
    event = AuditEvent.objects.get(application=application, action="decide")
    assert event.actor_label == "senior" and event.payload["overrode_claim_of"] == "reviewer"


def test_the_second_decider_hears_that_someone_decided_first(product, reviewer, senior_reviewer):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    decide(application, senior_reviewer)
    with pytest.raises(Conflict) as refused:
        decide(application, reviewer)
    assert refused.value.code == "already_decided"
    assert Decision.objects.count() == 1


@pytest.mark.parametrize("outcome", [Outcome.APPROVED, Outcome.PARTIALLY_APPROVED])
def test_a_plain_reviewer_cannot_approve_a_forged_application(product, reviewer, outcome):
    application = in_review(product)
    assert application.risk_level == "forged"
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    with pytest.raises(Forbidden) as refused:
        decide(application, reviewer, outcome, ["evidence_consistent"], approved_amount=Decimal("1.00"))
    assert refused.value.code == "senior_required"
    decide(application, reviewer)  # rejecting it is a reviewer's call
    assert Decision.objects.get().outcome == Outcome.REJECTED


def test_a_senior_reviewer_may_approve_a_forged_application(product, senior_reviewer):
    application = in_review(product)
    decide(application, senior_reviewer, Outcome.APPROVED, ["evidence_consistent", "other"], note="Seen in person.")
    assert Decision.objects.get().approved_amount == application.amount


def test_approving_above_the_policy_ceiling_needs_a_senior_reviewer(product, reviewer, senior_reviewer):
    application = clean_in_review(product, amount="800.00")
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    with pytest.raises(Forbidden) as refused:
        decide(application, reviewer, Outcome.APPROVED, ["evidence_consistent"])
    assert refused.value.code == "senior_required_above_ceiling"
    decide(application, reviewer, Outcome.PARTIALLY_APPROVED, ["partial_damage"], approved_amount=Decimal("500.00"))
    assert Decision.objects.get().approved_amount == Decimal("500.00")


@pytest.mark.parametrize(
    ("outcome", "reasons", "note", "amount", "code"),
    [
        (Outcome.APPROVED, ["evidence_derived"], "n", None, "invalid_reason_codes"),
        (Outcome.REJECTED, ["merchant_accepted"], "n", None, "invalid_reason_codes"),
        (Outcome.REJECTED, [], "n", None, "invalid_reason_codes"),
        (Outcome.REJECTED, ["evidence_derived"], "   ", None, "note_required"),
        (Outcome.PARTIALLY_APPROVED, ["partial_damage"], "n", Decimal("39.90"), "invalid_approved_amount"),
        (Outcome.PARTIALLY_APPROVED, ["partial_damage"], "n", Decimal("0"), "invalid_approved_amount"),
        ("refund_twice", ["other"], "n", None, "invalid_outcome"),
    ],
)
def test_a_decision_that_does_not_fit_is_refused_and_nothing_is_saved(
    product, senior_reviewer, outcome, reasons, note, amount, code
):
    application = in_review(product)
    with pytest.raises(InvalidInput) as refused:
        decide(application, senior_reviewer, outcome, reasons, note, approved_amount=amount)
    assert refused.value.code == code
    assert not Decision.objects.exists()
    assert RefundApplication.objects.get(pk=application.pk).state == ApplicationState.IN_REVIEW


def test_claim_next_takes_the_application_due_first_and_then_the_next(product, reviewer, second_reviewer):
    later = in_review(product, buyer_ref="b-later")
    sooner = in_review(product, buyer_ref="b-sooner")
    RefundApplication.objects.filter(pk=sooner.pk).update(review_due_at=later.review_due_at - timedelta(hours=1))
    assert services.application_claim_next(reviewer=reviewer).pk == sooner.pk
    assert services.application_claim_next(reviewer=second_reviewer).pk == later.pk
    assert services.application_claim_next(reviewer=second_reviewer) is None


def test_claim_next_takes_over_an_expired_claim(product, reviewer, second_reviewer):
    application = in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    assert services.application_claim_next(reviewer=second_reviewer) is None
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert services.application_claim_next(reviewer=second_reviewer).claimed_by == second_reviewer


def test_an_auditor_can_neither_claim_nor_decide(product, auditor):
    application = in_review(product)
    with pytest.raises(Forbidden):
        services.application_claim_next(reviewer=auditor)
    with pytest.raises(Forbidden):
        services.application_claim(application_id=application.public_id, reviewer=auditor)


@pytest.mark.django_db(transaction=True)
def test_reviewers_pressing_claim_next_together_get_different_applications(
    product, reviewer, second_reviewer, postgres_only
):
    first, second = in_review(product, buyer_ref="b1"), in_review(product, buyer_ref="b2")
    results = race(
        lambda: services.application_claim_next(reviewer=reviewer),
        lambda: services.application_claim_next(reviewer=second_reviewer),
    )
    assert {r.pk for r in results} == {first.pk, second.pk}, results
