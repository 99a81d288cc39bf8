"""The merchant's voice: accept, contest with a rebuttal, or let the window close."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO
from uuid import UUID

from django.conf import settings
from django.utils import formats, timezone
from django_fsm import can_proceed

from refunds.errors import Conflict, ErrorCode, InvalidInput, UploadRejected
from refunds.integration.uploads import ValidatedUpload, image_fields, store, validate_attachment
from refunds.models import Rebuttal, RebuttalAttachment, RefundApplication
from refunds.services._base import Actor, DecisionSpec, apply, approve_unless_held, ensure_can, locked_application
from refunds.services.evidence_requests import evidence_request_by_policy
from refunds.services.media import rebuttal_video_enqueue
from refunds.states import ApplicationState, DecisionReason, RebuttalReason
from refunds.vocab import AuditAction

# The longest rebuttal statement; the portal's form reads it from here.
STATEMENT_MAX_LENGTH = 5000


def _deadline_passed(application: RefundApplication) -> Conflict:
    return Conflict(
        ErrorCode.DEADLINE_PASSED,
        deadline=formats.date_format(timezone.localtime(application.merchant_deadline), "DATETIME_FORMAT"),
        details={"deadline": application.merchant_deadline.isoformat() if application.merchant_deadline else None},
    )


def merchant_may_respond(application: RefundApplication) -> bool:
    """Whether the merchant may accept or contest the application now: the transitions' own guards."""
    return can_proceed(application.accept_by_merchant) and can_proceed(application.contest)


def application_accept(*, application_id: UUID | str, actor: Actor) -> RefundApplication:
    """Approve the refund in full on the merchant's word; raise Conflict after the deadline."""
    with locked_application(application_id) as application:
        ensure_can(application, application.accept_by_merchant, refusal=_deadline_passed(application))
        apply(
            application,
            application.accept_by_merchant,
            actor=actor,
            action=AuditAction.MERCHANT_ACCEPT,
            reason=DecisionReason.MERCHANT_ACCEPTED,
            decision=DecisionSpec.full_approval(application, DecisionReason.MERCHANT_ACCEPTED),
        )
        return application


def _attachment_checked(item: IO[bytes], index: int) -> ValidatedUpload:
    """Validate one attachment; a refusal names the file, since the merchant chose several."""
    try:
        return validate_attachment(item)
    except UploadRejected as error:
        raise error.for_file(getattr(item, "name", "") or str(index + 1), index) from None


def attachments_checked(attachments: Sequence[IO[bytes]]) -> list[ValidatedUpload]:
    """Validate the files supporting a rebuttal or an appeal, before anything is stored; raise
    InvalidInput for too many, UploadRejected naming the first bad one."""
    if len(attachments) > settings.UPLOAD_MAX_FILES:
        raise InvalidInput(ErrorCode.TOO_MANY_FILES, limit=settings.UPLOAD_MAX_FILES, details={"param": "attachments"})
    return [_attachment_checked(item, index) for index, item in enumerate(attachments)]


def statement_checked(
    statement: str, reason_codes: Sequence[str], *, known: Sequence[str], required: ErrorCode
) -> tuple[str, list[str]]:
    """Return a party's statement stripped and its reason codes without repeats; raise
    InvalidInput for an unknown code, a missing statement (``required``) or one too long."""
    statement = (statement or "").strip()
    unknown = sorted(set(reason_codes) - set(known))
    if unknown:
        raise InvalidInput(
            ErrorCode.INVALID_REASON_CODE, codes=", ".join(unknown), details={"param": "reason_codes", "codes": unknown}
        )
    if not statement:
        raise InvalidInput(required, details={"param": "statement"})
    if len(statement) > STATEMENT_MAX_LENGTH:
        raise InvalidInput(ErrorCode.STATEMENT_TOO_LONG, limit=STATEMENT_MAX_LENGTH, details={"param": "statement"})
    return statement, list(dict.fromkeys(reason_codes))


def application_contest(
    *,
    application_id: UUID | str,
    actor: Actor,
    statement: str,
    attachments: Sequence[IO[bytes]] = (),
    reason_codes: Sequence[str] = (),
) -> RefundApplication:
    """Send the application to reviewers with the merchant's rebuttal; raise Conflict after the
    deadline and InvalidInput/UploadRejected for a bad statement, reason code or file, storing nothing."""
    statement, reason_codes = statement_checked(
        statement, reason_codes, known=RebuttalReason.values, required=ErrorCode.STATEMENT_REQUIRED
    )
    uploads = attachments_checked(attachments)
    with locked_application(application_id) as application:
        ensure_can(application, application.contest, refusal=_deadline_passed(application))
        rebuttal = Rebuttal.objects.create(
            application=application,
            statement=statement,
            submitted_by=actor.user,
            reason_codes=reason_codes,
        )
        for upload in uploads:
            attachment = RebuttalAttachment.objects.create(
                rebuttal=rebuttal, **image_fields(upload, name=store(upload, folder="rebuttals"))
            )
            if attachment.is_video:
                rebuttal_video_enqueue(attachment)
        apply(
            application,
            application.contest,
            actor=actor,
            action=AuditAction.MERCHANT_CONTEST,
            payload={
                "statement_chars": len(statement),
                "attachments": [u.sha256 for u in uploads],
                "reason_codes": reason_codes,
            },
        )
        evidence_request_by_policy(application)
        return application


def application_expire_window(*, application_id: UUID | str) -> RefundApplication | None:
    """Close a merchant window whose deadline has passed: approve if screening was clean and
    the policy allows it, otherwise send to reviewers. Returns None when there is nothing to do."""
    with locked_application(application_id) as application:
        if application.state != ApplicationState.AWAITING_MERCHANT or not application.window_has_closed():
            return None
        system = Actor.system("window expiry")
        approve_unless_held(
            application,
            eligible=application.expiry_may_approve() and application.screening_is_clean(),
            approve=application.approve_on_expiry,
            approve_action=AuditAction.WINDOW_EXPIRED_APPROVE,
            reason=DecisionReason.WINDOW_EXPIRED_CLEAN,
            otherwise=application.escalate_on_expiry,
            otherwise_action=AuditAction.WINDOW_EXPIRED_REVIEW,
            actor=system,
        )
        evidence_request_by_policy(application)
        return application


def close_expired_windows() -> int:
    """Close every merchant window that is past its deadline, however long ago; return how many."""
    overdue = (
        RefundApplication.objects.filter(
            state=ApplicationState.AWAITING_MERCHANT, merchant_deadline__lte=timezone.now()
        )
        .order_by("merchant_deadline")
        .values_list("public_id", flat=True)
    )
    return sum(application_expire_window(application_id=public_id) is not None for public_id in overdue)
