"""Serving stored uploads and heat-maps to the people allowed to see them, with safe headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.db.models import Model
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.views.decorators.http import require_GET

from refunds.models import AppealAttachment, Evidence, MerchantMember, Rebuttal, RebuttalAttachment, ReferenceImage
from refunds.states import VideoState
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
    "appeal": _Kind(AppealAttachment, "refunds.view_refundapplication", "appeal__application__merchant_id"),
    "heatmap": _Kind(
        Finding, "screening.view_finding", "result__evidence__application__merchant_id", "artifact", "image/png"
    ),
}


Response = TypeVar("Response", bound=HttpResponseBase)


def _safe_headers(response: Response) -> Response:
    response["Content-Disposition"] = "inline"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def safe_file_response(handle: Any, content_type: str) -> FileResponse:
    """Answer a stored file as inert data: its own type, no sniffing, no scripts, no framing."""
    return _safe_headers(FileResponse(handle, content_type=content_type))


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# The most one ranged answer carries: a player asks "bytes=0-" and goes on from where the
# answer ends, so a large video is never read into memory whole.
MAX_RANGE_BYTES = 4 * 1024 * 1024


def ranged_file_response(request: HttpRequest, handle: Any, content_type: str) -> HttpResponseBase:
    """Answer a stored file, or the one byte range the request asks for (206): Safari plays a
    video only from a server that answers ranges. Several ranges, or a malformed one, get the
    whole file; a range beyond the end gets 416."""
    match = _RANGE.match(request.headers.get("Range", "").strip())
    size = getattr(handle, "size", None)
    if match is None or size is None or not any(match.groups()):
        response = safe_file_response(handle, content_type)
        response["Accept-Ranges"] = "bytes"
        return response
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    else:  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    end = min(end, start + MAX_RANGE_BYTES - 1)
    if start >= size or start > end:
        handle.close()
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return _safe_headers(refused)
    handle.seek(start)
    part = HttpResponse(handle.read(end - start + 1), status=206, content_type=content_type)
    handle.close()
    part["Content-Range"] = f"bytes {start}-{end}/{size}"
    part["Accept-Ranges"] = "bytes"
    return _safe_headers(part)


@require_GET
@login_required
def stored_file(request: HttpRequest, kind: str, public_id: UUID) -> HttpResponseBase:
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
    return ranged_file_response(request, stored.open("rb"), spec.content_type or obj.content_type)


def file_url(kind: str, obj: object) -> str:
    """Return the address at which `stored_file` serves `obj`'s file of `kind`."""
    return reverse("stored-file", args=[kind, obj.public_id])  # type: ignore[attr-defined]


def attachment_views(rebuttal: Rebuttal | None) -> list[dict[str, Any]]:
    """Return what a page shows of each file of a rebuttal, in the order sent: its address and,
    for a packing video, the playable copy once it is made, or why not yet."""
    if rebuttal is None:
        return []
    views = []
    for item in rebuttal.attachments.all():
        view: dict[str, Any] = {"item": item, "url": file_url("rebuttal", item), "is_video": item.is_video}
        if item.is_video:
            ready = item.video_state == VideoState.READY
            view["video"] = {
                # A video stored before playable copies were made is offered as it is.
                "src": file_url("rebuttal-video", item) if ready else view["url"],
                "poster": file_url("rebuttal-poster", item) if ready and item.poster_file else "",
                "playable": ready or not item.video_state,
                "preparing": item.video_state == VideoState.PREPARING,
                "failure": item.video_failure_message,
            }
        views.append(view)
    return views
