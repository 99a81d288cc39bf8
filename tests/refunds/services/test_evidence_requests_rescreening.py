"""The policy's `second_photo_for_uncertain` asks for another photo not only when a suspicious
application enters review, but also when a re-screening turns one already in review suspicious:
evidence the platform added in the merchant window, screened after the merchant contested."""

import numpy as np
import pytest

from bench import synthetic
from refunds import audit, services
from refunds.models import AuditEvent, EvidenceRequest, RefundApplication, WebhookEvent
from refunds.services import Actor
from refunds.services.platform import policy_update
from refunds.states import ActorKind, ApplicationState, RiskLevel
from screening.services import application_screen_evidence
from tests.factories import GENUINE_CUP, make_product, screen, submit, upload
from tests.refunds.evidence_request_builders import PLATFORM, answer, ask

pytestmark = pytest.mark.django_db

PAGE = synthetic.photo("page")
# A card of the catalogue photo, bowed and tilted: it resembles the catalogue photo without
# being shown a copy of it, the middle class that goes to people as suspicious
# (tests/refunds/services/test_resembling_evidence.py).
BOWED_CARD, _ = synthetic.flat_product_photo(PAGE, np.random.default_rng(26), sagitta=0.03, k1=0.05, glare=0.3)
MERCHANT = Actor(ActorKind.MERCHANT, None, "owner")


@pytest.fixture
def page_product(merchant):
    return make_product(merchant, reference=synthetic.jpeg(PAGE, 92), ref="sku-page")


def asking_policy(product, on=True):
    policy_update(platform=product.merchant.platform, changes={"second_photo_for_uncertain": on}, actor=Actor.system())


def fresh(application):
    return RefundApplication.objects.get(pk=application.pk)


def in_review_with_a_late_photo(product):
    """Screened clean, then a second photo added in the merchant window and contested before
    the worker screened it: in review, still clean, the new photo waiting for screening."""
    application = screen(submit(product, evidence=[GENUINE_CUP]))
    assert application.risk_level == RiskLevel.CLEAN
    services.application_add_evidence(
        application_id=str(application.public_id), evidence=[upload(BOWED_CARD, "card.jpg")], actor=PLATFORM
    )
    services.application_contest(application_id=application.public_id, actor=MERCHANT, statement="It was fine.")
    application = fresh(application)
    assert application.state == ApplicationState.IN_REVIEW and application.risk_level == RiskLevel.CLEAN
    return application


def test_a_rescreening_that_turns_an_application_in_review_suspicious_asks_for_another_photo(page_product):
    asking_policy(page_product)
    application = in_review_with_a_late_photo(page_product)
    assert not EvidenceRequest.objects.exists()

    screened = screen(application)

    assert screened.risk_level == RiskLevel.SUSPICIOUS
    request = EvidenceRequest.objects.get(application=application)
    assert request.actor_kind == ActorKind.SYSTEM and request.is_open
    assert screened.review_due_at is None  # the review clock is paused
    actions = list(AuditEvent.objects.filter(application=application).order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["rescreen", "evidence_request_open"]
    assert audit.verify_chain(screened).ok
    assert WebhookEvent.objects.filter(application=application, type="application.evidence_requested").count() == 1
    # A redelivered screening task changes nothing and asks nothing more.
    assert services.application_record_screening(application_id=application.public_id) is None
    assert EvidenceRequest.objects.filter(application=application).count() == 1


def test_a_rescreening_in_the_merchant_window_waits_for_the_application_to_enter_review(page_product):
    asking_policy(page_product)
    application = screen(submit(page_product, evidence=[GENUINE_CUP]))
    services.application_add_evidence(
        application_id=str(application.public_id), evidence=[upload(BOWED_CARD, "card.jpg")], actor=PLATFORM
    )
    application_screen_evidence(application_id=application.public_id)
    services.application_record_screening(application_id=application.public_id)
    assert fresh(application).risk_level == RiskLevel.SUSPICIOUS
    assert not EvidenceRequest.objects.exists()  # nobody reviews yet: nothing to pause

    services.application_contest(application_id=application.public_id, actor=MERCHANT, statement="It was fine.")
    assert EvidenceRequest.objects.get(application=application).actor_kind == ActorKind.SYSTEM


def test_without_the_policy_a_rescreening_asks_nothing(page_product):
    asking_policy(page_product, on=False)
    application = in_review_with_a_late_photo(page_product)
    assert screen(application).risk_level == RiskLevel.SUSPICIOUS
    assert not EvidenceRequest.objects.exists()


def test_an_application_asked_once_is_not_asked_again_by_a_rescreening(page_product, reviewer):
    asking_policy(page_product)
    application = screen(submit(page_product, evidence=[GENUINE_CUP]))
    services.application_contest(application_id=application.public_id, actor=MERCHANT, statement="It was fine.")
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    # The reviewer's own request, answered with a photo that leaves doubt.
    answer(ask(fresh(application), reviewer), BOWED_CARD)

    assert screen(application).risk_level == RiskLevel.SUSPICIOUS
    assert EvidenceRequest.objects.filter(application=application).count() == 1
