"""Demo data for the embedded run: a platform, a shop, products with real reference photos,
people for every role, and applications that exercise screening."""

from __future__ import annotations

import io
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from refunds.apikeys import api_key_issue
from refunds.models import Merchant, MerchantMember, Platform, Policy, Product
from refunds.services import application_submit
from refunds.services.catalogue import reference_image_add

PHOTOS = Path(__import__("skimage").__file__).parent / "data"


def _jpeg(image: Image.Image, *, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def catalogue_photo(name: str) -> bytes:
    """Return one of scikit-image's bundled photographs as a catalogue JPEG."""
    return _jpeg(Image.open(PHOTOS / name))


def rephotographed(reference: bytes, *, background: str, seed: int) -> bytes:
    """Return the reference placed in another scene, turned and relit: a new photo of the item."""
    rng = random.Random(seed)
    item = Image.open(io.BytesIO(reference)).convert("RGB")
    scene = Image.open(PHOTOS / background).convert("RGB").resize((900, 700))
    item = item.rotate(rng.uniform(-12, 12), expand=True, fillcolor=(0, 0, 0)).resize((520, 400))
    item = ImageEnhance.Brightness(item).enhance(rng.uniform(0.75, 0.9))
    item = ImageEnhance.Color(item).enhance(rng.uniform(0.8, 1.2)).filter(ImageFilter.GaussianBlur(1.2))
    mask = Image.new("L", item.size, 0)
    ImageDraw.Draw(mask).ellipse((10, 10, item.size[0] - 10, item.size[1] - 10), fill=255)
    scene.paste(item, (rng.randint(40, 300), rng.randint(40, 250)), mask.filter(ImageFilter.GaussianBlur(8)))
    return _jpeg(scene, quality=84)


def painted_crack(reference: bytes, *, seed: int) -> bytes:
    """Return the reference with a crack painted on and recompressed: the typical forgery."""
    rng = random.Random(seed)
    image = Image.open(io.BytesIO(reference)).convert("RGB")
    draw = ImageDraw.Draw(image)
    x, y = image.size[0] * 0.45, image.size[1] * 0.3
    for _ in range(14):
        nx, ny = x + rng.uniform(-18, 18), y + rng.uniform(6, 22)
        draw.line((x, y, nx, ny), fill=(35, 28, 22), width=rng.randint(2, 4))
        x, y = nx, ny
    return _jpeg(image.resize((image.size[0] * 9 // 10, image.size[1] * 9 // 10)), quality=78)


@dataclass
class DemoAccounts:
    admin_password: str
    reviewer_password: str
    merchant_password: str
    api_key: str
    platform: Platform


def _user(username: str, password: str, **fields: object) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults=fields)
    for name, value in fields.items():
        setattr(user, name, value)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def seed() -> DemoAccounts:
    """Create (or refresh) the demo data; new passwords and a new API key every run."""
    platform, created = Platform.objects.get_or_create(slug="demo-mall", defaults={"name": "Demo Mall"})
    Policy.objects.get_or_create(platform=platform)
    merchant, _ = Merchant.objects.get_or_create(platform=platform, external_ref="shop-1001",
                                                 defaults={"name": "Acme Ceramics"})
    accounts = DemoAccounts(secrets.token_urlsafe(9), secrets.token_urlsafe(9), secrets.token_urlsafe(9), "", platform)
    _user("admin", accounts.admin_password, is_staff=True, is_superuser=True)
    reviewer = _user("reviewer", accounts.reviewer_password, is_staff=True)
    reviewer.groups.add(Group.objects.get(name="Reviewers"))
    shop_user = _user("merchant", accounts.merchant_password)
    MerchantMember.objects.get_or_create(user=shop_user, defaults={"merchant": merchant})
    _, accounts.api_key = api_key_issue(platform=platform, name=f"demo {timezone.now():%Y-%m-%d %H:%M}",
                                        scopes=["read", "write", "policy", "webhooks"])
    if created:
        _seed_applications(platform, merchant)
    return accounts


def _seed_applications(platform: Platform, merchant: Merchant) -> None:
    cup = Product.objects.create(merchant=merchant, external_ref="sku-cup-01", title="Ceramic coffee cup")
    rocket = Product.objects.create(merchant=merchant, external_ref="sku-rocket-02", title="Rocket model kit")
    cup_photo = catalogue_photo("coffee.png")
    rocket_photo = catalogue_photo("rocket.jpg")
    reference_image_add(product=cup, image=SimpleUploadedFile("cup.jpg", cup_photo))
    reference_image_add(product=rocket, image=SimpleUploadedFile("rocket.jpg", rocket_photo))
    delivered = timezone.now() - timedelta(days=2)
    genuine = rephotographed(cup_photo, background="brick.png", seed=7)
    cases = [
        ("buyer-001", "order-5001", cup, "damaged", "39.90", [("cup-on-table.jpg", genuine)]),
        ("buyer-002", "order-5002", cup, "damaged", "39.90", [("crack.jpg", painted_crack(cup_photo, seed=3))]),
        ("buyer-003", "order-5003", cup, "not_as_described", "39.90", [("photo.jpg", cup_photo)]),
        ("buyer-004", "order-5004", cup, "damaged", "39.90", [("cup.jpg", genuine)]),
        ("buyer-005", "order-5005", rocket, "missing_parts", "128.00",
         [("kit.jpg", rephotographed(rocket_photo, background="gravel.png", seed=11))]),
    ]
    for buyer, order, product, reason, amount, files in cases:
        application_submit(
            platform=platform, merchant_id=str(merchant.public_id), product_id=str(product.public_id),
            buyer_ref=buyer, order_ref=order, amount=amount, currency="CNY", reason_code=reason,
            delivered_at=delivered, evidence=[SimpleUploadedFile(name, data) for name, data in files],
        )
