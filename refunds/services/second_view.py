"""The buyer's second photo against the first: once the worker has screened the photo that
answered a request for another photo, compare the two views (a real item seen from two
viewpoints is consistent in three dimensions, a flat picture is not, and the damage must be in
both), record what was found and let the policy assess the application's risk again.

Its own module, above both the requests (whose lock it takes) and the screening services
(whose routing it calls), which themselves call the requests when a re-screening turns an
application suspicious.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from refunds import audit
from refunds.integration import outbox
from refunds.models import Evidence, EvidenceRequest
from refunds.services.evidence_requests import locked_evidence_request
from refunds.services.screening import application_record_screening
from refunds.states import ActorKind, EvidenceRequestState
from refunds.vocab import VIEW_PAIR_ACTOR_LABEL, AuditAction
from screening.core import FindingCode, ViewPairVerdict, compare_views
from screening.models import Finding

COMPARE_TASK = "refunds.compare_second_photo"

# What an inconsistent second view scores (a finding counts from the policy's threshold, 0.5
# by default): a flat reading is the forger's signature, but also an honest flat item seen
# close up, so it sends the application to a person as suspicious and never decides alone;
# another scene, or damage missing from the second view, as much.
_INCONSISTENT_SCORES = {
    ViewPairVerdict.FLAT: 0.8,
    ViewPairVerdict.UNRELATED: 0.7,
}
_DAMAGE_MISSING_SCORE = 0.7


def evidence_requests_schedule_comparisons(*, application_id: UUID | str) -> int:
    """Schedule, through the outbox, the comparison of every answered request of the application
    whose second photo is screened and not yet compared; return how many. The comparison is
    idempotent, so scheduling one twice (a redelivered screening task) costs a no-op."""
    # Read outside a transaction: almost every screening finds nothing here, and a BEGIN and a
    # COMMIT around one read are two more round trips. Two redeliveries reading at once may both
    # schedule a comparison, which the idempotence above allows.
    pending = list(
        EvidenceRequest.objects.filter(
            application__public_id=application_id,
            state=EvidenceRequestState.ANSWERED,
            view_pair__isnull=True,
            answer__screening__completed=True,
        ).values_list("public_id", flat=True)
    )
    if pending:
        with transaction.atomic():
            for public_id in pending:
                outbox.schedule(COMPARE_TASK, [str(public_id)])
    return len(pending)


def _damage_box(evidence: Evidence) -> tuple[int, int, int, int] | None:
    """Where the damage is in the first photo, when screening localised an edit there: the
    largest region of its ``local_edit`` finding (evidence pixels), else None."""
    result = getattr(evidence, "screening", None)
    if result is None:
        return None
    regions = [
        region
        for finding in result.findings.filter(code=FindingCode.LOCAL_EDIT)
        for region in finding.regions or []
        if len(region) == 4 and region[2] > 0 and region[3] > 0
    ]
    if not regions:
        return None
    x, y, w, h = max(regions, key=lambda r: r[2] * r[3])
    return int(x), int(y), int(w), int(h)


def _read(evidence: Evidence) -> bytes:
    with evidence.file.open("rb") as handle:
        return handle.read()


def evidence_request_compare_views(*, request_id: UUID | str) -> dict[str, Any] | None:
    """Compare the answered request's second photo with the first (two views of a real item
    are consistent in three dimensions, two of a flat picture are not, and the damage must be
    in both); store the result on the request, add a ``second_view_inconsistent`` finding to the
    second photo for a flat or unrelated pair or damage missing from it, and let the policy
    assess the application's risk again. Return the result, or None when there is nothing to
    compare (not answered, not screened yet, or compared already: a redelivered task)."""
    try:
        request = EvidenceRequest.objects.select_related("first_evidence__screening", "answer__screening").get(
            public_id=request_id
        )
    except (EvidenceRequest.DoesNotExist, ValidationError, ValueError):
        return None
    answer = request.answer
    screened = answer is not None and getattr(answer, "screening", None) is not None and answer.screening.completed
    if request.state != EvidenceRequestState.ANSWERED or request.view_pair is not None or not screened:
        return None
    assert answer is not None
    # Outside any lock: the comparison takes a second or so, and its inputs never change.
    result = compare_views(_read(request.first_evidence), _read(answer), damage_box=_damage_box(request.first_evidence))
    found = result.as_dict()
    with locked_evidence_request(request_id) as (application, request):
        if request.view_pair is not None:
            return None
        request.view_pair = found
        request.view_pair_at = timezone.now()
        request.save(update_fields=["view_pair", "view_pair_at"])
        score = _INCONSISTENT_SCORES.get(result.verdict)
        if score is None and result.damage_in_both is False:
            score = _DAMAGE_MISSING_SCORE
        if score is not None:
            Finding.objects.create(
                result=answer.screening,
                code=FindingCode.SECOND_VIEW_INCONSISTENT,
                score=score,
                detail=result.explanation,
                params=found,
            )
        audit.record(
            application,
            action=AuditAction.EVIDENCE_REQUEST_COMPARE,
            from_state=application.state,
            actor_kind=ActorKind.SYSTEM,
            actor_label=VIEW_PAIR_ACTOR_LABEL,
            payload={"evidence_request": str(request.public_id), **found},
        )
        # The finding joins the application's findings; the policy's one rule gives the risk.
        application_record_screening(application_id=application.public_id)
    return found
