"""Personas of the portal tests: Acme's owner with claims in their window, the owner of another
shop on the same platform, a shop on another platform, a reviewer and a user with no shop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from refunds.models import MerchantMember, RefundApplication
from tests.factories import FORGED_CUP, make_product, screen, submit


@pytest.fixture
def other_owner(other_merchant) -> User:
    user = User.objects.create_user("other-owner", password="pw-other-owner")
    MerchantMember.objects.create(user=user, merchant=other_merchant)
    return user


@pytest.fixture
def shopless(db) -> User:
    return User.objects.create_user("shopless", password="pw-shopless")


@pytest.fixture
def owner_client(client, merchant_owner):
    client.force_login(merchant_owner)
    return client


@pytest.fixture
def awaiting(product) -> RefundApplication:
    """A claim with a genuine new photo, screened clean, waiting for the merchant."""
    return screen(submit(product, order_ref="order-clean"))


@pytest.fixture
def forged(product) -> RefundApplication:
    """A claim whose photo is Acme's catalogue photo with damage painted on."""
    return screen(submit(product, order_ref="order-forged", evidence=[FORGED_CUP]))


@pytest.fixture
def other_shop_application(other_merchant) -> RefundApplication:
    return screen(submit(make_product(other_merchant, ref="sku-other"), order_ref="order-other"))


def close_window(application: RefundApplication) -> None:
    """Move the deadline into the past without beat having run yet (the state still awaits the merchant)."""
    RefundApplication.objects.filter(pk=application.pk).update(merchant_deadline=timezone.now() - timedelta(minutes=1))
