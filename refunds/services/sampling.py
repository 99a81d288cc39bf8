"""Which reviewers' decisions get a blind second review: drawn at decision time, in the
decision's transaction, at the policy's ``qa_sample_rate``.

The draw is a keyed hash of the application's public id, not a random number: the same
application always draws the same, so a test (or an investigation) can tell why it was or was
not sampled; and the key is the deployment's secret, so a reviewer who sees the public id cannot
work out which of their decisions will be checked and take care over those alone.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from uuid import UUID

from django.utils.crypto import salted_hmac

from refunds import audit
from refunds.models import Decision, QAReview, RefundApplication
from refunds.states import ActorKind
from refunds.vocab import AuditAction

_SALT = "reviewhub.qa.sample"
_SCALE = 2**64

# Who samples, in the record: the policy did, not a person.
QA_SAMPLER_LABEL = "second-review sampling"

Draw = Callable[[UUID], Decimal]


def qa_sample_draw(public_id: UUID) -> Decimal:
    """Return the application's draw in [0, 1), the same every time for the same id."""
    digest = salted_hmac(_SALT, str(public_id), algorithm="sha256").digest()
    return Decimal(int.from_bytes(digest[:8], "big")) / Decimal(_SCALE)


def qa_review_sample(
    *, application: RefundApplication, decision: Decision, draw: Draw = qa_sample_draw
) -> QAReview | None:
    """Open a second review of the decision when the application's draw falls within the
    policy's share; return it, or None. Call it with the application locked, in the decision's
    transaction, so a decision and its sampling commit together or not at all."""
    rate = application.platform.policy.qa_sample_rate
    if rate <= 0 or draw(application.public_id) >= rate:
        return None
    review = QAReview.objects.create(application=application, decision=decision, currency=decision.currency)
    audit.record(
        application,
        action=AuditAction.QA_SAMPLE,
        from_state=application.state,
        actor_kind=ActorKind.SYSTEM,
        actor_label=QA_SAMPLER_LABEL,
        payload={"qa_review": str(review.public_id), "rate": str(rate)},
    )
    return review
