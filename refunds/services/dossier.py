"""The evidence dossier of a decided application: a ZIP that proves itself.

It holds the original files byte for byte (evidence, the merchant's rebuttal attachments,
the matched reference images) and the heat-maps, the screening results, the rebuttal, the
linked claims and the audit chain as JSON, a PDF summary in Chinese and English, and a
verification script (``verify.py``, standard library only) that recomputes every file's
SHA-256 against ``SHA256SUMS`` and the audit chain link by link.

Generating it is recorded in the application's audit chain, with the SHA-256 of the
dossier's ``SHA256SUMS``: the server's chain then names every dossier it handed out. The
dossier carries the chain up to the application's latest event other than such records, so
two dossiers generated one after the other hold the same files, and differ only in the
generation time (``dossier.json`` and the PDF).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.db.models.fields.files import FieldFile
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from refunds import audit, selectors
from refunds.errors import Conflict, ErrorCode, NotFound
from refunds.models import AuditEvent, Evidence, RefundApplication
from refunds.services._base import Actor, locked_application
from refunds.services.dossier_contents import DossierContents, DossierFile
from refunds.services.dossier_verify import CHAIN, MANIFEST, SUMS
from refunds.states import ApplicationState
from refunds.vocab import AuditAction
from screening.models import Finding

FORMAT = "reviewhub-dossier/1"
# The audit action of a dossier's generation; it changes no state.
VERIFY_SCRIPT = Path(__file__).with_name("dossier_verify.py")
LANGUAGES = ("zh-hans", "en")
CHUNK = 1 << 20


class Audience(StrEnum):
    """Who the dossier is for: it decides only how much of the linked claims it names."""

    REVIEWER = "reviewer"
    PLATFORM = "platform"
    # A merchant sees other shops' claims only as a count (invariant 6).
    MERCHANT = "merchant"


@dataclass
class Dossier:
    """A built dossier: the ZIP in a temporary file (deleted when closed), its name and manifest."""

    handle: IO[bytes]
    filename: str
    files: list[DossierFile] = field(default_factory=list)
    sums_sha256: str = ""
    generated_at: datetime | None = None
    event: AuditEvent | None = None

    def close(self) -> None:
        self.handle.close()


# --- what goes in ----------------------------------------------------------------------


def dossier_linked_claims(application: RefundApplication) -> selectors.LinkedClaims | None:
    """Return the application's stored group of linked claims (None when it shares no image):
    the one place the dossier asks for them."""
    return selectors.linked_claims(application)


def _application_for_dossier(application_id: UUID | str) -> RefundApplication:
    try:
        return (
            RefundApplication.objects.select_related(
                "platform", "merchant", "product", "decision__actor", "rebuttal__submitted_by"
            )
            .prefetch_related(
                Prefetch(
                    "evidence",
                    queryset=Evidence.objects.select_related("screening__matched_reference").prefetch_related(
                        Prefetch("screening__findings", queryset=Finding.objects.order_by("-score", "pk"))
                    ),
                ),
                "rebuttal__attachments",
            )
            .get(public_id=application_id)
        )
    except (RefundApplication.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(ErrorCode.NOT_FOUND, object=_("application")) from None


def _chain_events(application: RefundApplication) -> list[AuditEvent]:
    """The chain up to its latest event that is not a dossier's own record: a prefix of the
    chain, so it verifies, and the same for two dossiers with nothing else in between."""
    events = list(application.audit_events.order_by("seq"))
    while events and events[-1].action == AuditAction.DOSSIER_GENERATED:
        events.pop()
    return events


def _event_json(event: AuditEvent) -> dict[str, Any]:
    # Exactly the values refunds.audit hashes, in the form it hashes them.
    return {
        "seq": event.seq,
        "action": event.action,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "actor_kind": event.actor_kind,
        "actor_label": event.actor_label,
        "at": event.at.isoformat(),
        "reason": event.reason,
        "payload": event.payload,
        "payload_digest": event.payload_digest,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "video/mp4": ".mp4",
    "application/pdf": ".pdf",
}


def _extension(stored: FieldFile, content_type: str) -> str:
    suffix = os.path.splitext(stored.name or "")[1].lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else _EXTENSIONS.get(content_type, ".bin")


# --- writing the ZIP -------------------------------------------------------------------


class _Writer:
    """Write entries into the ZIP with one fixed time stamp, hashing each as it is written.

    Stored files are copied in chunks straight from storage into the archive, which is a
    temporary file: a large video is never held in memory, let alone twice."""

    def __init__(self, handle: IO[bytes], root: str, stamp: datetime) -> None:
        self.zip = zipfile.ZipFile(handle, "w", allowZip64=True)
        self.root = root
        self.stamp = stamp.astimezone(UTC).timetuple()[:6]
        self.files: list[DossierFile] = []

    def _info(self, path: str, *, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(f"{self.root}/{path}", date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        return info

    def bytes(self, path: str, data: bytes, *, kind: str, listed: bool = True) -> None:
        self.zip.writestr(self._info(path, compress=True), data)
        if listed:
            self.files.append(DossierFile(path, hashlib.sha256(data).hexdigest(), len(data), kind))

    def json(self, path: str, data: Any, *, kind: str) -> None:
        self.bytes(path, (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode(), kind=kind)

    def stored(self, path: str, stored: FieldFile, *, kind: str) -> DossierFile:
        sha, size = hashlib.sha256(), 0
        with (
            stored.open("rb") as source,
            self.zip.open(self._info(path, compress=False), "w", force_zip64=True) as target,
        ):
            for chunk in iter(lambda: source.read(CHUNK), b""):
                sha.update(chunk)
                size += len(chunk)
                target.write(chunk)
        entry = DossierFile(path, sha.hexdigest(), size, kind)
        self.files.append(entry)
        return entry

    def close(self) -> None:
        self.zip.close()


def _write_files(writer: _Writer, application: RefundApplication) -> dict[str, str]:
    """Copy the stored files into ``files/``; return each one's path by its public id."""
    paths: dict[str, str] = {}
    for number, item in enumerate(application.evidence.all(), start=1):
        path = f"files/evidence/{number:02d}-{item.sha256[:16]}{_extension(item.file, item.content_type)}"
        paths[str(item.public_id)] = writer.stored(path, item.file, kind="evidence").path
    rebuttal = getattr(application, "rebuttal", None)
    if rebuttal is not None:
        for number, item in enumerate(sorted(rebuttal.attachments.all(), key=lambda a: a.pk), start=1):
            path = f"files/rebuttal/{number:02d}-{item.sha256[:16]}{_extension(item.file, item.content_type)}"
            paths[str(item.public_id)] = writer.stored(path, item.file, kind="rebuttal_attachment").path
    for item in application.evidence.all():
        result = getattr(item, "screening", None)
        reference = result.matched_reference if result is not None else None
        if reference is not None and str(reference.public_id) not in paths:
            path = f"files/references/{reference.public_id}{_extension(reference.file, reference.content_type)}"
            paths[str(reference.public_id)] = writer.stored(path, reference.file, kind="reference_image").path
        for finding in result.findings.all() if result is not None else []:
            if finding.artifact:
                path = f"files/heatmaps/{finding.public_id}.png"
                paths[str(finding.public_id)] = writer.stored(path, finding.artifact, kind="heatmap").path
    return paths


