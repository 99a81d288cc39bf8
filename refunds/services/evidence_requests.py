"""Requests for another photo: a reviewer, or the policy for an uncertain screening, asks the
buyer (through the platform) for a second photo of the damage from another angle.

A forger who painted a crack on a catalogue photo, or generated one, must then produce a
second view of the same damage that is consistent in three dimensions; an honest buyer takes
another photo. The request is its own record with its own lifecycle (open → answered /
expired / cancelled), at most one open per application. While it is open the review clock is
paused: the review due date and the asking reviewer's claim stop running, and nobody claims or
decides the application; answered or expired, both resume with the time that was left (an
expired request so goes back to the reviewer who asked, or to the queue).

Every service locks the application's row first, then the request's: the request's
transitions are written in the application's audit chain and webhook sequence, which that lock
orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import IO, Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _
from django_fsm import can_proceed

from refunds.errors import Conflict, ErrorCode, InvalidInput
from refunds.integration import webhooks
from refunds.integration.uploads import validate_image
from refunds.models import Evidence, EvidenceRequest, RefundApplication
from refunds.roles import DECIDE, is_senior
from refunds.services._base import Actor, apply, ensure_can, locked_application, locked_with_application
from refunds.services.review import claimed_by_other, require_perm
from refunds.services.screening_queue import enqueue_screening
from refunds.services.submission import _create_evidence, _remove_unreferenced, _use_staged_uploads
from refunds.states import ActorKind, EvidenceRequestState, RiskLevel
from refunds.vocab import (
    EVIDENCE_REQUEST_EXPIRY_ACTOR_LABEL,
    EVIDENCE_REQUEST_POLICY_ACTOR_LABEL,
    AuditAction,
    WebhookEventType,
)

INSTRUCTIONS_MAX_LENGTH = 2000

# What the buyer is asked when the reviewer writes nothing of their own: rendered in the
# buyer's language when the request is made, and stored as sent.
DEFAULT_INSTRUCTIONS = _(
    "Please take one more photo of the damage shown in your first photo, from a different angle: "
    "step about a quarter of the way around the item, keep the whole damaged part in view, and "
    "send the photo as the camera took it, without editing."
)


def default_instructions(language: str) -> str:
    """Return the default instructions in ``language`` (a code of settings.LANGUAGES)."""
    with translation.override(language):
        return str(DEFAULT_INSTRUCTIONS)


def _language_checked(language: str) -> str:
    codes = [code for code, _name in settings.LANGUAGES]
    language = (language or settings.LANGUAGE_CODE).lower()
    if language not in codes:
        raise InvalidInput(
            ErrorCode.INVALID_LANGUAGE,
            languages=", ".join(codes),
            details={"param": "language", "allowed": codes},
        )
    return language


def _instructions_checked(instructions: str, language: str) -> str:
    instructions = (instructions or "").strip()
    if len(instructions) > INSTRUCTIONS_MAX_LENGTH:
        raise InvalidInput(
            ErrorCode.EVIDENCE_REQUEST_INSTRUCTIONS_TOO_LONG,
            limit=INSTRUCTIONS_MAX_LENGTH,
            details={"param": "instructions"},
        )
    return instructions or default_instructions(language)


def _deadline_text(deadline: datetime) -> str:
    return formats.date_format(timezone.localtime(deadline), "DATETIME_FORMAT")


def _record(
    application: RefundApplication,
    request: EvidenceRequest,
    transition: Any,
    *,
    actor: Actor,
    action: str,
    from_state: str,
    event_type: str,
    reason: str = "",
    payload: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Run the application's side of the request's transition (pausing or resuming its review
    clock), append it to the application's audit chain and write the request's webhook event:
    in the caller's transaction, under the application's lock."""
    apply(
        application,
        transition,
        actor=actor,
        action=action,
        reason=reason,
        payload={
            "evidence_request": str(request.public_id),
            "from": from_state,
            "to": request.state,
            **(payload or {}),
        },
        **kwargs,
    )
    webhooks.evidence_request_event_record(
        application, request, event_type=event_type, from_state=from_state, action=action
    )


