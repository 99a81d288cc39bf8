"""API views: validate, call one service, shape the answer."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from refunds import selectors, services
from refunds.api.serializers import ApplicationCreateSerializer, ApplicationSerializer
from refunds.idempotency import HEADER, idempotent
from refunds.services import Actor
from refunds.states import ActorKind


class ApplicationListView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": ApplicationCreateSerializer},
        responses={201: ApplicationSerializer},
        parameters=[OpenApiParameter(HEADER, str, OpenApiParameter.HEADER, required=False,
                                     description="Retry-safe key: a repeat returns the first response (kept 48 h).")],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        """Submit a refund-only application with its evidence images."""
        form = ApplicationCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        key = request.auth
        application = services.application_submit(
            platform=key.platform,
            merchant_id=data["merchant"],
            product_id=data["product"],
            buyer_ref=data["buyer_ref"],
            order_ref=data["order_ref"],
            delivered_at=data.get("delivered_at"),
            amount=data["amount"],
            currency=data["currency"],
            reason_code=data["reason_code"],
            description=data["description"],
            evidence=data["evidence"],
            actor=Actor(ActorKind.PLATFORM, None, f"api key {key.prefix}"),
        )
        application = selectors.application_get_for_platform(platform=key.platform, public_id=application.public_id)
        return Response(ApplicationSerializer(application).data, status=status.HTTP_201_CREATED)


class ApplicationDetailView(APIView):
    @extend_schema(responses={200: ApplicationSerializer})
    def get(self, request: Request, public_id: str) -> Response:
        """Read an application with its state, screening and decision."""
        application = selectors.application_get_for_platform(platform=request.auth.platform, public_id=public_id)
        return Response(ApplicationSerializer(application).data)
