"""API views: validate, call one service, shape the answer."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from refunds import selectors, services
from refunds.api.filters import ApplicationFilter, StrictOrderingFilter
from refunds.api.limits import BoundedJSONParser, LimitedMultiPartParser
from refunds.api.pagination import CreatedCursorPagination
from refunds.api.representations import application_representation
from refunds.api.serializers import (
    AppealCreateJsonSerializer,
    AppealCreateSerializer,
    AppealSerializer,
    ApplicationCreateFormSerializer,
    ApplicationCreateJsonSerializer,
    ApplicationCreateSerializer,
    ApplicationSerializer,
    AuditEventSerializer,
    ContestJsonSerializer,
    ContestSerializer,
    EvidenceAddSerializer,
    EvidenceRequestAnswerJsonSerializer,
    EvidenceRequestAnswerSerializer,
    EvidenceRequestSerializer,
    EvidenceUploadSerializer,
    WithdrawSerializer,
)
from refunds.errors import ErrorCode, NotFound
from refunds.integration.idempotency import HEADER, idempotent
from refunds.models import AuditEvent, RefundApplication
from refunds.services import Actor
from refunds.services.dossier import Audience, application_dossier_generate
from refunds.states import ActorKind, AppealSide, ApplicationState
from refunds.views import safe_file_response
from screening.models import Finding


def _is_json(request: Request) -> bool:
    return (request.content_type or "").split(";")[0].strip().lower() == "application/json"


# The application the schema's examples show, as POST /applications answers it.
SUBMITTED_EXAMPLE = {
    "id": "0f8d3c9a-31b4-4c1e-a7c2-7f1d2b9e6a55",
    "merchant": "9a4e2b7c-5d61-4f3a-8e09-1c2d3e4f5a6b",
    "product": "3c2b1a09-8f7e-4d6c-9b5a-0e1f2a3b4c5d",
    "buyer_ref": "buyer-001",
    "order_ref": "order-5001",
    "delivered_at": "2026-11-28T09:00:00Z",
    "amount": "39.90",
    "currency": "CNY",
    "reason_code": "damaged",
    "description": "",
    "state": ApplicationState.SUBMITTED.value,
    "risk_level": "",
    "risk_score": None,
    "unscreened": False,
    "merchant_deadline": None,
    "evidence": [
        {
            "id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918",
            "sha256": "3f2a…",
            "content_type": "image/jpeg",
            "byte_size": 812345,
            "width": 1800,
            "height": 1200,
            "verdict": None,
            "risk": None,
            "findings": [],
        }
    ],
    "decision": None,
    "created_at": "2026-11-30T10:44:37Z",
    "updated_at": "2026-11-30T10:44:37Z",
}
# What the platform sends of an order (the request example), beside the evidence.
_ORDER_FIELDS = (
    "merchant",
    "product",
    "buyer_ref",
    "order_ref",
    "delivered_at",
    "amount",
    "currency",
    "reason_code",
)


class ApplicationListView(GenericAPIView):
    # JSON when the evidence was uploaded first; multipart when the images come along.
    parser_classes = [BoundedJSONParser, LimitedMultiPartParser]
    serializer_class = ApplicationSerializer
    filter_backends = [DjangoFilterBackend, StrictOrderingFilter]
    filterset_class = ApplicationFilter
    ordering_fields = ["created_at", "updated_at", "merchant_deadline", "amount"]
    pagination_class = CreatedCursorPagination

    def get_queryset(self):  # noqa: ANN201
        if getattr(self, "swagger_fake_view", False):  # schema generation has no key
            return RefundApplication.objects.none()
        return selectors.application_list_for_platform(platform=self.request.auth.platform)

    @extend_schema(
        operation_id="applications_list",
        responses={200: ApplicationSerializer(many=True)},
        parameters=[
            OpenApiParameter(
                "unscreened", OpenApiTypes.BOOL, description="`true`: only applications whose screening failed."
            )
        ],
    )
    def get(self, request: Request) -> Response:
        """List the platform's applications, newest first, with filters and a cursor."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response([application_representation(application) for application in page])

    @extend_schema(
        request={
            "application/json": ApplicationCreateJsonSerializer,
            "multipart/form-data": ApplicationCreateSerializer,
        },
        responses={201: ApplicationSerializer},
        examples=[
            OpenApiExample(
                "A damaged cup",
                request_only=True,
                media_type="multipart/form-data",
                value={**{field: SUBMITTED_EXAMPLE[field] for field in _ORDER_FIELDS}, "evidence": ["<photo.jpg>"]},
            ),
            OpenApiExample("Submitted", response_only=True, status_codes=["201"], value=SUBMITTED_EXAMPLE),
        ],
        parameters=[
            OpenApiParameter(
                HEADER,
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Retry-safe key: a repeat returns the first response (kept 48 h).",
            )
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        """Submit a refund-only application with its evidence images (multipart `evidence`), or with
        the ids of evidence uploaded first (JSON `evidence_ids`)."""
        form = (ApplicationCreateJsonSerializer if _is_json(request) else ApplicationCreateFormSerializer)(
            data=request.data
        )
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
            evidence_upload_ids=[str(i) for i in data["evidence_ids"]],
            actor=Actor(ActorKind.PLATFORM, None, f"api key {key.prefix}"),
            idempotency_key=getattr(request, "idempotency_key", ""),
        )
        return Response(application_representation(application, just_submitted=True), status=status.HTTP_201_CREATED)


# A decided application whose rejection the buyer's appeal overturned: the decision stays as it
# was made, and names the one that replaced it.
OVERTURNED_EXAMPLE = {
    **SUBMITTED_EXAMPLE,
    "description": "The cup arrived cracked.",
    "state": ApplicationState.DECIDED.value,
    "risk_level": "suspicious",
    "risk_score": 0.62,
    "merchant_deadline": "2026-12-02T10:45:02Z",
    "evidence": [],
    "decision": {
        "outcome": "rejected",
        "approved_amount": "0.00",
        "currency": "CNY",
        "actor_kind": "reviewer",
        "reason_codes": ["insufficient_evidence"],
        "explanation": "",
        "decided_at": "2026-12-02T15:10:44Z",
        "overturned": True,
        "replaced_by": {
            "appeal": "5b7c9d1e-2f3a-4b5c-8d6e-7f8091a2b3c4",
            "outcome": "partially_approved",
            "approved_amount": "20.00",
            "currency": "CNY",
            "reason_codes": ["partial_damage"],
            "explanation": "The courier's photo shows the crack on arrival; the saucer was intact.",
            "decided_at": "2026-12-05T09:31:12Z",
        },
    },
    "linked_claims": None,
    "updated_at": "2026-12-05T09:31:12Z",
}


class ApplicationDetailView(APIView):
    @extend_schema(
        responses={200: ApplicationSerializer},
        examples=[OpenApiExample("Decided, overturned on appeal", response_only=True, value=OVERTURNED_EXAMPLE)],
    )
    def get(self, request: Request, public_id: str) -> Response:
        """Read an application with its state, screening and decision. A decision an appeal overturned
        stays as it was made, with `overturned` true and the decision now applying in `replaced_by`."""
        application = selectors.application_detail_for_platform(platform=request.auth.platform, public_id=public_id)
        return Response(application_representation(application))


def _platform_actor(request: Request, kind: str = ActorKind.PLATFORM) -> Actor:
    return Actor(kind, None, f"api key {request.auth.prefix}")


class ApplicationActionView(APIView):
    """Base of the POST actions on one application: check ownership, call the service, answer the application."""

    def respond(self, request: Request, public_id: str) -> Response:
        application = selectors.application_detail_for_platform(platform=request.auth.platform, public_id=public_id)
        return Response(application_representation(application))

    def owned(self, request: Request, public_id: str) -> str:
        # Only the ownership check here; the service locks and reads the row itself.
        selectors.application_id_for_platform(platform=request.auth.platform, public_id=public_id)
        return public_id


class WithdrawView(ApplicationActionView):
    @extend_schema(request=WithdrawSerializer, responses={200: ApplicationSerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Withdraw an application that is not decided yet (409 otherwise)."""
        form = WithdrawSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.application_withdraw(
            application_id=self.owned(request, public_id),
            actor=_platform_actor(request),
            reason=form.validated_data["reason"],
        )
        return self.respond(request, public_id)


class AcceptView(ApplicationActionView):
    @extend_schema(request=None, responses={200: ApplicationSerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Accept the refund on the merchant's behalf, before the merchant deadline (409 after)."""
        services.application_accept(
            application_id=self.owned(request, public_id), actor=_platform_actor(request, ActorKind.MERCHANT)
        )
        return self.respond(request, public_id)


class ContestView(ApplicationActionView):
    parser_classes = [BoundedJSONParser, LimitedMultiPartParser]

    @extend_schema(
        request={"application/json": ContestJsonSerializer, "multipart/form-data": ContestSerializer},
        responses={200: ApplicationSerializer},
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Contest on the merchant's behalf with a statement (JSON), or with packing evidence as well
        (multipart), before the deadline."""
        form = (ContestJsonSerializer if _is_json(request) else ContestSerializer)(data=request.data)
        form.is_valid(raise_exception=True)
        services.application_contest(
            application_id=self.owned(request, public_id),
            actor=_platform_actor(request, ActorKind.MERCHANT),
            statement=form.validated_data["statement"],
            attachments=form.validated_data["attachments"],
            reason_codes=form.validated_data["reason_codes"],
        )
        return self.respond(request, public_id)


class AuditEventListView(APIView):
    @extend_schema(responses={200: AuditEventSerializer(many=True)})
    def get(self, request: Request, public_id: str) -> Response:
        """The application's audit log, oldest first, with the hashes that chain it."""
        application_pk = selectors.application_id_for_platform(platform=request.auth.platform, public_id=public_id)
        events = AuditEvent.objects.filter(application_id=application_pk).order_by("seq")
        return Response(AuditEventSerializer(events, many=True).data)


class _JsonErrorsWhateverIsAccepted(BaseContentNegotiation):
    """A file download answers its own type; its errors are JSON even to a client that asked
    for the file's type only (which would otherwise get a bare 406)."""

    def select_parser(self, request: Request, parsers: list) -> object:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


class DossierView(APIView):
    content_negotiation_class = _JsonErrorsWhateverIsAccepted

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request: Request, public_id: str) -> FileResponse:
        """The evidence dossier of a decided application (409 `not_decided` before): a ZIP with the original
        files and their SHA-256, the screening results and heat-maps, the rebuttal, the linked claims, the
        audit chain with a standalone `verify.py`, and a PDF summary in Chinese and English. Its generation is
        recorded in the application's audit log."""
        selectors.application_id_for_platform(platform=request.auth.platform, public_id=public_id)
        dossier = application_dossier_generate(
            application_id=public_id, actor=_platform_actor(request), audience=Audience.PLATFORM
        )
        return FileResponse(
            dossier.handle, as_attachment=True, filename=dossier.filename, content_type="application/zip"
        )


class EvidenceAddView(ApplicationActionView):
    parser_classes = [LimitedMultiPartParser]

    @extend_schema(request={"multipart/form-data": EvidenceAddSerializer}, responses={201: ApplicationSerializer})
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Add evidence images while the application is submitted or awaiting the merchant; they are screened."""
        form = EvidenceAddSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        services.application_add_evidence(
            application_id=self.owned(request, public_id),
            evidence=form.validated_data["evidence"],
            actor=_platform_actor(request),
        )
        response = self.respond(request, public_id)
        response.status_code = status.HTTP_201_CREATED
        return response


class HeatmapView(APIView):
    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY})
    def get(self, request: Request, public_id: str) -> FileResponse:
        """The heat-map of a finding: the evidence with the regions that differ from the reference outlined."""
        try:
            finding = Finding.objects.get(
                public_id=public_id, result__evidence__application__platform=request.auth.platform
            )
        except (Finding.DoesNotExist, ValidationError, ValueError):
            raise NotFound(ErrorCode.NOT_FOUND, object=_("finding")) from None
        if not finding.artifact:
            raise NotFound(ErrorCode.NO_HEATMAP)
        return safe_file_response(finding.artifact.open("rb"), "image/png")


class EvidenceUploadView(APIView):
    parser_classes = [LimitedMultiPartParser]

    @extend_schema(request={"multipart/form-data": EvidenceUploadSerializer}, responses={201: EvidenceUploadSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        """Upload an evidence image ahead of its application; pass its id in `evidence_ids` (once)."""
        form = EvidenceUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        upload = services.evidence_upload_create(platform=request.auth.platform, image=form.validated_data["file"])
        return Response(EvidenceUploadSerializer(upload).data, status=status.HTTP_201_CREATED)


class AppealListView(ApplicationActionView):
    # JSON for a statement and reasons; multipart when supporting files come along.
    parser_classes = [BoundedJSONParser, LimitedMultiPartParser]

    @extend_schema(operation_id="applications_appeals_list", responses={200: AppealSerializer(many=True)})
    def get(self, request: Request, public_id: str) -> Response:
        """The application's appeals, oldest first, each with its decision once decided."""
        application_pk = selectors.application_id_for_platform(platform=request.auth.platform, public_id=public_id)
        appeals = selectors.appeal_list_for_application(application_pk=application_pk)
        return Response(AppealSerializer(appeals, many=True).data)

    @extend_schema(
        operation_id="applications_appeals_create",
        request={"application/json": AppealCreateJsonSerializer, "multipart/form-data": AppealCreateSerializer},
        responses={201: AppealSerializer},
    )
    @idempotent
    def post(self, request: Request, public_id: str) -> Response:
        """Appeal a decided application for the merchant, or for the buyer, within the policy's
        `appeal_window_days` (409 `appeal_window_closed` after; 409 as well while another appeal is
        open, when the side has appealed already, or when the decision went the side's way).
        Another reviewer than the one who decided it upholds or overturns it."""
        form = (AppealCreateJsonSerializer if _is_json(request) else AppealCreateSerializer)(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        side = data["side"]
        appeal = services.appeal_file(
            application_id=self.owned(request, public_id),
            side=side,
            actor=_platform_actor(request, ActorKind.MERCHANT if side == AppealSide.MERCHANT else ActorKind.PLATFORM),
            statement=data["statement"],
            reason_codes=data["reason_codes"],
            attachments=data["attachments"],
        )
        answer = selectors.appeal_get_for_platform(
            platform=request.auth.platform, application_id=public_id, appeal_id=appeal.public_id
        )
        return Response(AppealSerializer(answer).data, status=status.HTTP_201_CREATED)


class AppealDetailView(APIView):
    @extend_schema(operation_id="applications_appeals_retrieve", responses={200: AppealSerializer})
    def get(self, request: Request, public_id: str, appeal_id: str) -> Response:
        """Read an appeal: where it stands, and its decision once decided."""
        appeal = selectors.appeal_get_for_platform(
            platform=request.auth.platform, application_id=public_id, appeal_id=appeal_id
        )
        return Response(AppealSerializer(appeal).data)


class AppealWithdrawView(APIView):
    @extend_schema(
        operation_id="applications_appeals_withdraw_create",
        request=WithdrawSerializer,
        responses={200: AppealSerializer},
    )
    @idempotent
    def post(self, request: Request, public_id: str, appeal_id: str) -> Response:
        """Withdraw an open appeal (409 once it is decided or withdrawn)."""
        form = WithdrawSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        appeal = selectors.appeal_get_for_platform(
            platform=request.auth.platform, application_id=public_id, appeal_id=appeal_id
        )
        services.appeal_withdraw(
            appeal_id=appeal.public_id, actor=_platform_actor(request), reason=form.validated_data["reason"]
        )
        appeal.refresh_from_db()
        return Response(AppealSerializer(appeal).data)


class EvidenceRequestListView(APIView):
    @extend_schema(
        operation_id="applications_evidence_requests_list", responses={200: EvidenceRequestSerializer(many=True)}
    )
    def get(self, request: Request, public_id: str) -> Response:
        """The application's requests for another photo of the damage, oldest first."""
        application_pk = selectors.application_id_for_platform(platform=request.auth.platform, public_id=public_id)
        requests = selectors.evidence_request_list_for_application(application_pk=application_pk)
        return Response(EvidenceRequestSerializer(requests, many=True).data)


class EvidenceRequestDetailView(APIView):
    @extend_schema(operation_id="applications_evidence_requests_retrieve", responses={200: EvidenceRequestSerializer})
    def get(self, request: Request, public_id: str, request_id: str) -> Response:
        """Read a request for another photo: its instructions in the buyer's language, its deadline,
        where it stands and, once answered, the second photo's evidence id."""
        evidence_request = selectors.evidence_request_get_for_platform(
            platform=request.auth.platform, application_id=public_id, request_id=request_id
        )
        return Response(EvidenceRequestSerializer(evidence_request).data)


class EvidenceRequestAnswerView(APIView):
    # Multipart when the photo comes along; JSON when it was uploaded first.
    parser_classes = [BoundedJSONParser, LimitedMultiPartParser]

    @extend_schema(
        operation_id="applications_evidence_requests_answer_create",
        request={
            "application/json": EvidenceRequestAnswerJsonSerializer,
            "multipart/form-data": EvidenceRequestAnswerSerializer,
        },
        responses={201: EvidenceRequestSerializer},
    )
    @idempotent
    def post(self, request: Request, public_id: str, request_id: str) -> Response:
        """Answer a request for another photo with the buyer's second photo of the damage: one image as
        the multipart part `evidence`, or the id of an image uploaded first (`evidence_ids`, JSON). The
        photo is screened like any evidence and compared with the first; the review resumes. 409
        `evidence_request_deadline_passed` after the deadline, `evidence_request_not_open` once the request
        is answered, expired or cancelled."""
        form = (EvidenceRequestAnswerJsonSerializer if _is_json(request) else EvidenceRequestAnswerSerializer)(
            data=request.data
        )
        form.is_valid(raise_exception=True)
        owned = selectors.evidence_request_get_for_platform(
            platform=request.auth.platform, application_id=public_id, request_id=request_id
        )
        services.evidence_request_answer(
            request_id=owned.public_id,
            application_id=public_id,
            actor=_platform_actor(request),
            evidence=form.validated_data["evidence"],
            evidence_upload_ids=[str(i) for i in form.validated_data["evidence_ids"]],
        )
        answered = selectors.evidence_request_get_for_platform(
            platform=request.auth.platform, application_id=public_id, request_id=request_id
        )
        return Response(EvidenceRequestSerializer(answered).data, status=status.HTTP_201_CREATED)