def _may_ask(application: RefundApplication, actor: Actor) -> None:
    """Raise unless the actor may ask for another photo of this application now: the policy
    (the system) always; a reviewer with the decision permission who holds the live claim, or
    a senior reviewer."""
    if actor.kind != ActorKind.REVIEWER:
        return
    reviewer = actor.user
    assert reviewer is not None
    if is_senior(reviewer):
        return
    live = not application.has_no_live_claim()
    if application.claimed_by_id == reviewer.pk and live:
        return
    if live:
        raise claimed_by_other(ErrorCode.CLAIMED_BY_OTHER, application)
    raise Conflict(ErrorCode.CLAIM_REQUIRED)


def evidence_request_permissions(*, application: RefundApplication, user: Any) -> tuple[bool, bool]:
    """Return whether the user may ask for another photo of the application now, and whether
    they may cancel its open request: the pages ask this instead of judging."""
    if not user.has_perm(DECIDE) or application.state != application.State.IN_REVIEW:
        return False, False
    if not application.has_no_open_evidence_request():
        return False, True
    try:
        _may_ask(application, Actor.of_user(ActorKind.REVIEWER, user))
    except Conflict:
        return False, False
    return True, False


def _first_evidence(application: RefundApplication, evidence_id: UUID | str | None) -> Evidence:
    photos = application.evidence.order_by("position", "pk")
    if evidence_id is None:
        first = photos.first()
    else:
        try:
            first = photos.filter(public_id=evidence_id).first()
        except (ValidationError, ValueError):
            first = None
    if first is None:
        raise InvalidInput(ErrorCode.EVIDENCE_NOT_OF_APPLICATION, details={"param": "evidence"})
    return first


def _create_locked(
    application: RefundApplication,
    *,
    actor: Actor,
    instructions: str,
    language: str,
    first_evidence_id: UUID | str | None,
) -> EvidenceRequest:
    ensure_can(application, application.pause_review)
    if not application.has_no_open_evidence_request():
        raise Conflict(ErrorCode.EVIDENCE_REQUEST_OPEN_EXISTS)
    _may_ask(application, actor)
    first = _first_evidence(application, first_evidence_id)
    now = timezone.now()
    policy = application.platform.policy
    due = application.review_due_at
    # An application in review has a due date; one without (made before due dates existed)
    # gets the policy's whole review time back.
    review_left = max(due - now, timedelta(0)) if due is not None else policy.review_time_limit
    live = application.claimed_by_id is not None and not application.has_no_live_claim()
    request = EvidenceRequest.objects.create(
        application=application,
        first_evidence=first,
        instructions=instructions,
        language=language,
        actor_kind=actor.kind,
        requested_by=actor.user,
        requested_by_label=actor.label[:200],
        requested_at=now,
        deadline=now + policy.second_photo_window,
        review_time_left=review_left,
        claim_holder=application.claimed_by if live else None,
        claim_time_left=(application.claim_expires_at - now) if live and application.claim_expires_at else None,
    )
    _record(
        application,
        request,
        application.pause_review,
        actor=actor,
        action=AuditAction.EVIDENCE_REQUEST_OPEN,
        from_state="",
        event_type=WebhookEventType.EVIDENCE_REQUESTED,
        payload={
            "first_evidence": first.sha256,
            "language": language,
            "deadline": request.deadline.isoformat(),
            "review_time_left": review_left.total_seconds(),
        },
    )
    return request


def evidence_request_create(
    *,
    application_id: UUID | str,
    actor: Actor,
    instructions: str = "",
    language: str = "",
    first_evidence_id: UUID | str | None = None,
) -> EvidenceRequest:
    """Ask the buyer, through the platform, for another photo of the damage shown in one of the
    application's photos (the first by default), from another angle, by the policy's deadline;
    pause the review clock until it arrives.

    ``instructions`` in the buyer's ``language`` (a code of settings.LANGUAGES; the default
    instructions are rendered in it when none are written). Raise InvalidInput for a bad
    language, instructions too long or a photo of another application; Forbidden for a
    reviewer without the decision permission; Conflict when the application is not in review,
    already waits for a photo, or the reviewer (not a senior) does not hold its claim.
    """
    if actor.kind == ActorKind.REVIEWER:
        assert actor.user is not None
        require_perm(actor.user, DECIDE)
    language = _language_checked(language)
    instructions = _instructions_checked(instructions, language)
    with locked_application(application_id) as application:
        return _create_locked(
            application,
            actor=actor,
            instructions=instructions,
            language=language,
            first_evidence_id=first_evidence_id,
        )