def _stored_image(item: Any, paths: dict[str, str]) -> dict[str, Any]:
    return {
        "id": str(item.public_id),
        "file": paths.get(str(item.public_id)),
        "sha256": item.sha256,
        "byte_size": item.byte_size,
        "content_type": item.content_type,
        "width": item.width,
        "height": item.height,
        "original_name": item.original_name,
        "uploaded_at": _iso(item.created_at),
    }


def _application_json(application: RefundApplication, paths: dict[str, str]) -> dict[str, Any]:
    decision = getattr(application, "decision", None)
    rebuttal = getattr(application, "rebuttal", None)
    return {
        "id": str(application.public_id),
        "platform": application.platform.slug,
        "merchant": {
            "id": str(application.merchant.public_id),
            "name": application.merchant.name,
            "external_ref": application.merchant.external_ref,
        },
        "product": {
            "id": str(application.product.public_id),
            "title": application.product.title,
            "external_ref": application.product.external_ref,
        },
        "buyer_ref": application.buyer_ref,
        "order_ref": application.order_ref,
        "delivered_at": _iso(application.delivered_at),
        "submitted_at": _iso(application.created_at),
        "amount": str(application.amount),
        "currency": application.currency,
        "reason_code": application.reason_code,
        "description": application.description,
        "state": application.state,
        "risk_level": application.risk_level,
        "risk_score": application.risk_score,
        "risk_explanation": application.risk_explanation,
        "unscreened": application.unscreened,
        "merchant_deadline": _iso(application.merchant_deadline),
        "decision": None
        if decision is None
        else {
            "outcome": decision.outcome,
            "approved_amount": str(decision.approved_amount),
            "currency": decision.currency,
            "actor_kind": decision.actor_kind,
            "reason_codes": list(decision.reason_codes),
            "note": decision.note,
            "decided_at": _iso(decision.decided_at),
        },
        "rebuttal": None
        if rebuttal is None
        else {
            "statement": rebuttal.statement,
            "reason_codes": list(rebuttal.reason_codes),
            "submitted_at": _iso(rebuttal.submitted_at),
            "attachments": [
                _stored_image(item, paths) for item in sorted(rebuttal.attachments.all(), key=lambda a: a.pk)
            ],
        },
        "evidence": [_stored_image(item, paths) for item in application.evidence.all()],
    }


