"""Merchants, products and reference images, as platforms register them."""

from __future__ import annotations

from typing import IO
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from refunds.errors import Conflict, ErrorCode, NotFound
from refunds.integration.uploads import image_fields, store, validate_image
from refunds.models import Merchant, Platform, Product, ReferenceImage


def merchant_create(*, platform: Platform, external_ref: str, name: str) -> Merchant:
    """Register a shop; raise Conflict if the platform already has one with this reference."""
    try:
        with transaction.atomic():
            return Merchant.objects.create(platform=platform, external_ref=external_ref, name=name)
    except IntegrityError:
        raise Conflict(
            ErrorCode.MERCHANT_EXISTS,
            details={"param": "external_ref", "value": external_ref},
        ) from None


def product_create(*, merchant: Merchant, external_ref: str, title: str) -> Product:
    """Register a product of a shop; raise Conflict if the shop already has this reference."""
    try:
        with transaction.atomic():
            return Product.objects.create(merchant=merchant, external_ref=external_ref, title=title)
    except IntegrityError:
        raise Conflict(
            ErrorCode.PRODUCT_EXISTS,
            details={"param": "external_ref", "value": external_ref},
        ) from None


def reference_image_add(
    *, product: Product, image: IO[bytes], kind: str = ReferenceImage.Kind.CATALOGUE
) -> ReferenceImage:
    """Store a reference image of the product, checked like evidence; raise UploadRejected otherwise."""
    upload = validate_image(image, field="image")
    return ReferenceImage.objects.create(
        product=product, kind=kind, **image_fields(upload, name=store(upload, folder="references"))
    )


def reference_image_remove(*, product: Product, public_id: UUID | str) -> None:
    """Remove one of the product's reference images; raise NotFound for any other id.

    The stored file stays: files are shared by content hash, and past screening results keep
    pointing at what they matched (their link is cleared by the database)."""
    try:
        deleted, _rows = ReferenceImage.objects.filter(product=product, public_id=public_id).delete()
    except (ValidationError, ValueError, TypeError):
        deleted = 0
    if not deleted:
        raise NotFound(ErrorCode.REFERENCE_IMAGE_NOT_FOUND)
