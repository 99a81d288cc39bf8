"""Submitting an application with its evidence."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from refunds import audit
from refunds.compiled import CompiledQuery, Slot
from refunds.errors import Conflict, ErrorCode, InvalidInput, NotFound
from refunds.integration import webhooks
from refunds.integration.uploads import ValidatedUpload, image_fields, store, validate_image
from refunds.models import Evidence, EvidenceUpload, Merchant, Platform, Product, RefundApplication
from refunds.policy_bounds import currency_validator
from refunds.services._base import Actor, apply, ensure_can, locked_application
from refunds.services.screening_queue import enqueue_screening
from refunds.states import ActorKind, RefundReason
from refunds.vocab import AuditAction
from reviewhub import observe


def _clean_amount(amount: Decimal | str) -> Decimal:
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise InvalidInput(ErrorCode.INVALID_AMOUNT, details={"param": "amount"}) from None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")) or value >= Decimal("1e10"):
        raise InvalidInput(ErrorCode.INVALID_AMOUNT, details={"param": "amount"})
    return value


# The shop and product every submission names, looked up with their SQL compiled once
# (refunds.compiled): the two took 0.76 to 0.94 ms through the ORM, 0.10 ms so (in-process, SQLite).
# The product is read with its shop in one statement; the shop alone only when that finds
# nothing, to tell which of the two is unknown.
_MERCHANT = CompiledQuery(
    lambda: Merchant.objects.filter(
        platform_id=Slot("platform", Platform._meta.get_field("id")),
        public_id=Slot("public_id", Merchant._meta.get_field("public_id")),
    )[:1]
)
_PRODUCT_OF_MERCHANT = CompiledQuery(
    lambda: Product.objects.select_related("merchant").filter(
        merchant__platform_id=Slot("platform", Platform._meta.get_field("id")),
        merchant__public_id=Slot("merchant", Merchant._meta.get_field("public_id")),
        public_id=Slot("public_id", Product._meta.get_field("public_id")),
    )[:1]
)


def _merchant_and_product(platform: Platform, merchant_id: str, product_id: str) -> tuple[Merchant, Product]:
    """Return the platform's shop and its product the ids name; raise NotFound naming the one that is unknown."""
    product = (
        _PRODUCT_OF_MERCHANT.first(platform=platform.pk, merchant=merchant_id, public_id=product_id)
        if _is_uuid(merchant_id) and _is_uuid(product_id)
        else None
    )
    if product is not None:
        return product.merchant, product
    if not _is_uuid(merchant_id) or _MERCHANT.first(platform=platform.pk, public_id=merchant_id) is None:
        raise NotFound(ErrorCode.MERCHANT_NOT_FOUND, details={"param": "merchant"})
    raise NotFound(ErrorCode.PRODUCT_NOT_FOUND, details={"param": "product"})


