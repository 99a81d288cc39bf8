"""API views over a buyer's record and groups of linked claims: read-only, within the key's platform."""

from __future__ import annotations

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from refunds import selectors
from refunds.api.pagination import invalid_parameter
from refunds.api.schema import NO_NUL
from refunds.errors import ErrorCode, NotFound
from refunds.models import RefundApplication
from refunds.states import BuyerRiskReason, Outcome
from screening.models import ReuseLink


class MoneySerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()


def _money(totals: dict) -> list[dict]:
    return [{"amount": amount, "currency": currency} for currency, amount in totals.items()]


class BuyerRiskReasonSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=BuyerRiskReason.choices)
    message = serializers.CharField()


class BuyerRiskSerializer(serializers.Serializer):
    buyer_ref = serializers.CharField()
    applications = serializers.IntegerField(help_text="All of the buyer's applications on the platform.")
    open = serializers.IntegerField(help_text="Those not yet decided or withdrawn.")
    outcomes = serializers.DictField(
        child=serializers.IntegerField(), help_text=f"Decided applications per outcome: {', '.join(Outcome.values)}."
    )
    claimed = MoneySerializer(many=True, help_text="Amounts claimed, per currency.")
    refunded = MoneySerializer(many=True, help_text="Amounts refunded, per currency.")
    forged = serializers.IntegerField(help_text="Applications screened as forged.")
    refunded_on_forged = MoneySerializer(many=True, help_text="Amounts refunded on applications judged forged.")
    linked = serializers.IntegerField(help_text="Applications in a group of linked claims (sharing images).")
    alert_amount = MoneySerializer(help_text="The policy's alert amount for refunds on forged applications.")
    at_alert_amount = serializers.BooleanField()
    holds_automatic_approval = serializers.BooleanField(
        help_text="Whether the buyer's record keeps applications from automatic approval (when the policy says so)."
    )
    reasons = BuyerRiskReasonSerializer(
        many=True, help_text="Why the record asks for a person; empty when nothing does."
    )

    def to_representation(self, risk: selectors.BuyerRisk) -> dict:
        return super().to_representation(
            {
                **{
                    name: getattr(risk, name)
                    for name in (
                        "buyer_ref",
                        "applications",
                        "open",
                        "outcomes",
                        "forged",
                        "linked",
                        "at_alert_amount",
                        "holds_automatic_approval",
                    )
                },
                "claimed": _money(risk.claimed),
                "refunded": _money(risk.refunded),
                "refunded_on_forged": _money(risk.refunded_on_forged),
                "alert_amount": {"amount": risk.alert_amount, "currency": risk.alert_currency},
                "reasons": [{"code": r.code, "message": r.message} for r in risk.reasons],
            }
        )


class BuyerRiskView(APIView):
    @extend_schema(
        operation_id="buyers_retrieve",
        parameters=[
            OpenApiParameter(
                "buyer_ref",
                {"type": "string", "pattern": NO_NUL},
                OpenApiParameter.PATH,
                description="The buyer's reference, as given with the applications (no NUL characters).",
            )
        ],
        responses={200: BuyerRiskSerializer},
    )
    def get(self, request: Request, buyer_ref: str) -> Response:
        """A buyer's record on the platform: outcomes, amounts, forged findings and the reasons to look."""
        if "\x00" in buyer_ref:
            # No stored text holds one (PostgreSQL refuses it), so no buyer could match.
            raise invalid_parameter("buyer_ref", ProhibitNullCharactersValidator.message)
        platform = request.auth.platform
        if not RefundApplication.objects.filter(platform=platform, buyer_ref=buyer_ref).exists():
            raise NotFound(ErrorCode.NOT_FOUND, object=selectors.BUYER)
        return Response(BuyerRiskSerializer(selectors.buyer_risk(platform=platform, buyer_ref=buyer_ref)).data)


class ClaimGroupMemberSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    outcome = serializers.SerializerMethodField()
    refunded = serializers.SerializerMethodField()

    class Meta:
        model = RefundApplication
        fields = [
            "id",
            "buyer_ref",
            "order_ref",
            "state",
            "risk_level",
            "amount",
            "currency",
            "outcome",
            "refunded",
            "created_at",
        ]

    def get_outcome(self, obj: RefundApplication) -> str | None:
        decision = getattr(obj, "decision", None)
        return decision.outcome if decision is not None else None

    @extend_schema(responses={200: MoneySerializer})
    def get_refunded(self, obj: RefundApplication) -> dict | None:
        decision = getattr(obj, "decision", None)
        return (
            {"amount": str(decision.approved_amount), "currency": decision.currency} if decision is not None else None
        )


class ClaimGroupLinkSerializer(serializers.Serializer):
    application = serializers.UUIDField(help_text="The application whose image reuses the earlier one.")
    earlier_application = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=ReuseLink.Kind.choices)
    distance = serializers.IntegerField(help_text="Perceptual-hash bits that differ (of 64).")
    points = serializers.IntegerField(
        help_text="Keypoints agreeing on one geometric transform when they found the reuse (a crop, a turn, a "
        "frame moved the hash too far); 0 when the hash found it."
    )


class ClaimGroupSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField()
    claimed = MoneySerializer(many=True)
    refunded = MoneySerializer(many=True)
    applications = ClaimGroupMemberSerializer(many=True)
    links = ClaimGroupLinkSerializer(many=True)


class ClaimGroupView(APIView):
    @extend_schema(operation_id="claim_groups_retrieve", responses={200: ClaimGroupSerializer})
    def get(self, request: Request, public_id: str) -> Response:
        """A group of linked claims: applications that share evidence images, with their outcomes and totals."""
        group = selectors.claim_group_get_for_platform(platform=request.auth.platform, public_id=public_id)
        return Response(
            ClaimGroupSerializer(
                {
                    "id": group.group.public_id,
                    "created_at": group.group.created_at,
                    "claimed": _money(group.claimed),
                    "refunded": _money(group.refunded),
                    "applications": group.applications,
                    "links": group.links,
                }
            ).data
        )
