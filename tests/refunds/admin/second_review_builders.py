"""A decision drawn for a blind second review, as the second-review pages and the blind queue see it."""

from decimal import Decimal

from django.contrib.auth.models import User

from refunds import services
from refunds.models import Platform, Product, QAReview, RefundApplication
from refunds.services import Actor
from refunds.services.platform import policy_update
from refunds.states import ActorKind
from tests.factories import GENUINE_CUP, screen, submit

# The decider's note: a second reviewer must find it nowhere until the second outcome is recorded.
NOTE = "Handle chipped, cup fine: NOTE-4711"


def contested(product: Product, **fields: object) -> RefundApplication:
    """An application the shop contested, waiting for a reviewer."""
    application = screen(submit(product, evidence=[GENUINE_CUP], **fields))
    services.application_contest(
        application_id=application.public_id, actor=Actor(ActorKind.MERCHANT, None, "owner"), statement="Intact."
    )
    return application


def sampled_partial_refund(platform: Platform, product: Product, decider: User) -> QAReview:
    """A partial refund of 17.35 CNY by the decider, drawn for a second review."""
    policy_update(platform=platform, changes={"qa_sample_rate": Decimal("1")}, actor=Actor.system())
    application = contested(product, order_ref="order-blind-9")
    services.application_claim(application_id=application.public_id, reviewer=decider)
    services.application_decide(
        application_id=application.public_id,
        reviewer=decider,
        outcome="partially_approved",
        reason_codes=["partial_damage"],
        approved_amount=Decimal("17.35"),
        note=NOTE,
    )
    return QAReview.objects.get(application=application)
