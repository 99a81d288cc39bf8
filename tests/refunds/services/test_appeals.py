"""Appeals: filed within the window by the losing side, decided once by another reviewer; an
overturn appends its own decision and leaves the original as it was."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from refunds import audit, services
from refunds.errors import Conflict, Forbidden, InvalidInput, NotFound
from refunds.models import Appeal, AppealDecision, AuditEvent, Decision, WebhookEvent
from refunds.services import Actor
from refunds.services.platform import policy_update
from refunds.states import ActorKind, AppealSide, AppealState, ApplicationState, Outcome
from tests.factories import upload
from tests.refunds.appeal_builders import approved_by, buyer_appeal, overturn, rejected_by

pytestmark = pytest.mark.django_db

MERCHANT = Actor(ActorKind.MERCHANT, None, "owner")


def merchant_appeal(application, **fields):
    return services.appeal_file(
        application_id=application.public_id,
        side=AppealSide.MERCHANT,
        actor=MERCHANT,
        statement=fields.pop("statement", "The buyer's photo shows another cup."),
        reason_codes=fields.pop("reason_codes", ["evidence_misread"]),
        **fields,
    )


def uphold(appeal, reviewer, note="The photo is still the catalogue's."):
    return services.appeal_decide(appeal_id=appeal.public_id, reviewer=reviewer, verdict="upheld", note=note)


def test_a_buyer_appeal_is_filed_claimed_and_upheld_by_another_reviewer(product, reviewer, second_reviewer):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    assert appeal.state == AppealState.FILED and appeal.decision == application.decision

    appeal = services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    assert appeal.state == AppealState.IN_REVIEW and appeal.claimed_by == second_reviewer

    appeal = uphold(appeal, second_reviewer)
    assert appeal.state == AppealState.UPHELD and appeal.closed_at is not None
    ruling = AppealDecision.objects.get(appeal=appeal)
    assert ruling.verdict == "upheld" and ruling.overturns is None and ruling.reviewer == second_reviewer
    application.refresh_from_db()
    assert application.state == ApplicationState.DECIDED


def test_every_transition_is_in_the_applications_chain_and_announced_in_sequence(product, reviewer, second_reviewer):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    uphold(appeal, second_reviewer)

    actions = list(AuditEvent.objects.filter(application=application).order_by("seq").values_list("action", flat=True))
    assert actions[-3:] == ["appeal_file", "appeal_claim", "appeal_uphold"]
    application.refresh_from_db()
    assert audit.verify_chain(application).ok
    events = list(WebhookEvent.objects.filter(application=application).order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events[-3:]] == [
        "application.appeal_filed",
        "application.appeal_in_review",
        "application.appeal_decided",
    ]
    decided = events[-1].payload["appeal"]
    assert decided["id"] == str(appeal.public_id) and decided["from_state"] == "in_review"
    assert decided["state"] == "upheld" and decided["appeal_decision"]["verdict"] == "upheld"


def test_an_overturn_appends_its_own_decision_and_the_original_stays_as_it_was(
    product, reviewer, second_reviewer, senior_reviewer
):
    application = rejected_by(reviewer, product)
    original = Decision.objects.get(application=application)
    before = Decision.objects.filter(pk=original.pk).values().get()
    appeal = buyer_appeal(application)
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    # The evidence was screened forged: approving it needs a senior, on appeal as at first.
    with pytest.raises(Forbidden) as refused:
        overturn(appeal, second_reviewer)
    assert refused.value.code == "senior_required"

    appeal = overturn(appeal, senior_reviewer)
    assert appeal.state == AppealState.OVERTURNED
    ruling = appeal.appeal_decision
    assert ruling.overturns == original and ruling.outcome == Outcome.APPROVED
    assert ruling.approved_amount == application.amount and ruling.currency == "CNY"
    assert Decision.objects.filter(pk=original.pk).values().get() == before
    assert Decision.objects.filter(application=application).count() == 1
    assert AuditEvent.objects.filter(application=application, action="appeal_overturn").get().payload["amount"] == (
        "39.90"
    )


def test_an_overturn_that_changes_nothing_is_refused(product, reviewer, senior_reviewer):
    appeal = buyer_appeal(rejected_by(reviewer, product))
    with pytest.raises(InvalidInput) as refused:
        overturn(appeal, senior_reviewer, Outcome.REJECTED, ["insufficient_evidence"])
    assert refused.value.code == "overturn_changes_nothing"
    assert Appeal.objects.get(pk=appeal.pk).state == AppealState.FILED


def test_the_reviewer_who_decided_may_neither_claim_nor_decide_the_appeal(product, senior_reviewer, reviewer):
    application = rejected_by(senior_reviewer, product)
    appeal = buyer_appeal(application)
    with pytest.raises(Forbidden) as refused:
        services.appeal_claim(appeal_id=appeal.public_id, reviewer=senior_reviewer)
    assert refused.value.code == "appeal_same_reviewer"
    with pytest.raises(Forbidden) as refused:
        uphold(appeal, senior_reviewer)
    assert refused.value.code == "appeal_same_reviewer"
    assert not AppealDecision.objects.exists()
    uphold(services.appeal_claim(appeal_id=appeal.public_id, reviewer=reviewer), reviewer)


def test_a_reviewer_must_claim_the_appeal_and_another_reviewers_claim_is_named(product, reviewer, second_reviewer):
    appeal = buyer_appeal(rejected_by(reviewer, product))
    with pytest.raises(Conflict) as refused:
        uphold(appeal, second_reviewer)
    assert refused.value.code == "appeal_claim_required"
    third = type(second_reviewer).objects.create_user("reviewer3", is_staff=True)
    third.groups.set(second_reviewer.groups.all())
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=third)
    with pytest.raises(Conflict) as refused:
        services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    assert refused.value.code == "appeal_claimed_by_other" and "reviewer3" in refused.value.message


def test_the_second_decider_hears_that_the_appeal_was_decided_first(
    product, reviewer, second_reviewer, senior_reviewer
):
    appeal = buyer_appeal(rejected_by(reviewer, product))
    services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer)
    uphold(appeal, senior_reviewer)
    with pytest.raises(Conflict) as refused:
        uphold(appeal, second_reviewer)
    assert refused.value.code == "appeal_already_decided"
    assert AppealDecision.objects.count() == 1


def test_an_appeal_after_the_window_is_refused(product, reviewer):
    application = rejected_by(reviewer, product)
    deadline = application.decision.decided_at + timedelta(days=30)
    with time_machine.travel(deadline - timedelta(seconds=1)):
        assert services.appeal_rights(application=application, side=AppealSide.BUYER).may_appeal
    with time_machine.travel(deadline):
        with pytest.raises(Conflict) as refused:
            buyer_appeal(application)
    assert refused.value.code == "appeal_window_closed"
    assert refused.value.details["deadline"] == deadline.isoformat()
    assert not Appeal.objects.exists()


def test_the_window_is_the_policys(product, reviewer, platform_a):
    policy_update(platform=platform_a, changes={"appeal_window_days": 3}, actor=Actor.system())
    application = rejected_by(reviewer, product)
    with time_machine.travel(application.decision.decided_at + timedelta(days=3)):
        with pytest.raises(Conflict) as refused:
            buyer_appeal(application)
    assert refused.value.code == "appeal_window_closed"


@pytest.mark.parametrize("days", [0, 366, True, "30"])
def test_the_policy_refuses_an_appeal_window_out_of_bounds(platform_a, days):
    with pytest.raises(InvalidInput) as refused:
        policy_update(platform=platform_a, changes={"appeal_window_days": days}, actor=Actor.system())
    assert refused.value.details["param"] == "appeal_window_days"


def test_only_the_losing_side_appeals(product, reviewer):
    rejected = rejected_by(reviewer, product)
    with pytest.raises(Conflict) as refused:
        merchant_appeal(rejected)
    assert refused.value.code == "appeal_nothing_to_appeal"
    approved = approved_by(reviewer, product, buyer_ref="buyer-2")
    with pytest.raises(Conflict) as refused:
        buyer_appeal(approved)
    assert refused.value.code == "appeal_nothing_to_appeal"
    assert merchant_appeal(approved).side == AppealSide.MERCHANT


def test_an_application_not_yet_decided_cannot_be_appealed(product):
    from tests.factories import screen, submit

    application = screen(submit(product))
    with pytest.raises(Conflict) as refused:
        buyer_appeal(application)
    assert refused.value.code == "appeal_not_decided"


def test_one_open_appeal_and_one_appeal_per_side(product, reviewer, second_reviewer):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    with pytest.raises(Conflict) as refused:
        buyer_appeal(application)
    assert refused.value.code == "appeal_open_exists"
    uphold(services.appeal_claim(appeal_id=appeal.public_id, reviewer=second_reviewer), second_reviewer)
    with pytest.raises(Conflict) as refused:
        buyer_appeal(application)
    assert refused.value.code == "appeal_already_filed"


def test_the_database_refuses_a_second_open_appeal_whatever_the_code_does(product, reviewer):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appeal.objects.create(
            application=application, decision=appeal.decision, side=AppealSide.MERCHANT, statement="again"
        )


def test_a_withdrawn_appeal_may_be_filed_again_within_the_window(product, reviewer):
    application = rejected_by(reviewer, product)
    appeal = buyer_appeal(application)
    withdrawn = services.appeal_withdraw(appeal_id=appeal.public_id, actor=Actor.system())
    assert withdrawn.state == AppealState.WITHDRAWN
    with pytest.raises(Conflict) as refused:
        services.appeal_withdraw(appeal_id=appeal.public_id, actor=Actor.system())
    assert refused.value.code == "appeal_invalid_state"
    assert buyer_appeal(application).state == AppealState.FILED
    types = WebhookEvent.objects.filter(application=application).values_list("type", flat=True)
    assert "application.appeal_withdrawn" in types


def test_the_merchant_withdraws_only_its_own_appeal(product, reviewer):
    appeal = buyer_appeal(rejected_by(reviewer, product))
    with pytest.raises(NotFound):
        services.appeal_withdraw(appeal_id=appeal.public_id, actor=MERCHANT, side=AppealSide.MERCHANT)
    assert Appeal.objects.get(pk=appeal.pk).state == AppealState.FILED


def test_an_overturned_decision_is_final(product, reviewer, senior_reviewer):
    application = approved_by(reviewer, product)
    appeal = merchant_appeal(application)
    overturn(appeal, senior_reviewer, Outcome.REJECTED, ["evidence_reused"])
    with pytest.raises(Conflict) as refused:
        buyer_appeal(application)
    assert refused.value.code == "appeal_final"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"statement": "  "}, "appeal_statement_required"),
        ({"statement": "x" * 5001}, "statement_too_long"),
        ({"reason_codes": ["because"]}, "invalid_reason_code"),
    ],
)
def test_a_bad_appeal_is_refused_and_nothing_is_saved(product, reviewer, fields, code):
    application = rejected_by(reviewer, product)
    with pytest.raises(InvalidInput) as refused:
        buyer_appeal(application, **fields)
    assert refused.value.code == code
    assert not Appeal.objects.exists()


def test_attachments_are_checked_like_every_upload(product, reviewer):
    from refunds.errors import UploadRejected
    from tests.factories import jpeg

    application = rejected_by(reviewer, product)
    with pytest.raises(UploadRejected) as refused:
        buyer_appeal(application, attachments=[upload(b"MZ\x90\x00 not an image", "receipt.exe")])
    assert refused.value.code == "unsupported_media_type" and refused.value.details["file"] == "receipt.exe"
    assert not Appeal.objects.exists()
    appeal = buyer_appeal(application, attachments=[upload(jpeg(seed=3), "receipt.jpg")])
    assert [a.original_name for a in appeal.attachments.all()] == ["receipt.jpg"]


def test_a_partial_overturn_of_a_rejection_carries_its_amount(product, reviewer, senior_reviewer):
    appeal = buyer_appeal(rejected_by(reviewer, product))
    appeal = overturn(
        appeal, senior_reviewer, Outcome.PARTIALLY_APPROVED, ["partial_damage"], approved_amount=Decimal("10.00")
    )
    assert appeal.appeal_decision.approved_amount == Decimal("10.00")
