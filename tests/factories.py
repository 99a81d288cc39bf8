"""Personas and builders shared by the tests.

Platform A runs shop "Acme" (owner: merchant_owner) and shop "Other"; platform B runs its
own shop. Reviewers, a senior reviewer and an auditor are staff; each platform has a key.
"""

from __future__ import annotations

import io
from decimal import Decimal

import numpy as np
import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from bench.synthetic import jpeg as encode_jpeg
from bench.synthetic import paint_edits, photo, rephotograph
from refunds.models import Merchant, MerchantMember, Platform, Policy, Product, RefundApplication, WebhookEndpoint
from refunds.services import Actor, application_record_screening, application_submit
from refunds.services.catalogue import reference_image_add
from refunds.services.platform import api_key_issue, webhook_endpoint_create
from screening.services import application_screen_evidence

__all__ = [
    "auditor",
    "key_a",
    "key_b",
    "merchant",
    "merchant_b",
    "merchant_owner",
    "other_merchant",
    "platform_a",
    "platform_b",
    "product",
    "product_b",
    "reviewer",
    "second_reviewer",
    "senior_reviewer",
]


def jpeg(*, seed: int = 0, size: tuple[int, int] = (320, 240), quality: int = 90) -> bytes:
    """Return a JPEG of random smooth colour blobs; different seeds give unrelated images."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(small).resize(size, Image.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def rephotographed(name: str, *, background: str, seed: int) -> bytes:
    """The photo printed, placed in another scene and photographed anew (the simulator's honest
    buyer): screening must not call it derived."""
    data, _ = rephotograph(photo(name), photo(background), np.random.default_rng(seed))
    return data


def painted_damage(name: str, *, seed: int) -> bytes:
    """The photo with cracks, stains or tears painted on by the simulator: the typical forgery."""
    edited, _ = paint_edits(photo(name), np.random.default_rng(seed))
    return encode_jpeg(edited, 85)


CUP = encode_jpeg(photo("coffee"), 95)
GENUINE_CUP = rephotographed("coffee", background="brick", seed=5)
FORGED_CUP = painted_damage("coffee", seed=2)


def make_platform(slug: str, **policy: object) -> Platform:
    platform = Platform.objects.create(slug=slug, name=slug.title())
    Policy.objects.create(platform=platform, **policy)
    return platform


def make_product(merchant: Merchant, *, reference: bytes = CUP, ref: str = "sku-1") -> Product:
    product = Product.objects.create(merchant=merchant, external_ref=ref, title="Ceramic cup")
    reference_image_add(product=product, image=upload(reference))
    return product


def submit(
    product: Product, *, evidence: list[bytes] | None = None, amount: str = "39.90", **fields: object
) -> RefundApplication:
    """Submit an application through the service, as the platform would."""
    merchant = product.merchant
    return application_submit(
        platform=merchant.platform,
        merchant_id=str(merchant.public_id),
        product_id=str(product.public_id),
        buyer_ref=fields.pop("buyer_ref", "buyer-1"),
        order_ref=fields.pop("order_ref", "order-1"),
        amount=Decimal(amount),
        currency=fields.pop("currency", "CNY"),
        reason_code=fields.pop("reason_code", "damaged"),
        evidence=[upload(data) for data in (evidence or [GENUINE_CUP])],
        **fields,
    )


def screen(application: RefundApplication) -> RefundApplication:
    """Run the screening steps of the task synchronously (for tests that are not about the worker)."""
    application_screen_evidence(application_id=application.public_id)
    application_record_screening(application_id=application.public_id)
    return RefundApplication.objects.get(pk=application.pk)


def make_staff(username: str, group: str) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)  # fresh, without a stale permission cache


@pytest.fixture
def platform_a(db) -> Platform:
    return make_platform("platform-a")


@pytest.fixture
def platform_b(db) -> Platform:
    return make_platform("platform-b")


@pytest.fixture
def merchant(platform_a: Platform) -> Merchant:
    return Merchant.objects.create(platform=platform_a, external_ref="acme", name="Acme")


@pytest.fixture
def other_merchant(platform_a: Platform) -> Merchant:
    return Merchant.objects.create(platform=platform_a, external_ref="other", name="Other")


@pytest.fixture
def merchant_b(platform_b: Platform) -> Merchant:
    return Merchant.objects.create(platform=platform_b, external_ref="acme", name="Acme on B")


@pytest.fixture
def product(merchant: Merchant) -> Product:
    return make_product(merchant)


@pytest.fixture
def product_b(merchant_b: Merchant) -> Product:
    return make_product(merchant_b)


@pytest.fixture
def merchant_owner(merchant: Merchant) -> User:
    user = User.objects.create_user("owner", password="pw-owner")
    MerchantMember.objects.create(user=user, merchant=merchant, role=MerchantMember.Role.OWNER)
    return user


@pytest.fixture
def reviewer(db) -> User:
    return make_staff("reviewer", "Reviewers")


@pytest.fixture
def second_reviewer(db) -> User:
    return make_staff("reviewer2", "Reviewers")


@pytest.fixture
def senior_reviewer(db) -> User:
    return make_staff("senior", "Senior reviewers")


@pytest.fixture
def auditor(db) -> User:
    return make_staff("auditor", "Auditors")


@pytest.fixture
def key_a(platform_a: Platform) -> str:
    return api_key_issue(platform=platform_a, name="a", scopes=["read", "write"])[1]


@pytest.fixture
def key_b(platform_b: Platform) -> str:
    return api_key_issue(platform=platform_b, name="b", scopes=["read", "write"])[1]


def endpoint_create(*, platform: Platform, url: str) -> WebhookEndpoint:
    """A webhook endpoint of the platform, added by the system through the settings service."""
    return webhook_endpoint_create(platform=platform, url=url, actor=Actor.system())
