"""Withdrawing an application on the buyer's behalf."""

from __future__ import annotations

from uuid import UUID

from refunds.models import RefundApplication
from refunds.services._base import Actor, apply, ensure_can, locked_application
from refunds.services.evidence_requests import evidence_request_cancel_open
from refunds.vocab import AuditAction


def application_withdraw(*, application_id: UUID | str, actor: Actor, reason: str = "") -> RefundApplication:
    """Withdraw an application that is not yet decided; raise Conflict otherwise."""
    with locked_application(application_id) as application:
        ensure_can(application, application.withdraw)
        # Nobody should be left answering for an application that is gone.
        evidence_request_cancel_open(application, actor=actor, reason=reason or "withdrawn")
        apply(application, application.withdraw, actor=actor, action=AuditAction.WITHDRAW, reason=reason)
        return application
