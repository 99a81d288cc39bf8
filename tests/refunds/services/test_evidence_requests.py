"""Requests for another photo: asked by the reviewer who holds the application (or by the policy),
answered, expired or cancelled once; the review clock pauses while the buyer takes the photo."""

from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from refunds import audit, services
from refunds.errors import Conflict, Forbidden, InvalidInput, NotFound
from refunds.models import AuditEvent, EvidenceRequest, EvidenceUpload, RefundApplication, WebhookEvent
from refunds.services import Actor
from refunds.services.evidence_requests import default_instructions
from refunds.services.platform import policy_update
from refunds.states import ActorKind, ApplicationState, EvidenceRequestState, RiskLevel
from tests.factories import GENUINE_CUP, jpeg, make_staff, screen, submit, upload
from tests.refunds.evidence_request_builders import PLATFORM, answer, ask, claimed_by, contested

pytestmark = pytest.mark.django_db

SECOND = jpeg(seed=41)


def fresh(application):
    return RefundApplication.objects.get(pk=application.pk)


def test_the_reviewer_holding_an_application_asks_for_another_photo_in_the_buyers_language(product, reviewer):
    application = claimed_by(reviewer, product)
    request = ask(application, reviewer, language="en")

    assert request.state == EvidenceRequestState.OPEN
    assert request.first_evidence == application.evidence.get()
    assert request.instructions == default_instructions("en")
    assert "different angle" in request.instructions
    assert request.deadline == request.requested_at + timedelta(hours=72)
    chinese = default_instructions("zh-hans")
    assert chinese != request.instructions and "角度" in chinese


def test_the_reviewers_own_instructions_are_sent_as_written(product, reviewer):
    application = claimed_by(reviewer, product)
    request = ask(application, reviewer, instructions="  请从侧面拍摄杯口的裂缝。 ", language="zh-hans")
    assert request.instructions == "请从侧面拍摄杯口的裂缝。" and request.language == "zh-hans"


def test_a_request_pauses_the_review_clock_and_an_answer_resumes_it_with_the_time_that_was_left(product, reviewer):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        application = claimed_by(reviewer, product)
    due, claim_until = application.review_due_at, application.claim_expires_at
    asked_at = start + timedelta(minutes=10)
    with time_machine.travel(asked_at, tick=False):
        request = ask(application, reviewer)
    paused = fresh(application)
    assert paused.review_due_at is None and paused.claimed_by is None and paused.claim_expires_at is None
    assert request.review_time_left == due - asked_at
    assert request.claim_time_left == claim_until - asked_at

    # Two days later, long past the old due date and claim: nothing ran out meanwhile.
    answered_at = asked_at + timedelta(days=2)
    with time_machine.travel(answered_at, tick=False):
        assert services.release_expired_claims() == 0
        answer(request, SECOND)
    resumed = fresh(application)
    assert resumed.review_due_at == answered_at + (due - asked_at)
    assert resumed.claimed_by == reviewer and resumed.claim_expires_at == answered_at + (claim_until - asked_at)
    assert resumed.state == ApplicationState.IN_REVIEW


def test_an_expired_request_gives_the_application_back_to_the_reviewer_who_asked(product, reviewer):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        application = claimed_by(reviewer, product)
        request = ask(application, reviewer)
    left = request.review_time_left

    # Beat was down: the deadline passed a day ago, and the job catches up.
    late = request.deadline + timedelta(days=1)
    with time_machine.travel(late, tick=False):
        assert services.expire_evidence_requests() == 1
        assert services.expire_evidence_requests() == 0
    request.refresh_from_db()
    assert request.state == EvidenceRequestState.EXPIRED and request.closed_at == late
    back = fresh(application)
    assert back.review_due_at == late + left and back.claimed_by == reviewer