def application_submit(
    *,
    platform: Platform,
    merchant_id: str,
    product_id: str,
    buyer_ref: str,
    order_ref: str,
    amount: Decimal | str,
    currency: str,
    reason_code: str,
    evidence: Sequence[IO[bytes]] = (),
    evidence_upload_ids: Sequence[str] = (),
    delivered_at: datetime | None = None,
    description: str = "",
    actor: Actor | None = None,
    idempotency_key: str = "",
) -> RefundApplication:
    """Create an application with its evidence (files, or the ids of images uploaded before)
    and enqueue its screening.

    Every input and every file is checked before anything is written; raise InvalidInput,
    NotFound, Conflict (an upload already used, or an ``idempotency_key`` that already created an
    application) or UploadRejected otherwise, leaving nothing behind.
    """
    if idempotency_key:
        _refuse_key_of_an_earlier_application(platform, idempotency_key)
    merchant, product = _merchant_and_product(platform, merchant_id, product_id)
    value = _clean_amount(amount)
    try:
        currency_validator(currency)
    except Exception:
        raise InvalidInput(ErrorCode.INVALID_CURRENCY, details={"param": "currency"}) from None
    if reason_code not in RefundReason.values:
        raise InvalidInput(ErrorCode.INVALID_REASON, details={"param": "reason_code", "allowed": RefundReason.values})
    for field, text in (("buyer_ref", buyer_ref), ("order_ref", order_ref)):
        if not text or len(text) > 100:
            raise InvalidInput(ErrorCode.INVALID_REFERENCE, details={"param": field})
    if delivered_at is not None and (timezone.is_naive(delivered_at) or delivered_at > timezone.now()):
        raise InvalidInput(ErrorCode.INVALID_DELIVERED_AT, details={"param": "delivered_at"})
    if not evidence and not evidence_upload_ids:
        raise InvalidInput(ErrorCode.EVIDENCE_REQUIRED, details={"param": "evidence"})
    if len(evidence) + len(evidence_upload_ids) > settings.UPLOAD_MAX_FILES:
        raise InvalidInput(ErrorCode.TOO_MANY_FILES, limit=settings.UPLOAD_MAX_FILES, details={"param": "evidence"})
    uploads = [validate_image(item, field="evidence") for item in evidence]

    actor = actor or Actor(ActorKind.PLATFORM, None, platform.slug)
    written: list[str] = []
    try:
        with transaction.atomic():
            application = RefundApplication.objects.create(
                platform=platform,
                merchant=merchant,
                product=product,
                buyer_ref=buyer_ref,
                order_ref=order_ref,
                delivered_at=delivered_at,
                amount=value,
                currency=currency,
                reason_code=reason_code,
                description=description,
                screening_enqueued_at=timezone.now(),
                idempotency_key=idempotency_key,
            )
            rows = [
                _create_evidence(application, upload, position=position, written=written)
                for position, upload in enumerate(uploads)
            ]
            staged = _use_staged_uploads(platform, evidence_upload_ids)
            rows += [
                Evidence.objects.create(application=application, position=position, **staged_upload.image_fields())
                for position, staged_upload in enumerate(staged, start=len(uploads))
            ]
            _hold_as_prefetched(application, rows)
            digests = [u.sha256 for u in uploads] + [u.sha256 for u in staged]
            audit.record(
                application,
                action=AuditAction.SUBMIT,
                from_state="",
                actor_kind=actor.kind,
                actor_label=actor.label,
                payload={"evidence": digests, "amount": str(value), "currency": currency},
                write_head=False,
            )
            observe.transition_applied(application, action=AuditAction.SUBMIT, from_state="", actor=actor)
            webhooks.event_record(application, from_state="", action=AuditAction.SUBMIT, write_sequence=False)
            # The chain's head and the webhook sequence in one write of the new row, not one each.
            RefundApplication.objects.filter(pk=application.pk).update(
                audit_seq=application.audit_seq, audit_head=application.audit_head, webhook_seq=application.webhook_seq
            )
            enqueue_screening(application, stamped=True)
    except BaseException:
        # The rows rolled back; remove the files this request wrote so nothing of it remains.
        _remove_unreferenced(written)
        raise
    return application


def _hold_as_prefetched(application: RefundApplication, evidence: list[Evidence]) -> None:
    """Keep the evidence rows just written on the application as ``prefetch_related`` would
    (the same structure Django fills), so that the answer to the submission does not read back
    what this request wrote: a round trip and its rows' decoding, 2.4 ms of a submission's
    55 ms in a gunicorn worker on the two loaded cores of bench/api.py (py-spy). As with any
    prefetch, ``application.evidence.all()`` then keeps these rows; re-read the application
    to see evidence added later."""
    held = application.evidence.get_queryset()
    # The attributes Django's own prefetch (prefetch_related_objects) sets; it has no public
    # way to hand it rows already in memory.
    held._result_cache = evidence
    held._prefetch_done = True  # type: ignore[attr-defined]
    application._prefetched_objects_cache = {"evidence": held}  # type: ignore[attr-defined]


def _refuse_key_of_an_earlier_application(platform: Platform, idempotency_key: str) -> None:
    """An Idempotency-Key reaches here only when it has no kept answer (the idempotent wrapper
    replays those, and serializes requests with one key on its record). If an application
    carries it nonetheless, its answer expired (48 h): the request may be a late retry or a new
    refund reusing the key, and it can be neither created again nor safely replayed."""
    earlier = (
        RefundApplication.objects.filter(platform=platform, idempotency_key=idempotency_key)
        .values_list("public_id", flat=True)
        .first()
    )
    if earlier is not None:
        raise Conflict(
            ErrorCode.IDEMPOTENCY_KEY_EXPIRED,
            details={"param": "Idempotency-Key", "key": idempotency_key, "application": str(earlier)},
        )