def evidence_request_by_policy(application: RefundApplication) -> EvidenceRequest | None:
    """Ask for another photo on the policy's behalf when it says so for an application in review
    with an uncertain screening (``suspicious``, not unscreened) that was never asked before;
    return the request, or None. Call under the application's lock, in the transaction of the
    transition into review, or of a re-screening that changed the risk of one in review."""
    policy = application.platform.policy
    if (
        not policy.second_photo_for_uncertain
        or application.risk_level != RiskLevel.SUSPICIOUS
        or application.unscreened
        or application.evidence_requests.exists()
        or not can_proceed(application.pause_review)
    ):
        return None
    language = settings.LANGUAGE_CODE
    return _create_locked(
        application,
        actor=Actor.system(EVIDENCE_REQUEST_POLICY_ACTOR_LABEL),
        instructions=default_instructions(language),
        language=language,
        first_evidence_id=None,
    )


def locked_evidence_request(
    request_id: UUID | str, *, application_id: UUID | str | None = None
) -> AbstractContextManager[tuple[RefundApplication, EvidenceRequest]]:
    """Open a transaction and yield the request and its application, both rows locked; raise
    NotFound for an unknown id, or for a request of another application than ``application_id``
    when one is given."""
    rows = EvidenceRequest.objects.all()
    if application_id is not None:
        rows = rows.filter(application__public_id=application_id)
    return locked_with_application(
        EvidenceRequest, request_id, object_name=_("request for another photo"), related=("claim_holder",), rows=rows
    )


def _not_open(request: EvidenceRequest) -> Conflict:
    return Conflict(
        ErrorCode.EVIDENCE_REQUEST_NOT_OPEN,
        state=request.get_state_display(),
        details={"state": request.state},
    )


def _resume_kwargs(request: EvidenceRequest) -> dict[str, Any]:
    return {
        "review_time_left": request.review_time_left,
        "claim_holder": request.claim_holder,
        "claim_time_left": request.claim_time_left,
    }


def evidence_request_answer(
    *,
    request_id: UUID | str,
    actor: Actor,
    application_id: UUID | str | None = None,
    evidence: Sequence[IO[bytes]] = (),
    evidence_upload_ids: Sequence[str] = (),
) -> EvidenceRequest:
    """Answer the request with the buyer's second photo (a file, or the id of an image uploaded
    before): it joins the application's evidence and is screened like any evidence, then
    compared with the first photo; the review clock resumes with the time that was left.

    Everything is checked before anything is written. Raise InvalidInput unless exactly one
    photo is given, UploadRejected for a bad file, NotFound/Conflict for an unknown or used
    upload; NotFound for an unknown request (or one of another application); Conflict
    ``evidence_request_not_open`` once it is answered, expired or cancelled, and
    ``evidence_request_deadline_passed`` after its deadline (even before the expiry job ran).
    """
    if len(evidence) + len(evidence_upload_ids) != 1:
        raise InvalidInput(ErrorCode.EVIDENCE_REQUEST_ONE_PHOTO, details={"param": "evidence"})
    uploads = [validate_image(item, field="evidence") for item in evidence]
    written: list[str] = []
    try:
        with locked_evidence_request(request_id, application_id=application_id) as (application, request):
            if not request.is_open:
                raise _not_open(request)
            if not can_proceed(request.record_answer):
                raise Conflict(
                    ErrorCode.EVIDENCE_REQUEST_DEADLINE_PASSED,
                    deadline=_deadline_text(request.deadline),
                    details={"deadline": request.deadline.isoformat()},
                )
            position = (application.evidence.order_by("-position").values_list("position", flat=True).first() or 0) + 1
            if uploads:
                photo = _create_evidence(application, uploads[0], position=position, written=written)
            else:
                staged = _use_staged_uploads(application.platform, [str(i) for i in evidence_upload_ids])[0]
                photo = Evidence.objects.create(application=application, position=position, **staged.image_fields())
            from_state = request.state
            request.record_answer(evidence=photo)
            request.save()
            _record(
                application,
                request,
                application.resume_review,
                actor=actor,
                action=AuditAction.EVIDENCE_REQUEST_ANSWER,
                from_state=from_state,
                event_type=WebhookEventType.EVIDENCE_REQUEST_ANSWERED,
                payload={"evidence": photo.sha256},
                **_resume_kwargs(request),
            )
            enqueue_screening(application)
            return request
    except BaseException:
        _remove_unreferenced(written)
        raise


