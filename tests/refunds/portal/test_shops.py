"""A user may act for several shops, as owner or staff, and switches between them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from refunds.models import MerchantMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_shop_owner(merchant_owner, other_merchant):
    """Acme's owner, also on the staff of the shop "Other"."""
    MerchantMember.objects.create(user=merchant_owner, merchant=other_merchant, role=MerchantMember.Role.STAFF)
    return merchant_owner


def test_a_user_of_two_shops_starts_in_the_first_and_switches(
    client, two_shop_owner, awaiting, other_shop_application, other_merchant
):
    client.force_login(two_shop_owner)
    page = client.get("/portal/").content.decode()
    assert "order-clean" in page and "order-other" not in page and 'id="shop-choice"' in page
    response = client.post("/portal/shop/", {"shop": str(other_merchant.public_id)})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    page = client.get("/portal/").content.decode()
    assert "order-other" in page and "order-clean" not in page
    # Pages go through the active shop only.
    assert client.get(f"/portal/applications/{awaiting.public_id}/").status_code == 404


def test_a_link_naming_the_shop_opens_in_that_shop(client, two_shop_owner, awaiting, merchant, other_merchant):
    client.force_login(two_shop_owner)
    client.post("/portal/shop/", {"shop": str(other_merchant.public_id)})
    response = client.get(f"/portal/applications/{awaiting.public_id}/?shop={merchant.public_id}")
    assert response.status_code == 200
    assert "order-clean" in client.get("/portal/").content.decode()


def test_nobody_switches_to_a_shop_they_do_not_belong_to(client, merchant_owner, other_merchant, awaiting):
    client.force_login(merchant_owner)
    assert client.post("/portal/shop/", {"shop": str(other_merchant.public_id)}).status_code == 404
    assert client.get(f"/portal/applications/{awaiting.public_id}/?shop={other_merchant.public_id}").status_code == 200
    assert "order-clean" in client.get("/portal/").content.decode()


def test_a_member_of_two_shops_opens_the_files_of_both(client, two_shop_owner, forged, other_shop_application):
    client.force_login(two_shop_owner)
    for application in (forged, other_shop_application):
        evidence = application.evidence.get()
        assert client.get(f"/files/evidence/{evidence.public_id}").status_code == 200


def test_staff_add_reference_photos_but_only_owners_remove_them(client, merchant, product):
    clerk = User.objects.create_user("clerk", password="pw-clerk")
    MerchantMember.objects.create(user=clerk, merchant=merchant)
    assert MerchantMember.objects.get(user=clerk).role == "staff"
    client.force_login(clerk)
    reference = product.reference_images.get()
    page = client.get(f"/portal/products/{product.public_id}/").content.decode()
    assert "/remove/" not in page
    response = client.post(
        f"/portal/products/{product.public_id}/references/{reference.public_id}/remove/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert (
        response.status_code == 403 and "Only the shop's owners remove reference photos." in response.content.decode()
    )
    assert product.reference_images.filter(pk=reference.pk).exists()


def test_one_membership_per_user_and_shop(merchant_owner, merchant):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        MerchantMember.objects.create(user=merchant_owner, merchant=merchant)