def _screening_json(application: RefundApplication, paths: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for item in application.evidence.all():
        result = getattr(item, "screening", None)
        row: dict[str, Any] = {"evidence": str(item.public_id), "file": paths.get(str(item.public_id)), "result": None}
        if result is not None:
            reference = result.matched_reference
            row["result"] = {
                "verdict": result.verdict,
                "risk": result.risk,
                "completed": result.completed,
                "engine_version": result.engine_version,
                "duration_ms": result.duration_ms,
                "screened_at": _iso(result.created_at),
                "matched_reference": None
                if reference is None
                else {
                    "id": str(reference.public_id),
                    "kind": reference.kind,
                    "sha256": reference.sha256,
                    "file": paths.get(str(reference.public_id)),
                },
                "findings": [
                    {
                        "id": str(f.public_id),
                        "code": f.code,
                        "score": f.score,
                        "detail": f.detail,
                        "params": f.params,
                        "regions": f.regions,
                        "heatmap": paths.get(str(f.public_id)),
                    }
                    for f in result.findings.all()
                ],
            }
        rows.append(row)
    return rows


def _totals(amounts: dict[str, Any]) -> dict[str, str]:
    return {currency: str(amount) for currency, amount in sorted(amounts.items())}


def _linked_json(application: RefundApplication, audience: Audience) -> dict[str, Any]:
    group = dossier_linked_claims(application)
    claims, elsewhere = [], 0
    for member in group.members if group is not None else []:
        other, relation = member.application, member.relation
        if audience == Audience.MERCHANT and other.merchant_id != application.merchant_id:
            elsewhere += 1
            continue
        decision = getattr(other, "decision", None)
        claims.append(
            {
                "id": str(other.public_id),
                "relation": relation,
                "state": other.state,
                "outcome": decision.outcome if decision else None,
                "amount": str(other.amount),
                "currency": other.currency,
                "approved_amount": str(decision.approved_amount) if decision else None,
                "submitted_at": _iso(other.created_at),
            }
        )
    linked: dict[str, Any] = {"group": str(group.group.public_id) if group is not None else None, "claims": claims}
    if audience == Audience.MERCHANT:
        linked["in_other_shops"] = elsewhere
    elif group is not None:
        # Over every member, this application included.
        linked.update(claimed=_totals(group.claimed), refunded=_totals(group.refunded))
    return linked


def _chain_json(application: RefundApplication) -> dict[str, Any]:
    events = _chain_events(application)
    return {
        "application": str(application.public_id),
        "genesis": audit.GENESIS,
        "count": len(events),
        "head": events[-1].hash if events else audit.GENESIS,
        "events": [_event_json(e) for e in events],
    }


def _readme(application: RefundApplication) -> bytes:
    parts = []
    for language in LANGUAGES:
        with translation.override(language):
            parts.append(
                "\n".join(
                    [
                        gettext("Evidence dossier of refund application %(id)s") % {"id": application.public_id},
                        "",
                        gettext(
                            "This folder proves itself. SHA256SUMS and manifest.json list the SHA-256 and size of every "
                            "other file; audit/chain.json is the application's audit log, in which each event's hash "
                            "covers its content and the hash of the event before it."
                        ),
                        "",
                        gettext("To check it, run with Python 3.8 or later (nothing else is needed):"),
                        "    python verify.py",
                        gettext(
                            "It recomputes every file's SHA-256 and the whole audit chain, prints OK, or names each file "
                            "or audit event that was changed, added or removed, and then exits with a non-zero code."
                        ),
                        gettext(
                            "Without Python, on Linux: sha256sum -c SHA256SUMS (the files only, not the audit chain)."
                        ),
                        "",
                        gettext(
                            "The dossier's generation is itself recorded in the application's audit log on the server, "
                            "with the SHA-256 of SHA256SUMS that verify.py prints: compare the two to prove that "
                            "SHA256SUMS was not replaced together with the files."
                        ),
                        "",
                        gettext("Contents:"),
                        gettext("  summary.pdf: the summary in Chinese and English"),
                        gettext("  dossier.json: when and for whom the dossier was generated"),
                        gettext("  application.json: the application, its amounts, decision and rebuttal"),
                        gettext("  screening.json: screening results, findings with scores, regions and heat-maps"),
                        gettext("  linked_claims.json: applications sharing images with this one"),
                        gettext("  audit/chain.json: the audit chain"),
                        gettext("  files/: the original files, byte for byte, and the heat-maps"),
                    ]
                )
            )
    return ("\n\n" + "=" * 72 + "\n\n").join(parts).encode() + b"\n"


# --- the service -------------------------------------------------------------------------


def application_dossier_generate(*, application_id: UUID | str, actor: Actor, audience: Audience) -> Dossier:
    """Build the dossier of a decided application in a temporary file and record its
    generation in the application's audit chain; the caller closes the returned dossier.

    Raise NotFound for no such application, Conflict ``not_decided`` before it is decided.
    """
    from refunds.services.dossier_pdf import dossier_summary_pdf  # reportlab loads only when a dossier is made

    application = _application_for_dossier(application_id)
    if application.state != ApplicationState.DECIDED:
        raise Conflict(
            ErrorCode.NOT_DECIDED,
            details={"state": application.state},
        )
    generated_at = timezone.now()
    root = f"dossier-{application.public_id}"
    # The archive's entries carry the decision's time, not the generation's, so that two
    # dossiers of one application differ only where they say when they were made.
    stamp = max(application.decision.decided_at, datetime(1980, 1, 1, tzinfo=UTC))
    handle = tempfile.TemporaryFile(prefix="dossier-")
    try:
        writer = _Writer(handle, root, stamp)
        paths = _write_files(writer, application)
        contents = DossierContents(
            _application_json(application, paths),
            _screening_json(application, paths),
            _linked_json(application, audience),
            _chain_json(application),
            paths,
        )
        writer.json("application.json", contents.application, kind="application")
        writer.json("screening.json", contents.screening, kind="screening")
        writer.json("linked_claims.json", contents.linked, kind="linked_claims")
        writer.json(CHAIN, contents.chain, kind="audit_chain")
        writer.json(
            "dossier.json",
            {
                "format": FORMAT,
                "application": str(application.public_id),
                "generated_at": _iso(generated_at),
                "generated_for": {"kind": actor.kind, "label": actor.label},
                "audience": str(audience),
            },
            kind="dossier",
        )
        writer.bytes("README.txt", _readme(application), kind="instructions")
        writer.bytes("verify.py", VERIFY_SCRIPT.read_bytes(), kind="verification_script")
        writer.bytes(
            "summary.pdf",
            dossier_summary_pdf(
                application=application,
                contents=contents,
                files=list(writer.files),
                generated_at=generated_at,
                actor=actor,
            ),
            kind="summary",
        )
        files = sorted(writer.files, key=lambda f: f.path)
        sums = "".join(f"{f.sha256}  {f.path}\n" for f in files).encode()
        writer.bytes(SUMS, sums, kind="manifest", listed=False)
        writer.json(
            MANIFEST,
            {
                "format": FORMAT,
                "application": str(application.public_id),
                "files": [{"path": f.path, "sha256": f.sha256, "size": f.size, "kind": f.kind} for f in files],
            },
            kind="manifest",
        )
        writer.files.pop()  # the manifest lists itself nowhere
        writer.close()
        dossier = Dossier(handle, f"{root}.zip", files, hashlib.sha256(sums).hexdigest(), generated_at)
        dossier.event = _record_generation(
            application, actor=actor, audience=audience, dossier=dossier, events=contents.chain["count"]
        )
    except BaseException:
        handle.close()
        raise
    handle.seek(0)
    return dossier


def _record_generation(
    application: RefundApplication, *, actor: Actor, audience: Audience, dossier: Dossier, events: int
) -> AuditEvent:
    # Built before taking the lock (copying large files must not hold the row); the record is
    # appended under it, like every other event of the chain.
    with locked_application(application.public_id) as locked:
        return audit.record(
            locked,
            action=AuditAction.DOSSIER_GENERATED,
            from_state=locked.state,
            actor_kind=actor.kind,
            actor_label=actor.label,
            payload={
                "sha256sums": dossier.sums_sha256,
                "audience": str(audience),
                "files": len(dossier.files),
                "audit_events": events,
                "generated_at": _iso(dossier.generated_at),
            },
        )
