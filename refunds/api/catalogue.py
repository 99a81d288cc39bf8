"""API for what platforms register: merchants, products and their reference images."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from refunds.api.limits import BoundedJSONParser, LimitedMultiPartParser
from refunds.api.pagination import CreatedCursorPagination
from refunds.api.serializers import STORED_IMAGE_FIELDS, StoredImageSerializer, StrictCharField
from refunds.errors import ErrorCode, NotFound
from refunds.integration.idempotency import idempotent
from refunds.models import Merchant, Product, ReferenceImage
from refunds.services import catalogue


class StrictTextModelSerializer(serializers.ModelSerializer):
    """A model serializer whose text fields take text only: ``{"external_ref": 123}`` is refused,
    as the schema's ``type: string`` says, rather than stored as "123"."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
    }


class MerchantSerializer(StrictTextModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Merchant
        fields = ["id", "external_ref", "name", "created_at"]
        read_only_fields = ["created_at"]
        validators: list = []  # uniqueness is the service's answer (409), not a validation error


class ProductSerializer(StrictTextModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    merchant = serializers.UUIDField(source="merchant.public_id")

    class Meta:
        model = Product
        fields = ["id", "merchant", "external_ref", "title", "created_at"]
        read_only_fields = ["created_at"]
        validators: list = []


class ReferenceImageSerializer(StoredImageSerializer):
    image = serializers.FileField(write_only=True, allow_empty_file=True, help_text="JPEG, PNG, WebP or HEIC.")

    class Meta:
        model = ReferenceImage
        fields = ["id", "kind", "image", *STORED_IMAGE_FIELDS]
        read_only_fields = STORED_IMAGE_FIELDS


def _get(queryset: QuerySet, public_id: str, missing: ErrorCode):  # noqa: ANN202
    """Return the object with this public id from the caller's queryset; raise NotFound otherwise."""
    try:
        return queryset.get(public_id=public_id)
    except (queryset.model.DoesNotExist, ValidationError, ValueError):
        raise NotFound(missing) from None


class MerchantListView(GenericAPIView):
    serializer_class = MerchantSerializer
    pagination_class = CreatedCursorPagination
    parser_classes = [BoundedJSONParser]

    def get_queryset(self) -> QuerySet[Merchant]:
        if getattr(self, "swagger_fake_view", False):
            return Merchant.objects.none()
        return Merchant.objects.filter(platform=self.request.auth.platform)

    @extend_schema(operation_id="merchants_list", responses={200: MerchantSerializer(many=True)})
    def get(self, request: Request) -> Response:
        """List the platform's merchants (shops)."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MerchantSerializer(page, many=True).data)

    @extend_schema(responses={201: MerchantSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        """Register a merchant (shop); 409 if its reference exists already."""
        form = MerchantSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        merchant = catalogue.merchant_create(platform=request.auth.platform, **form.validated_data)
        return Response(MerchantSerializer(merchant).data, status=status.HTTP_201_CREATED)


class MerchantDetailView(GenericAPIView):
    serializer_class = MerchantSerializer

    def get(self, request: Request, public_id: str) -> Response:
        """Read a merchant."""
        merchant = _get(
            Merchant.objects.filter(platform=request.auth.platform), public_id, ErrorCode.MERCHANT_NOT_FOUND
        )
        return Response(MerchantSerializer(merchant).data)


class ProductListView(GenericAPIView):
    serializer_class = ProductSerializer
    pagination_class = CreatedCursorPagination
    parser_classes = [BoundedJSONParser]

    def get_queryset(self) -> QuerySet[Product]:
        if getattr(self, "swagger_fake_view", False):
            return Product.objects.none()
        products = Product.objects.filter(merchant__platform=self.request.auth.platform).select_related("merchant")
        merchant = self.request.query_params.get("merchant")
        if merchant is not None:
            products = products.filter(
                merchant=_get(
                    Merchant.objects.filter(platform=self.request.auth.platform), merchant, ErrorCode.MERCHANT_NOT_FOUND
                )
            )
        return products

    @extend_schema(
        operation_id="products_list",
        responses={200: ProductSerializer(many=True)},
        parameters=[OpenApiParameter("merchant", OpenApiTypes.UUID, description="Only this merchant's products.")],
    )
    def get(self, request: Request) -> Response:
        """List the platform's products; `?merchant=` narrows to one shop."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ProductSerializer(page, many=True).data)

    @extend_schema(responses={201: ProductSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        """Register a product of a merchant; 409 if the merchant has its reference already."""
        form = ProductSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        merchant = _get(
            Merchant.objects.filter(platform=request.auth.platform),
            data["merchant"]["public_id"],
            ErrorCode.MERCHANT_NOT_FOUND,
        )
        product = catalogue.product_create(merchant=merchant, external_ref=data["external_ref"], title=data["title"])
        return Response(ProductSerializer(product).data, status=status.HTTP_201_CREATED)


class ProductDetailView(GenericAPIView):
    serializer_class = ProductSerializer

    def get(self, request: Request, public_id: str) -> Response:
        """Read a product."""
        product = _get(
            Product.objects.filter(merchant__platform=request.auth.platform).select_related("merchant"),
            public_id,
            ErrorCode.PRODUCT_NOT_FOUND,
        )
        return Response(ProductSerializer(product).data)


class ReferenceImageListView(GenericAPIView):
    serializer_class = ReferenceImageSerializer
    parser_classes = [LimitedMultiPartParser]

    def product(self, request: Request, public_id: str) -> Product:
        return _get(
            Product.objects.filter(merchant__platform=request.auth.platform), public_id, ErrorCode.PRODUCT_NOT_FOUND
        )

    @extend_schema(responses={200: ReferenceImageSerializer(many=True)})
    def get(self, request: Request, public_id: str) -> Response:
        """List the product's reference images."""
        images = self.product(request, public_id).reference_images.order_by("created_at")
        return Response(ReferenceImageSerializer(images, many=True).data)

    @extend_schema(request={"multipart/form-data": ReferenceImageSerializer}, responses={201: ReferenceImageSerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Add a reference image (catalogue photo or shipped-item photo) to the product."""
        product = self.product(request, public_id)
        form = ReferenceImageSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        image = catalogue.reference_image_add(
            product=product,
            image=form.validated_data["image"],
            kind=form.validated_data.get("kind", ReferenceImage.Kind.CATALOGUE),
        )
        return Response(ReferenceImageSerializer(image).data, status=status.HTTP_201_CREATED)
