"""Demo data for the embedded run: a platform, a shop, products with real reference photos,
people for every role, and applications that exercise screening."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone

from refunds.models import Merchant, MerchantMember, Platform, Product
from refunds.roles import AUDITORS, REVIEWERS, SENIOR_REVIEWERS
from refunds.services import Actor, application_contest, application_record_screening, application_submit
from refunds.services.catalogue import reference_image_add
from refunds.services.platform import api_key_issue, platform_create, settings_actor_for_command
from refunds.states import ActorKind
from screening.services import application_screen_evidence
from screening.synthetic import jpeg, paint_edits, photo, rephotograph


def catalogue_photo(name: str) -> bytes:
    """Return one of scikit-image's bundled photographs (e.g. "coffee") as a catalogue JPEG."""
    return jpeg(photo(name), 95)


def rephotographed(name: str, *, background: str, seed: int) -> bytes:
    """Return the catalogue photo printed, placed in another scene and photographed anew: what an
    honest buyer's photo of the same item looks like to screening (not derived from its pixels)."""
    data, _ = rephotograph(photo(name), photo(background), np.random.default_rng(seed))
    return data


def painted_damage(name: str, *, seed: int) -> bytes:
    """Return the catalogue photo with cracks, stains or tears painted on: the typical forgery."""
    edited, _ = paint_edits(photo(name), np.random.default_rng(seed))
    return jpeg(edited, 85)


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
    rocket = Product.objects.create(merchant=merchant, external_ref="sku-rocket-02", title="Rocket model kit")
    cup_photo = catalogue_photo("coffee")
    rocket_photo = catalogue_photo("rocket")
    reference_image_add(product=cup, image=SimpleUploadedFile("cup.jpg", cup_photo))
    reference_image_add(product=rocket, image=SimpleUploadedFile("rocket.jpg", rocket_photo))
    delivered = timezone.now() - timedelta(days=2)
    genuine = rephotographed("coffee", background="brick", seed=7)
    cases = [
        ("buyer-001", "order-5001", cup, "damaged", "39.90", [("cup-on-table.jpg", genuine)]),
        ("buyer-002", "order-5002", cup, "damaged", "39.90", [("crack.jpg", painted_damage("coffee", seed=3))]),
        ("buyer-003", "order-5003", cup, "not_as_described", "39.90", [("photo.jpg", cup_photo)]),
        ("buyer-004", "order-5004", cup, "damaged", "39.90", [("cup.jpg", genuine)]),
        (
            "buyer-005",
            "order-5005",
            rocket,
            "missing_parts",
            "128.00",
            [("kit.jpg", rephotographed("rocket", background="gravel", seed=11))],
        ),
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
            rephotographed("coffee", background="gravel", seed=21),
        ),
        (
            "buyer-005",
            "Every kit is weighed before shipping; the parcel weighed what a complete kit weighs.",
            rephotographed("rocket", background="brick", seed=23),
        ),
    ]
    for buyer, statement, packing_photo in contests:
        application = submitted[buyer]
        application_screen_evidence(application_id=application.public_id)
        application_record_screening(application_id=application.public_id)
        application_contest(
            application_id=application.public_id,
            actor=Actor.of_user(ActorKind.MERCHANT, shop_user),
            statement=statement,
            attachments=[SimpleUploadedFile("packing.jpg", packing_photo)],
        )