def test_a_request_is_not_expired_before_its_deadline(product, reviewer):
    request = ask(claimed_by(reviewer, product), reviewer)
    with time_machine.travel(request.deadline - timedelta(seconds=1)):
        assert services.evidence_request_expire(request_id=request.public_id) is None
    assert EvidenceRequest.objects.get(pk=request.pk).state == EvidenceRequestState.OPEN


def test_an_answer_after_the_deadline_is_refused_even_before_the_expiry_job_ran(product, reviewer):
    request = ask(claimed_by(reviewer, product), reviewer)
    with time_machine.travel(request.deadline + timedelta(minutes=1)):
        with pytest.raises(Conflict) as refused:
            answer(request, SECOND)
    assert refused.value.code == "evidence_request_deadline_passed"
    assert request.application.evidence.count() == 1


def test_the_answer_joins_the_evidence_and_is_screened(product, reviewer):
    application = claimed_by(reviewer, product)
    request = answer(ask(application, reviewer), SECOND)
    assert request.state == EvidenceRequestState.ANSWERED and request.answer is not None
    assert list(application.evidence.order_by("position").values_list("position", flat=True)) == [0, 1]
    screened = screen(application)
    assert request.answer.screening.completed
    assert screened.state == ApplicationState.IN_REVIEW


def test_a_photo_uploaded_first_answers_by_its_id(product, reviewer):
    request = ask(claimed_by(reviewer, product), reviewer)
    staged = services.evidence_upload_create(platform=product.merchant.platform, image=upload(SECOND))
    request = services.evidence_request_answer(
        request_id=request.public_id, actor=PLATFORM, evidence_upload_ids=[str(staged.public_id)]
    )
    assert request.answer.sha256 == staged.sha256
    assert EvidenceUpload.objects.get(pk=staged.pk).used_at is not None


@pytest.mark.parametrize("photos", [0, 2])
def test_an_answer_carries_exactly_one_photo(product, reviewer, photos):
    request = ask(claimed_by(reviewer, product), reviewer)
    with pytest.raises(InvalidInput) as refused:
        services.evidence_request_answer(
            request_id=request.public_id, actor=PLATFORM, evidence=[upload(SECOND)] * photos
        )
    assert refused.value.code == "evidence_request_one_photo"
    assert EvidenceRequest.objects.get(pk=request.pk).state == EvidenceRequestState.OPEN


def test_a_request_is_answered_once(product, reviewer):
    request = answer(ask(claimed_by(reviewer, product), reviewer), SECOND)
    with pytest.raises(Conflict) as refused:
        answer(request, jpeg(seed=42))
    assert refused.value.code == "evidence_request_not_open"
    assert request.application.evidence.count() == 2


def test_nobody_claims_or_decides_while_the_photo_is_awaited(product, reviewer, second_reviewer, senior_reviewer):
    application = claimed_by(reviewer, product)
    ask(application, reviewer)
    for user in (reviewer, second_reviewer):
        with pytest.raises(Conflict) as refused:
            services.application_claim(application_id=application.public_id, reviewer=user)
        assert refused.value.code == "awaiting_second_photo"
    assert services.application_claim_next(reviewer=second_reviewer) is None
    with pytest.raises(Conflict) as refused:
        services.application_decide(
            application_id=application.public_id,
            reviewer=senior_reviewer,
            outcome="rejected",
            reason_codes=["insufficient_evidence"],
            note="No photo came.",
        )
    assert refused.value.code == "awaiting_second_photo"
    rights = services.decision_permissions(application=fresh(application), user=senior_reviewer)
    assert not rights.may_decide and not rights.may_claim


def test_a_cancelled_request_lets_the_reviewer_decide_at_once(product, reviewer):
    application = claimed_by(reviewer, product)
    request = ask(application, reviewer)
    request = services.evidence_request_cancel(
        request_id=request.public_id,
        actor=Actor.of_user(ActorKind.REVIEWER, reviewer),
        reason="The merchant's packing video settles it.",
    )
    assert request.state == EvidenceRequestState.CANCELLED
    assert request.cancel_reason == "The merchant's packing video settles it."
    services.application_decide(
        application_id=application.public_id,
        reviewer=reviewer,
        outcome="approved",
        reason_codes=["evidence_consistent"],
        note="The crack is real.",
    )
    assert fresh(application).state == ApplicationState.DECIDED
    with pytest.raises(Conflict) as refused:
        answer(request, SECOND)
    assert refused.value.code == "evidence_request_not_open"


