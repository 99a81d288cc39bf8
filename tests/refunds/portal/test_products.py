"""Products and their reference photos: listed, added with the API's checks, removed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from refunds.errors import NotFound
from refunds.models import ReferenceImage
from refunds.services.catalogue import reference_image_remove
from tests.factories import jpeg, make_product, screen, submit

pytestmark = pytest.mark.django_db


def test_the_owner_sees_the_shops_products_with_their_photo_counts(owner_client, product, other_merchant):
    make_product(other_merchant, ref="sku-other")
    page = owner_client.get("/portal/products/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/portal/products/{product.public_id}/" in page and "1 reference photo" in page
    assert page.count('class="card"') == 1


def test_the_owner_adds_a_shipped_item_photo(owner_client, product):
    response = owner_client.post(
        f"/portal/products/{product.public_id}/",
        {"kind": "shipped_item", "image": SimpleUploadedFile("shipped.jpg", jpeg(seed=11))},
    )
    assert response.status_code == 302
    added = product.reference_images.get(kind="shipped_item")
    assert added.content_type == "image/jpeg" and added.original_name == "shipped.jpg"
    page = owner_client.get(f"/portal/products/{product.public_id}/").content.decode()
    assert f"/files/reference/{added.public_id}" in page


def test_a_post_without_a_photo_is_a_form_error(owner_client, product):
    response = owner_client.post(
        f"/portal/products/{product.public_id}/", {"kind": "catalogue"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400 and "Choose a photo to upload." in response.content.decode()


def test_the_owner_removes_a_photo_and_past_screenings_lose_only_the_link(owner_client, product):
    screened = screen(submit(product))
    reference = product.reference_images.get()
    response = owner_client.post(f"/portal/products/{product.public_id}/references/{reference.public_id}/remove/")
    assert response.status_code == 302
    assert not ReferenceImage.objects.filter(pk=reference.pk).exists()
    evidence = screened.evidence.get()
    assert evidence.screening.completed and evidence.screening.matched_reference is None
    assert owner_client.get(f"/portal/applications/{screened.public_id}/").status_code == 200


def test_removing_asks_first_and_only_a_post_removes(owner_client, product):
    reference = product.reference_images.get()
    page = owner_client.get(f"/portal/products/{product.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    remove_url = f"/portal/products/{product.public_id}/references/{reference.public_id}/remove/"
    assert f'href="{remove_url}"' in page
    response = owner_client.get(remove_url, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and 'id="confirm-remove"' in response.content.decode()
    assert "will no longer be compared with this photo" in response.content.decode()
    assert ReferenceImage.objects.filter(pk=reference.pk).exists()


def test_the_service_refuses_a_photo_of_another_product(product, other_merchant):
    other = make_product(other_merchant, ref="sku-other")
    with pytest.raises(NotFound):
        reference_image_remove(product=product, public_id=other.reference_images.get().public_id)
    with pytest.raises(NotFound):
        reference_image_remove(product=product, public_id="not-a-uuid")
    assert other.reference_images.count() == 1
