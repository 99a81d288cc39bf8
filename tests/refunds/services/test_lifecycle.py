"""The lifecycle through the services, screening run synchronously."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from refunds import services
from refunds.errors import Conflict
from refunds.models import AuditEvent, Decision, Rebuttal
from refunds.services import Actor
from refunds.states import ActorKind, ApplicationState, Outcome, RiskLevel
from tests.factories import CUP, FORGED_CUP, GENUINE_CUP, jpeg, screen, submit

pytestmark = pytest.mark.django_db


def merchant_actor(user):
    return Actor.of_user(ActorKind.MERCHANT, user)


def test_a_genuine_photo_is_screened_clean_and_waits_for_the_merchant(product):
    application = screen(submit(product))
    assert application.state == ApplicationState.AWAITING_MERCHANT
    assert application.risk_level == RiskLevel.CLEAN
    assert application.merchant_deadline - application.updated_at < timedelta(hours=48, seconds=5)
    assert list(application.audit_events.values_list("action", flat=True)) == ["submit", "screen", "open_window"]


def test_the_catalogue_photo_itself_is_forged(product):
    application = screen(submit(product, evidence=[CUP]))
    assert application.risk_level == RiskLevel.FORGED
    result = application.evidence.get().screening
    assert result.verdict == "derived_from_reference" and result.matched_reference is not None
    assert result.findings.get(code="derived_from_reference").score >= 0.9


def test_a_painted_forgery_is_flagged_with_the_edited_region_and_a_heat_map(product):
    application = screen(submit(product, evidence=[FORGED_CUP]))
    assert application.risk_level == RiskLevel.FORGED
    edit = application.evidence.get().screening.findings.get(code="local_edit")
    assert edit.regions and all(len(box) == 4 for box in edit.regions)
    with edit.artifact.open("rb") as heat_map:
        assert heat_map.read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_recompressed_copy_of_earlier_evidence_is_a_near_duplicate(product):
    import io

    from PIL import Image

    first = screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first"))
    copy = io.BytesIO()
    Image.open(io.BytesIO(GENUINE_CUP)).resize((700, 525)).save(copy, "JPEG", quality=70)
    second = screen(submit(product, evidence=[copy.getvalue()], buyer_ref="second"))
    finding = second.evidence.get().screening.findings.get(code="near_duplicate")
    assert finding.params["application"] == str(first.public_id)
    assert second.risk_level == RiskLevel.FORGED


def test_evidence_reused_from_an_earlier_application_is_forged(product):
    screen(submit(product, evidence=[GENUINE_CUP], buyer_ref="first"))
    second = screen(submit(product, evidence=[jpeg(seed=9), GENUINE_CUP], buyer_ref="second"))
    assert second.risk_level == RiskLevel.FORGED
    assert "near_duplicate" in second.risk_explanation


def test_fast_track_approves_a_clean_small_claim_without_waiting(product):
    product.merchant.platform.policy.__class__.objects.filter(platform=product.merchant.platform).update(
        fast_track_enabled=True, fast_track_ceiling=Decimal("50.00")
    )
    application = screen(submit(product, amount="49.99"))
    assert application.state == ApplicationState.DECIDED
    assert application.decision.actor_kind == ActorKind.SYSTEM
    assert application.decision.approved_amount == Decimal("49.99")


def test_fast_track_never_approves_a_forged_claim(product):
    product.merchant.platform.policy.__class__.objects.filter(platform=product.merchant.platform).update(
        fast_track_enabled=True, fast_track_ceiling=Decimal("500.00")
    )
    application = screen(submit(product, evidence=[CUP]))
    assert application.state == ApplicationState.AWAITING_MERCHANT


def test_the_merchant_accepts_within_the_window(product, merchant_owner):
    application = screen(submit(product))
    services.application_accept(application_id=application.public_id, actor=merchant_actor(merchant_owner))
    decision = Decision.objects.get(application=application)
    assert (decision.outcome, decision.actor_kind, decision.actor) == (
        Outcome.APPROVED,
        ActorKind.MERCHANT,
        merchant_owner,
    )


def test_a_contest_sends_the_application_to_review_with_the_rebuttal(product, merchant_owner):
    application = screen(submit(product))
    services.application_contest(
        application_id=application.public_id,
        actor=merchant_actor(merchant_owner),
        statement="Packed intact; see packing photo.",
        attachments=[_file(jpeg(seed=3))],
    )
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW
    assert application.rebuttal.attachments.count() == 1


def test_a_contest_after_the_deadline_is_refused_and_stores_nothing(product, merchant_owner):
    application = screen(submit(product))
    with time_machine.travel(application.merchant_deadline + timedelta(seconds=1)):
        with pytest.raises(Conflict) as refused:
            services.application_contest(
                application_id=application.public_id,
                actor=merchant_actor(merchant_owner),
                statement="Too late",
                attachments=[_file(jpeg(seed=4))],
            )
    assert refused.value.code == "deadline_passed"
    assert not Rebuttal.objects.exists()
    application.refresh_from_db()
    assert application.state == ApplicationState.AWAITING_MERCHANT


def test_an_accept_after_the_deadline_is_refused(product, merchant_owner):
    application = screen(submit(product))
    with time_machine.travel(application.merchant_deadline):
        with pytest.raises(Conflict) as refused:
            services.application_accept(application_id=application.public_id, actor=merchant_actor(merchant_owner))
    assert refused.value.code == "deadline_passed"


def test_expiry_approves_a_clean_application_by_system(product):
    application = screen(submit(product))
    with time_machine.travel(application.merchant_deadline + timedelta(hours=1)):
        assert services.close_expired_windows() == 1
    application.refresh_from_db()
    assert application.state == ApplicationState.DECIDED
    assert application.decision.actor_kind == ActorKind.SYSTEM


def test_expiry_sends_a_risky_application_to_review(product):
    application = screen(submit(product, evidence=[CUP]))
    with time_machine.travel(application.merchant_deadline + timedelta(hours=1)):
        services.close_expired_windows()
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW
    assert not Decision.objects.filter(application=application).exists()


def test_expiry_does_not_approve_when_the_policy_forbids_it(product):
    policy = product.merchant.platform.policy
    policy.expiry_auto_approves = False
    policy.save()
    application = screen(submit(product))
    with time_machine.travel(application.merchant_deadline + timedelta(hours=1)):
        services.close_expired_windows()
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW


def test_expiry_before_the_deadline_changes_nothing(product):
    application = screen(submit(product))
    assert services.close_expired_windows() == 0
    assert services.application_expire_window(application_id=application.public_id) is None


def test_a_senior_reviewer_claims_and_decides_a_partial_refund_of_a_forged_application(product, senior_reviewer):
    application = screen(submit(product, evidence=[CUP], amount="100.00"))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    services.application_claim(application_id=application.public_id, reviewer=senior_reviewer)
    services.application_decide(
        application_id=application.public_id,
        reviewer=senior_reviewer,
        outcome=Outcome.PARTIALLY_APPROVED,
        approved_amount=Decimal("30.00"),
        reason_codes=["partial_damage"],
        note="Only the handle is chipped.",
    )
    decision = Decision.objects.get(application=application)
    assert (decision.outcome, decision.approved_amount) == (Outcome.PARTIALLY_APPROVED, Decimal("30.00"))


def test_a_claim_by_another_reviewer_blocks_a_decision_until_it_expires(product, reviewer, second_reviewer):
    application = _in_review(product)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    with pytest.raises(Conflict) as refused:
        services.application_decide(
            application_id=application.public_id,
            reviewer=second_reviewer,
            outcome=Outcome.REJECTED,
            reason_codes=["evidence_derived"],
            note="Copied photo.",
        )
    assert refused.value.code == "claimed_by_other"
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        assert services.release_expired_claims() == 1
        services.application_claim(application_id=application.public_id, reviewer=second_reviewer)
        services.application_decide(
            application_id=application.public_id,
            reviewer=second_reviewer,
            outcome=Outcome.REJECTED,
            reason_codes=["evidence_derived"],
            note="Copied photo.",
        )


def test_a_user_without_the_permission_cannot_decide(product, auditor):
    application = _in_review(product)
    from refunds.errors import Forbidden

    with pytest.raises(Forbidden):
        services.application_decide(
            application_id=application.public_id,
            reviewer=auditor,
            outcome=Outcome.APPROVED,
            reason_codes=["evidence_consistent"],
            note="Looks fine.",
        )


def test_withdrawal_is_possible_until_decided(product, reviewer):
    application = screen(submit(product))
    services.application_withdraw(application_id=application.public_id, actor=Actor(ActorKind.PLATFORM, None, "api"))
    with pytest.raises(Conflict) as refused:
        services.application_withdraw(
            application_id=application.public_id, actor=Actor(ActorKind.PLATFORM, None, "api")
        )
    assert refused.value.code == "invalid_state"


def test_every_transition_is_in_the_audit_log(product, merchant_owner):
    application = screen(submit(product))
    services.application_accept(application_id=application.public_id, actor=merchant_actor(merchant_owner))
    events = list(AuditEvent.objects.filter(application=application).order_by("seq"))
    assert [(e.from_state, e.to_state) for e in events] == [
        ("", "submitted"),
        ("submitted", "auto_screened"),
        ("auto_screened", "awaiting_merchant"),
        ("awaiting_merchant", "decided"),
    ]
    assert events[-1].actor_label == "owner"


def _in_review(product):
    application = screen(submit(product, evidence=[CUP]))
    with time_machine.travel(application.merchant_deadline):
        services.close_expired_windows()
    application.refresh_from_db()
    assert application.state == ApplicationState.IN_REVIEW
    return application


def _file(data):
    from tests.factories import upload

    return upload(data)