def test_one_request_is_open_at_a_time(product, reviewer):
    application = claimed_by(reviewer, product)
    first = ask(application, reviewer)
    with pytest.raises(Conflict) as refused:
        ask(application, reviewer)
    assert refused.value.code == "evidence_request_open_exists"
    # The database refuses a second open request, whatever the service checked.
    with pytest.raises(IntegrityError), transaction.atomic():
        EvidenceRequest.objects.create(
            application=application,
            first_evidence=first.first_evidence,
            instructions="x",
            language="en",
            actor_kind=ActorKind.SYSTEM,
            deadline=first.deadline,
            review_time_left=first.review_time_left,
        )
    # Answered, the application may be asked again.
    answered = answer(first, SECOND)
    again = ask(application, reviewer, first_evidence_id=answered.answer.public_id)
    assert again.first_evidence == answered.answer


def test_only_the_holder_of_the_claim_or_a_senior_asks(product, reviewer, second_reviewer, senior_reviewer, auditor):
    application = claimed_by(reviewer, product)
    with pytest.raises(Conflict) as refused:
        ask(application, second_reviewer)
    assert refused.value.code == "claimed_by_other"
    with pytest.raises(Forbidden):
        ask(application, auditor)
    assert ask(application, senior_reviewer).claim_holder == reviewer


def test_a_reviewer_without_a_claim_must_claim_first(product, reviewer):
    application = contested(product)
    with pytest.raises(Conflict) as refused:
        ask(application, reviewer)
    assert refused.value.code == "claim_required"


def test_only_an_application_in_review_is_asked_for_a_photo(product, senior_reviewer):
    application = screen(submit(product))
    with pytest.raises(Conflict) as refused:
        ask(application, senior_reviewer)
    assert refused.value.code == "invalid_state"


def test_bad_language_instructions_and_photos_are_refused(product, reviewer, other_merchant):
    application = claimed_by(reviewer, product)
    with pytest.raises(InvalidInput) as refused:
        ask(application, reviewer, language="fr")
    assert refused.value.code == "invalid_language" and refused.value.details["param"] == "language"
    with pytest.raises(InvalidInput) as refused:
        ask(application, reviewer, instructions="x" * 2001)
    assert refused.value.code == "evidence_request_instructions_too_long"
    other = screen(submit(product, buyer_ref="buyer-2", order_ref="order-2"))
    with pytest.raises(InvalidInput) as refused:
        ask(application, reviewer, first_evidence_id=other.evidence.get().public_id)
    assert refused.value.code == "evidence_not_of_application"
    assert not EvidenceRequest.objects.exists()


def test_an_answer_for_another_application_is_not_found(product, reviewer, second_reviewer):
    request = ask(claimed_by(reviewer, product), reviewer)
    other = claimed_by(second_reviewer, product, buyer_ref="buyer-2", order_ref="order-2")
    with pytest.raises(NotFound):
        answer(request, SECOND, application_id=other.public_id)


def test_a_withdrawal_cancels_the_open_request(product, reviewer):
    application = claimed_by(reviewer, product)
    request = ask(application, reviewer)
    services.application_withdraw(application_id=application.public_id, actor=PLATFORM, reason="Settled.")
    request.refresh_from_db()
    assert request.state == EvidenceRequestState.CANCELLED
    assert fresh(application).state == ApplicationState.WITHDRAWN