def _use_staged_uploads(platform: Platform, public_ids: Sequence[str]) -> list[EvidenceUpload]:
    """Lock and mark the platform's unused uploads as used; raise NotFound or Conflict otherwise."""
    if not public_ids:
        return []
    if len(set(map(str, public_ids))) != len(public_ids) or not all(_is_uuid(i) for i in public_ids):
        raise InvalidInput(ErrorCode.INVALID_EVIDENCE_IDS, details={"param": "evidence_ids"})
    found = {
        str(u.public_id): u
        for u in EvidenceUpload.objects.select_for_update().filter(platform=platform, public_id__in=public_ids)
    }
    missing = [str(i) for i in public_ids if str(i) not in found]
    if missing:
        raise NotFound(ErrorCode.EVIDENCE_UPLOAD_NOT_FOUND, details={"param": "evidence_ids", "missing": missing})
    used = [i for i, u in found.items() if u.used_at is not None]
    if used:
        raise Conflict(ErrorCode.EVIDENCE_UPLOAD_USED, details={"param": "evidence_ids", "used": used})
    EvidenceUpload.objects.filter(pk__in=[u.pk for u in found.values()]).update(used_at=timezone.now())
    return [found[str(i)] for i in public_ids]


def evidence_upload_create(*, platform: Platform, image: IO[bytes]) -> EvidenceUpload:
    """Check and store an evidence image ahead of its application; raise UploadRejected otherwise."""
    upload = validate_image(image, field="file")
    return EvidenceUpload.objects.create(
        platform=platform, **image_fields(upload, name=store(upload, folder="evidence"))
    )


def evidence_uploads_purge(*, older_than: timedelta = timedelta(hours=24)) -> int:
    """Delete uploads no application used within the period, and their files if nothing else
    points at them; return how many."""
    stale = list(EvidenceUpload.objects.filter(used_at__isnull=True, created_at__lt=timezone.now() - older_than))
    EvidenceUpload.objects.filter(pk__in=[u.pk for u in stale]).delete()
    _remove_unreferenced(sorted({u.file.name for u in stale}))
    return len(stale)


def application_add_evidence(*, application_id: str, evidence: Sequence[IO[bytes]], actor: Actor) -> RefundApplication:
    """Attach more evidence to an application still ``submitted`` or in its merchant window and
    have it screened; raise Conflict in any other state or when the application would hold more
    than UPLOAD_MAX_FILES images, InvalidInput/UploadRejected for bad files."""
    if not evidence:
        raise InvalidInput(ErrorCode.EVIDENCE_REQUIRED, details={"param": "evidence"})
    uploads = [validate_image(item, field="evidence") for item in evidence]
    written: list[str] = []
    try:
        with locked_application(application_id) as application:
            ensure_can(application, application.add_evidence)
            start = application.evidence.count()
            # A request within the per-request limit is well formed; what it would add to the
            # images already held is the application's state, so the refusal is a conflict.
            if start + len(uploads) > settings.UPLOAD_MAX_FILES:
                raise Conflict(
                    ErrorCode.EVIDENCE_LIMIT_REACHED,
                    count=start,
                    limit=settings.UPLOAD_MAX_FILES,
                    details={"param": "evidence", "count": start, "limit": settings.UPLOAD_MAX_FILES},
                )
            for offset, upload in enumerate(uploads):
                _create_evidence(application, upload, position=start + offset, written=written)
            apply(
                application,
                application.add_evidence,
                actor=actor,
                action=AuditAction.ADD_EVIDENCE,
                payload={"evidence": [u.sha256 for u in uploads]},
            )
            enqueue_screening(application)
            return application
    except BaseException:
        _remove_unreferenced(written)
        raise


def _remove_unreferenced(names: list[str]) -> None:
    """Remove files a failed request wrote, unless another row points at the same content."""
    for name in names:
        if not Evidence.objects.filter(file=name).exists() and not EvidenceUpload.objects.filter(file=name).exists():
            default_storage.delete(name)


def _create_evidence(
    application: RefundApplication, upload: ValidatedUpload, *, position: int, written: list[str]
) -> Evidence:
    existed = default_storage.exists(f"evidence/{upload.storage_name}")
    name = store(upload, folder="evidence")
    if not existed:
        written.append(name)
    return Evidence.objects.create(application=application, position=position, **image_fields(upload, name=name))


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
