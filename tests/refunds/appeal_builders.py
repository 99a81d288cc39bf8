"""Decided applications to appeal, built through the services as they are in production."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import time_machine
from django.contrib.auth.models import User

from refunds import services
from refunds.models import Appeal, Product, RefundApplication
from refunds.services import Actor
from refunds.states import ActorKind, AppealSide, Outcome
from tests.factories import CUP, GENUINE_CUP, screen, submit


def rejected_by(reviewer: User, product: Product, **fields: object) -> RefundApplication:
    """A catalogue photo sent as evidence (screened forged), left by the merchant, rejected by the reviewer."""
    evidence = fields.pop("evidence", [CUP])
    application = screen(submit(product, evidence=evidence, **fields))
    # This application's window only: others made alongside (the schema test's) keep theirs.
    with time_machine.travel(application.merchant_deadline):
        services.application_expire_window(application_id=application.public_id)
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    services.application_decide(
        application_id=application.public_id,
        reviewer=reviewer,
        outcome=Outcome.REJECTED,
        reason_codes=["evidence_derived"],
        note="The catalogue photo, sent back.",
    )
    return RefundApplication.objects.get(pk=application.pk)


def approved_by(reviewer: User, product: Product, *, amount: str = "39.90", **fields: object) -> RefundApplication:
    """A genuine photo the merchant contested, approved in full by the reviewer."""
    application = screen(submit(product, evidence=[GENUINE_CUP], amount=amount, **fields))
    services.application_contest(
        application_id=application.public_id,
        actor=Actor(ActorKind.MERCHANT, None, "owner"),
        statement="The cup left intact.",
    )
    services.application_claim(application_id=application.public_id, reviewer=reviewer)
    services.application_decide(
        application_id=application.public_id,
        reviewer=reviewer,
        outcome=Outcome.APPROVED,
        reason_codes=["evidence_consistent"],
        note="The crack is real.",
        approved_amount=Decimal(amount),
    )
    return RefundApplication.objects.get(pk=application.pk)


def buyer_appeal(application: RefundApplication, **fields: object) -> Appeal:
    """The platform appeals on the buyer's behalf."""
    return services.appeal_file(
        application_id=application.public_id,
        side=AppealSide.BUYER,
        actor=Actor(ActorKind.PLATFORM, None, "api key test"),
        statement=fields.pop("statement", "The photo is mine; here is the receipt."),
        reason_codes=fields.pop("reason_codes", ["evidence_misread"]),
        **fields,
    )


def overturn(
    appeal: Appeal,
    reviewer: User,
    outcome: str = Outcome.APPROVED,
    reasons: Sequence[str] = ("evidence_consistent",),
    **fields: object,
) -> Appeal:
    """The reviewer overturns the appealed decision with a new outcome and its reasons."""
    return services.appeal_decide(
        appeal_id=appeal.public_id,
        reviewer=reviewer,
        verdict="overturned",
        outcome=outcome,
        reason_codes=list(reasons),
        note=str(fields.pop("note", "The receipt shows the crack was reported at delivery.")),
        **fields,  # type: ignore[arg-type]
    )