def test_every_step_is_in_the_applications_chain_and_announced_in_order(product, reviewer):
    application = claimed_by(reviewer, product)
    first = ask(application, reviewer)
    answer(first, SECOND)
    second = ask(application, reviewer)
    with time_machine.travel(second.deadline):
        services.expire_evidence_requests()
    third = ask(fresh(application), reviewer)
    services.evidence_request_cancel(request_id=third.public_id, actor=Actor.of_user(ActorKind.REVIEWER, reviewer))

    actions = list(AuditEvent.objects.filter(application=application).order_by("seq").values_list("action", flat=True))
    assert [a for a in actions if a.startswith("evidence_request")] == [
        "evidence_request_open",
        "evidence_request_answer",
        "evidence_request_open",
        "evidence_request_expire",
        "evidence_request_open",
        "evidence_request_cancel",
    ]
    assert audit.verify_chain(fresh(application)).ok
    events = list(WebhookEvent.objects.filter(application=application).order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, len(events) + 1))
    assert [e.type for e in events if "evidence_request" in e.type] == [
        "application.evidence_requested",
        "application.evidence_request_answered",
        "application.evidence_requested",
        "application.evidence_request_expired",
        "application.evidence_requested",
        "application.evidence_request_cancelled",
    ]
    requested = events[[e.type for e in events].index("application.evidence_requested")].payload
    assert requested["evidence_request"]["id"] == str(first.public_id)
    assert requested["evidence_request"]["instructions"] == first.instructions
    assert requested["evidence_request"]["answer_url"].endswith(f"/evidence-requests/{first.public_id}/answer")


def test_the_policy_asks_when_an_uncertain_screening_enters_review(product):
    policy_update(
        platform=product.merchant.platform, changes={"second_photo_for_uncertain": True}, actor=Actor.system()
    )
    application = screen(submit(product, evidence=[GENUINE_CUP]))
    # A screening that leaves doubt: the middle finding sends it to people as suspicious.
    RefundApplication.objects.filter(pk=application.pk).update(risk_level=RiskLevel.SUSPICIOUS)
    services.application_contest(
        application_id=application.public_id,
        actor=Actor(ActorKind.MERCHANT, None, "owner"),
        statement="The photo is our catalogue photo.",
    )
    request = EvidenceRequest.objects.get(application=application)
    assert request.actor_kind == ActorKind.SYSTEM and request.claim_holder is None
    assert request.instructions == default_instructions("zh-hans")
    assert fresh(application).review_due_at is None


def test_the_policy_does_not_ask_by_default_nor_for_a_clean_screening(product):
    clean = contested(product)
    assert clean.risk_level == RiskLevel.CLEAN
    application = screen(submit(product, buyer_ref="buyer-2", order_ref="order-2"))
    RefundApplication.objects.filter(pk=application.pk).update(risk_level=RiskLevel.SUSPICIOUS)
    services.application_contest(
        application_id=application.public_id, actor=Actor(ActorKind.MERCHANT, None, "owner"), statement="No."
    )
    assert not EvidenceRequest.objects.exists()


def test_the_second_photo_window_is_the_policys(product, reviewer):
    policy_update(
        platform=product.merchant.platform, changes={"second_photo_window": timedelta(hours=24)}, actor=Actor.system()
    )
    request = ask(claimed_by(reviewer, product), reviewer)
    assert request.deadline - request.requested_at == timedelta(hours=24)
    with pytest.raises(InvalidInput) as refused:
        policy_update(
            platform=product.merchant.platform, changes={"second_photo_window": timedelta(days=8)}, actor=Actor.system()
        )
    assert refused.value.details["param"] == "second_photo_window"


def test_a_reviewer_without_the_decision_permission_cannot_cancel(product, reviewer, db):
    request = ask(claimed_by(reviewer, product), reviewer)
    viewer = make_staff("viewer", "Auditors")
    with pytest.raises(Forbidden):
        services.evidence_request_cancel(request_id=request.public_id, actor=Actor.of_user(ActorKind.REVIEWER, viewer))
