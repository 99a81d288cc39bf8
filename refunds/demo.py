"""Demo data for the embedded run: a platform, a shop, products with real reference photos,
people for every role, and applications that exercise screening."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import timedelta

import cv2
import numpy as np
import skimage.data
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from refunds.models import Merchant, MerchantMember, Platform, Product
from refunds.roles import AUDITORS, REVIEWERS, SENIOR_REVIEWERS
from refunds.services import Actor, application_contest, application_record_screening, application_submit
from refunds.services.catalogue import reference_image_add
from refunds.services.platform import api_key_issue, platform_create, settings_actor_for_command
from refunds.states import ActorKind
from screening.services import application_screen_evidence

# The demo's photographs are real ones bundled with scikit-image. The motorcycle is a stereo
# pair: two photographs of one scene taken side by side, so the right view is what an honest
# buyer's own photo of the item is to screening (another camera position, not the catalogue's
# pixels). The evaluation's simulator (bench/synthetic.py) is not part of the app.


def _encode(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _photo(name: str) -> np.ndarray:
    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    return getattr(skimage.data, name)()


def catalogue_photo(name: str) -> bytes:
    """Return a bundled photograph ("coffee", "motorcycle": the left view of the stereo pair) as a catalogue JPEG."""
    return _encode(_photo(name), 95)


def buyer_photo(part: str) -> bytes:
    """Return one half ("left" or "right") of the motorcycle's right view: two buyers' own photos
    of the item, each a different picture from the catalogue's and from the other's."""
    right = skimage.data.stereo_motorcycle()[1]
    middle = right.shape[1] // 2
    return _encode(right[:, :middle] if part == "left" else right[:, middle:], 88)


def painted_crack(name: str) -> bytes:
    """Return the catalogue photo with a crack and a stain drawn on: the typical forgery, drawn
    for the demo only (a dark jagged line down the item and a soft brown blot beside it)."""
    image = _photo(name).copy()
    height, width = image.shape[:2]
    crack = np.array([[0.42, 0.30], [0.46, 0.38], [0.44, 0.45], [0.50, 0.52], [0.48, 0.60], [0.53, 0.68]])
    points = (crack * [width, height]).astype(np.int32)
    cv2.polylines(image, [points], False, (40, 30, 25), 3, cv2.LINE_AA)
    cv2.polylines(image, [points[2:4] + [18, -6]], False, (40, 30, 25), 2, cv2.LINE_AA)
    blot = np.zeros((height, width), np.float32)
    centre, axes = (int(0.25 * width), int(0.7 * height)), (int(0.06 * width), int(0.045 * height))
    cv2.ellipse(blot, centre, axes, 20, 0, 360, 1.0, -1)
    blot = cv2.GaussianBlur(blot, (0, 0), 4)[:, :, None] * 0.6
    stained = image * (1 - blot) + np.array([110, 70, 35]) * blot
    return _encode(stained.astype(np.uint8), 85)


def packing_photo(name: str) -> bytes:
    """Return the merchant's packing photo of the item: the middle of its catalogue photo, smaller."""
    image = _photo(name)
    height, width = image.shape[:2]
    middle = image[height // 8 : height - height // 8, width // 8 : width - width // 8]
    return _encode(cv2.resize(middle, (middle.shape[1] // 2, middle.shape[0] // 2), interpolation=cv2.INTER_AREA), 90)


@dataclass
class DemoAccounts:
    admin_password: str
    reviewer_password: str
    merchant_password: str
    api_key: str
    platform: Platform
    senior_password: str = ""
    auditor_password: str = ""

    def staff(self) -> list[tuple[str, str, str]]:
        """Return (role, username, password) of every demo account that signs in to the admin."""
        return [
            ("reviewer", "reviewer", self.reviewer_password),
            ("senior reviewer", "senior", self.senior_password),
            ("auditor", "auditor", self.auditor_password),
            ("superuser", "admin", self.admin_password),
        ]


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
    platform = Platform.objects.filter(slug="demo-mall").first()
    created = platform is None
    if platform is None:
        # Through the service, as any platform is made: with its policy and both settings records.
        platform = platform_create(name="Demo Mall", slug="demo-mall", actor=settings_actor_for_command("rundemo"))
    merchant, _ = Merchant.objects.get_or_create(
        platform=platform, external_ref="shop-1001", defaults={"name": "Acme Ceramics"}
    )
    accounts = DemoAccounts(
        secrets.token_urlsafe(9),
        secrets.token_urlsafe(9),
        secrets.token_urlsafe(9),
        "",
        platform,
        secrets.token_urlsafe(9),
        secrets.token_urlsafe(9),
    )
    _user("admin", accounts.admin_password, is_staff=True, is_superuser=True)
    # Daily review work needs no superuser: each role is a group of permissions.
    for username, password, group in (
        ("reviewer", accounts.reviewer_password, REVIEWERS),
        ("senior", accounts.senior_password, SENIOR_REVIEWERS),
        ("auditor", accounts.auditor_password, AUDITORS),
    ):
        _user(username, password, is_staff=True).groups.add(Group.objects.get(name=group))
    shop_user = _user("merchant", accounts.merchant_password, email="merchant@acme-ceramics.example")
    MerchantMember.objects.get_or_create(
        user=shop_user, merchant=merchant, defaults={"role": MerchantMember.Role.OWNER}
    )
    _, accounts.api_key = api_key_issue(
        platform=platform, name=f"demo {timezone.now():%Y-%m-%d %H:%M}", scopes=["read", "write", "policy", "webhooks"]
    )
    if created:
        _seed_applications(platform, merchant, shop_user)
    return accounts


def _seed_applications(platform: Platform, merchant: Merchant, shop_user: User) -> None:
    cup = Product.objects.create(merchant=merchant, external_ref="sku-cup-01", title="Ceramic coffee cup")
    kit = Product.objects.create(merchant=merchant, external_ref="sku-moto-02", title="Motorcycle model kit")
    cup_photo = catalogue_photo("coffee")
    reference_image_add(product=cup, image=SimpleUploadedFile("cup.jpg", cup_photo))
    reference_image_add(product=kit, image=SimpleUploadedFile("kit.jpg", catalogue_photo("motorcycle")))
    delivered = timezone.now() - timedelta(days=2)
    genuine = buyer_photo("left")
    cases = [
        ("buyer-001", "order-5001", kit, "damaged", "39.90", [("kit-on-table.jpg", genuine)]),
        ("buyer-002", "order-5002", cup, "damaged", "39.90", [("crack.jpg", painted_crack("coffee"))]),
        ("buyer-003", "order-5003", cup, "not_as_described", "39.90", [("photo.jpg", cup_photo)]),
        ("buyer-004", "order-5004", kit, "damaged", "39.90", [("kit.jpg", genuine)]),
        ("buyer-005", "order-5005", kit, "missing_parts", "128.00", [("parts.jpg", buyer_photo("right"))]),
    ]
    submitted = {}
    for buyer, order, product, reason, amount, files in cases:
        submitted[buyer] = application_submit(
            platform=platform,
            merchant_id=str(merchant.public_id),
            product_id=str(product.public_id),
            buyer_ref=buyer,
            order_ref=order,
            amount=amount,
            currency="CNY",
            reason_code=reason,
            delivered_at=delivered,
            evidence=[SimpleUploadedFile(name, data) for name, data in files],
        )
    # Two the merchant contests at once, so that reviewers find work in their queue: screened
    # here (the worker's task then finds them done), then sent to review with a rebuttal.
    contests = [
        (
            "buyer-002",
            "The cup left our warehouse intact; our packing photo shows it. The crack in the buyer's "
            "photo is drawn onto our own catalogue picture.",
            packing_photo("coffee"),
        ),
        (
            "buyer-005",
            "Every kit is weighed before shipping; the parcel weighed what a complete kit weighs.",
            packing_photo("motorcycle"),
        ),
    ]
    for buyer, statement, packing in contests:
        application = submitted[buyer]
        application_screen_evidence(application_id=application.public_id)
        application_record_screening(application_id=application.public_id)
        application_contest(
            application_id=application.public_id,
            actor=Actor.of_user(ActorKind.MERCHANT, shop_user),
            statement=statement,
            attachments=[SimpleUploadedFile("packing.jpg", packing)],
        )
