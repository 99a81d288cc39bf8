"""Serving stored uploads and heat-maps to the people allowed to see them, with safe headers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from refunds.models import Evidence, MerchantMember, RebuttalAttachment, ReferenceImage
from screening.models import Finding


@dataclass(frozen=True)
class _Kind:
    model: type[Model]
    permission: str
    merchant_path: str  # from the object to its merchant's id
    file_field: str = "file"
    content_type: str | None = None  # None: the object's own content_type


KINDS = {
    "evidence": _Kind(Evidence, "refunds.view_refundapplication", "application__merchant_id"),
    "reference": _Kind(ReferenceImage, "refunds.view_referenceimage", "product__merchant_id"),
    "rebuttal": _Kind(RebuttalAttachment, "refunds.view_refundapplication", "rebuttal__application__merchant_id"),
    # A packing video's derived files, served with the original's permissions and headers.
    "rebuttal-video": _Kind(
        RebuttalAttachment,
        "refunds.view_refundapplication",
        "rebuttal__application__merchant_id",
        "playable_file",
        "video/mp4",
    ),
    "rebuttal-poster": _Kind(
        RebuttalAttachment,
        "refunds.view_refundapplication",
        "rebuttal__application__merchant_id",
        "poster_file",
        "image/jpeg",
    ),
    "heatmap": _Kind(
        Finding, "screening.view_finding", "result__evidence__application__merchant_id", "artifact", "image/png"
    ),
}


def safe_file_response(handle: Any, content_type: str) -> FileResponse:
    """Answer a stored file as inert data: its own type, no sniffing, no scripts, no framing."""
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@login_required
def stored_file(request: HttpRequest, kind: str, public_id: UUID) -> FileResponse:
    """Serve a file to staff with the view permission or to members of the owning shop."""
    spec = KINDS.get(kind)
    if spec is None:
        raise Http404
    row = spec.model.objects.filter(public_id=public_id).values_list("pk", spec.merchant_path).first()
    if row is None:
        raise Http404
    allowed = (request.user.is_staff and request.user.has_perm(spec.permission)) or (
        MerchantMember.objects.filter(user=request.user, merchant_id=row[1]).exists()
    )
    if not allowed:
        raise Http404  # not 403: do not confirm that the id exists
    obj = spec.model.objects.get(pk=row[0])
    stored = getattr(obj, spec.file_field)
    if not stored:
        raise Http404
    return safe_file_response(stored.open("rb"), spec.content_type or obj.content_type)
