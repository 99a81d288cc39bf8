"""Serving stored uploads to the people allowed to see them, with safe headers."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_GET

from refunds.models import Evidence, RebuttalAttachment, ReferenceImage


def _merchant_of(obj: object):  # noqa: ANN202
    if isinstance(obj, Evidence):
        return obj.application.merchant_id
    if isinstance(obj, RebuttalAttachment):
        return obj.rebuttal.application.merchant_id
    return obj.product.merchant_id


_KINDS = {
    "evidence": (Evidence, "refunds.view_refundapplication"),
    "reference": (ReferenceImage, "refunds.view_referenceimage"),
    "rebuttal": (RebuttalAttachment, "refunds.view_refundapplication"),
}


@require_GET
@login_required
def stored_file(request: HttpRequest, kind: str, public_id: UUID) -> FileResponse:
    """Serve an upload to staff with the view permission or to members of the owning shop."""
    if kind not in _KINDS:
        raise Http404
    model, perm = _KINDS[kind]
    obj = model.objects.filter(public_id=public_id).first()
    if obj is None:
        raise Http404
    member = getattr(request.user, "merchant_member", None)
    allowed = (request.user.is_staff and request.user.has_perm(perm)) or (member is not None and member.merchant_id == _merchant_of(obj))
    if not allowed:
        raise Http404  # not 403: do not confirm that the id exists
    response = FileResponse(obj.file.open("rb"), content_type=obj.content_type)
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
