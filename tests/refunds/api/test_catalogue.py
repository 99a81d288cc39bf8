"""Merchants, products and reference images through the API."""

import pytest

from refunds.models import Merchant, Product, ReferenceImage
from tests.factories import CUP, upload
from tests.refunds.api.test_applications import client_with

pytestmark = pytest.mark.django_db


def test_a_platform_registers_a_merchant_a_product_and_a_reference_image(platform_a, key_a):
    client = client_with(key_a)
    merchant = client.post("/api/v1/merchants", {"external_ref": "shop-7", "name": "Seven"}, format="json")
    assert merchant.status_code == 201, merchant.json()
    product = client.post(
        "/api/v1/products", {"merchant": merchant.json()["id"], "external_ref": "sku-7", "title": "Vase"}, format="json"
    )
    assert product.status_code == 201, product.json()
    image = client.post(
        f"/api/v1/products/{product.json()['id']}/reference-images",
        {"image": upload(CUP, "vase.jpg"), "kind": "catalogue"},
        format="multipart",
    )
    assert image.status_code == 201, image.json()
    assert image.json()["content_type"] == "image/jpeg" and image.json()["width"] > 0
    listed = client.get(f"/api/v1/products/{product.json()['id']}/reference-images").json()
    assert [i["id"] for i in listed] == [image.json()["id"]]


def test_a_duplicate_merchant_reference_is_a_conflict(merchant, key_a):
    response = client_with(key_a).post(
        "/api/v1/merchants", {"external_ref": merchant.external_ref, "name": "Again"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "merchant_exists"
    assert Merchant.objects.count() == 1


def test_a_duplicate_product_reference_is_a_conflict(product, key_a):
    response = client_with(key_a).post(
        "/api/v1/products",
        {"merchant": str(product.merchant.public_id), "external_ref": product.external_ref, "title": "x"},
        format="json",
    )
    assert response.status_code == 409
    assert Product.objects.count() == 1


def test_lists_and_reads_are_confined_to_the_platform(product, product_b, key_a, key_b):
    client = client_with(key_a)
    assert [m["id"] for m in client.get("/api/v1/merchants").json()["results"]] == [str(product.merchant.public_id)]
    assert [p["id"] for p in client.get("/api/v1/products").json()["results"]] == [str(product.public_id)]
    assert client.get(f"/api/v1/merchants/{product_b.merchant.public_id}").status_code == 404
    assert client.get(f"/api/v1/products/{product_b.public_id}").status_code == 404
    assert client.get(f"/api/v1/products?merchant={product_b.merchant.public_id}").status_code == 404
    other = client_with(key_b).post(
        f"/api/v1/products/{product.public_id}/reference-images", {"image": upload(CUP)}, format="multipart"
    )
    assert other.status_code == 404
    assert ReferenceImage.objects.filter(product=product).count() == 1


def test_a_product_cannot_be_added_to_another_platforms_merchant(merchant_b, key_a):
    response = client_with(key_a).post(
        "/api/v1/products", {"merchant": str(merchant_b.public_id), "external_ref": "x", "title": "x"}, format="json"
    )
    assert response.status_code == 404
    assert not Product.objects.filter(merchant=merchant_b).exists()


def test_a_text_file_is_not_a_reference_image(product, key_a):
    response = client_with(key_a).post(
        f"/api/v1/products/{product.public_id}/reference-images",
        {"image": upload(b"hello", "x.jpg")},
        format="multipart",
    )
    assert response.status_code == 415
    assert ReferenceImage.objects.filter(product=product).count() == 1


@pytest.mark.parametrize("body", [{"external_ref": 123, "name": "Numbers"}, {"external_ref": "shop-8", "name": True}])
def test_a_number_or_a_boolean_where_text_is_expected_is_refused(platform_a, key_a, body):
    response = client_with(key_a).post("/api/v1/merchants", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "invalid"
    assert not Merchant.objects.exists()
