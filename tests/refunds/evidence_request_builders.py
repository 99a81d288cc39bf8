"""Applications in review and requests for another photo, built through the services as in production."""

from __future__ import annotations

from django.contrib.auth.models import User

from refunds import services
from refunds.models import EvidenceRequest, Product, RefundApplication
from refunds.services import Actor
from refunds.states import ActorKind
from tests.factories import GENUINE_CUP, screen, submit, upload

PLATFORM = Actor(ActorKind.PLATFORM, None, "api key test")


def contested(product: Product, **fields: object) -> RefundApplication:
    """A genuine photo screened clean, contested by the merchant: in review, unclaimed."""
    application = screen(submit(product, evidence=fields.pop("evidence", [GENUINE_CUP]), **fields))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor(ActorKind.MERCHANT, None, "owner"),
        statement="The cup left our warehouse intact.",
    )
    return RefundApplication.objects.get(pk=application.pk)


def claimed_by(reviewer: User, product: Product, **fields: object) -> RefundApplication:
    """An application in review that the reviewer holds."""
    application = contested(product, **fields)
    return services.application_claim(application_id=application.public_id, reviewer=reviewer)


def ask(application: RefundApplication, reviewer: User, **fields: object) -> EvidenceRequest:
    """The reviewer asks for another photo of the damage."""
    return services.evidence_request_create(
        application_id=application.public_id, actor=Actor.of_user(ActorKind.REVIEWER, reviewer), **fields
    )


def answer(request: EvidenceRequest, photo: bytes, **fields: object) -> EvidenceRequest:
    """The platform sends the buyer's second photo."""
    return services.evidence_request_answer(
        request_id=request.public_id, actor=PLATFORM, evidence=[upload(photo, "second.jpg")], **fields
    )