def evidence_request_expire(*, request_id: UUID | str) -> EvidenceRequest | None:
    """Close an open request whose deadline has passed and give the application back to review
    with the time that was left (to the reviewer who asked, while their claim had time); return
    None when there is nothing to do (answered, cancelled, or not yet due)."""
    with locked_evidence_request(request_id) as (application, request):
        if not can_proceed(request.expire):
            return None
        from_state = request.state
        request.expire()
        request.save()
        _record(
            application,
            request,
            application.resume_review,
            actor=Actor.system(EVIDENCE_REQUEST_EXPIRY_ACTOR_LABEL),
            action=AuditAction.EVIDENCE_REQUEST_EXPIRE,
            from_state=from_state,
            event_type=WebhookEventType.EVIDENCE_REQUEST_EXPIRED,
            payload={"deadline": request.deadline.isoformat()},
            **_resume_kwargs(request),
        )
        return request


def expire_evidence_requests() -> int:
    """Expire every open request past its deadline (beat; catches up after downtime); return how many."""
    due = EvidenceRequest.objects.filter(state=EvidenceRequestState.OPEN, deadline__lte=timezone.now()).values_list(
        "public_id", flat=True
    )
    return sum(1 for public_id in due if evidence_request_expire(request_id=public_id) is not None)


def evidence_request_cancel(
    *, request_id: UUID | str, actor: Actor, reason: str = "", application_id: UUID | str | None = None
) -> EvidenceRequest:
    """Cancel an open request (the reviewer decides without the photo) and resume the review
    clock. Raise Forbidden for a reviewer without the decision permission, Conflict
    ``evidence_request_not_open`` once it is closed."""
    if actor.kind == ActorKind.REVIEWER:
        assert actor.user is not None
        require_perm(actor.user, DECIDE)
    with locked_evidence_request(request_id, application_id=application_id) as (application, request):
        return _cancel_locked(application, request, actor=actor, reason=reason)


def _cancel_locked(
    application: RefundApplication, request: EvidenceRequest, *, actor: Actor, reason: str
) -> EvidenceRequest:
    if not can_proceed(request.cancel):
        raise _not_open(request)
    from_state = request.state
    request.cancel(reason=reason)
    request.save()
    _record(
        application,
        request,
        application.resume_review,
        actor=actor,
        action=AuditAction.EVIDENCE_REQUEST_CANCEL,
        from_state=from_state,
        event_type=WebhookEventType.EVIDENCE_REQUEST_CANCELLED,
        reason=reason,
        **_resume_kwargs(request),
    )
    return request


def evidence_request_cancel_open(application: RefundApplication, *, actor: Actor, reason: str) -> None:
    """Cancel the application's open request, if any, before it leaves review (a withdrawal):
    nobody should answer for an application that is gone. Call under the application's lock."""
    with transaction.atomic():
        request = (
            EvidenceRequest.objects.select_for_update(of=("self",))
            .select_related("claim_holder")
            .filter(application=application, state=EvidenceRequestState.OPEN)
            .first()
        )
        if request is not None:
            _cancel_locked(application, request, actor=actor, reason=reason)
