"""GET /statistics/reviewers: how the decisions on the platform's applications held up, for the
platform's operations team. Only the key's platform's decisions count; reviewers appear under
a pseudonym of that platform's own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from refunds import selectors
from refunds.api.pagination import invalid_parameter
from refunds.models import Platform
from refunds.states import RiskLevel

DEFAULT_PERIOD = timedelta(days=30)
# A year at most in one request: the figures are counted over every decision of the period.
MAX_PERIOD = timedelta(days=366)


def _rate(help_text: str) -> serializers.FloatField:
    return serializers.FloatField(allow_null=True, min_value=0, max_value=1, help_text=help_text)


class ReviewerFiguresSerializer(serializers.Serializer):
    reviewer = serializers.CharField(
        help_text="The reviewer's pseudonym: stable over time for this platform, different on every other one."
    )
    decisions = serializers.IntegerField(help_text="Decisions the reviewer made in the period.")
    qa_reviewed = serializers.IntegerField(help_text="Of those, decisions another reviewer reviewed again, blind.")
    qa_agreed = serializers.IntegerField(help_text="Of those, decisions the second reviewer agreed with.")
    qa_agreement_rate = _rate("qa_agreed / qa_reviewed; null when none was reviewed again.")
    appealed = serializers.IntegerField(help_text="Decisions whose appeal was decided (upheld or overturned).")
    overturned = serializers.IntegerField(help_text="Of those, decisions overturned on appeal.")
    overturn_rate = _rate("overturned / appealed; null when no appeal was decided.")
    median_seconds_to_decide = serializers.FloatField(
        allow_null=True, help_text="Median time from entering review to the decision, in seconds."
    )


class RiskFiguresSerializer(serializers.Serializer):
    risk_level = serializers.ChoiceField(choices=RiskLevel.choices)
    decisions = serializers.IntegerField(help_text="Decisions on applications of this risk level, by anyone.")
    appealed = serializers.IntegerField(help_text="Of those, decisions whose appeal was decided.")
    overturned = serializers.IntegerField(help_text="Of those, decisions overturned on appeal.")
    overturn_rate = _rate("overturned / appealed; null when no appeal was decided.")


class ReviewQualitySerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    reviewers = ReviewerFiguresSerializer(many=True)
    risk_levels = RiskFiguresSerializer(many=True)


def _moment(request: Request, name: str, default: datetime) -> datetime:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        moment = parse_datetime(raw)
    except ValueError:
        moment = None
    if moment is None or timezone.is_naive(moment):
        raise invalid_parameter(name, _("Give a date and time with its offset, e.g. 2026-11-01T00:00:00Z."))
    # In UTC: the database refuses some offsets Python accepts (+21:55); a moment at the edge of
    # the calendar that UTC cannot hold is its edge.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == datetime.min.year else datetime.max).replace(tzinfo=UTC)


def _before(moment: datetime, period: timedelta) -> datetime:
    try:
        return moment - period
    except OverflowError:  # a moment in the first year of the calendar
        return datetime.min.replace(tzinfo=UTC)


def _period(request: Request) -> tuple[datetime, datetime]:
    """Return the period asked for: ``since`` moved up to a year before ``until`` at the earliest,
    and a ``since`` at or after ``until`` an empty period (both valid questions, answered)."""
    until = _moment(request, "until", timezone.now())
    since = _moment(request, "since", _before(until, DEFAULT_PERIOD))
    return max(since, _before(until, MAX_PERIOD)), until


def _shown(quality: selectors.ReviewQuality, platform: Platform) -> dict[str, object]:
    return {
        "since": quality.since,
        "until": quality.until,
        "reviewers": [
            {
                "reviewer": selectors.reviewer_pseudonym(platform=platform, user_id=row.user_id),
                "decisions": row.decisions,
                "qa_reviewed": row.qa_reviewed,
                "qa_agreed": row.qa_agreed,
                "qa_agreement_rate": row.qa_agreement_rate,
                "appealed": row.appealed,
                "overturned": row.overturned,
                "overturn_rate": row.overturn_rate,
                "median_seconds_to_decide": row.median_seconds_to_decide,
            }
            for row in quality.reviewers
        ],
        "risk_levels": [
            {
                "risk_level": row.risk_level,
                "decisions": row.decisions,
                "appealed": row.appealed,
                "overturned": row.overturned,
                "overturn_rate": row.overturn_rate,
            }
            for row in quality.risk_levels
        ],
    }


class ReviewerStatisticsView(APIView):
    required_scope = "read"

    @extend_schema(
        operation_id="statistics_reviewers",
        responses={200: ReviewQualitySerializer},
        parameters=[
            OpenApiParameter(
                "since",
                OpenApiTypes.DATETIME,
                description="Decisions made from this moment on (default: 30 days before `until`; at most "
                "366 days before it: an earlier moment counts from there, as the answer's `since` says).",
            ),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description="…and before this one (default: now)."),
        ],
        examples=[
            OpenApiExample(
                "Two reviewers over November",
                response_only=True,
                value={
                    "since": "2026-11-01T00:00:00Z",
                    "until": "2026-12-01T00:00:00Z",
                    "reviewers": [
                        {
                            "reviewer": "rv_3f9a1c0b7d2e4a51",
                            "decisions": 212,
                            "qa_reviewed": 11,
                            "qa_agreed": 10,
                            "qa_agreement_rate": 0.909,
                            "appealed": 9,
                            "overturned": 2,
                            "overturn_rate": 0.222,
                            "median_seconds_to_decide": 5820.0,
                        },
                        {
                            "reviewer": "rv_8c41d2e07b9f3a66",
                            "decisions": 35,
                            "qa_reviewed": 0,
                            "qa_agreed": 0,
                            "qa_agreement_rate": None,
                            "appealed": 0,
                            "overturned": 0,
                            "overturn_rate": None,
                            "median_seconds_to_decide": 2400.0,
                        },
                    ],
                    "risk_levels": [
                        {
                            "risk_level": "clean",
                            "decisions": 1804,
                            "appealed": 12,
                            "overturned": 1,
                            "overturn_rate": 0.083,
                        },
                        {
                            "risk_level": "suspicious",
                            "decisions": 190,
                            "appealed": 7,
                            "overturned": 2,
                            "overturn_rate": 0.286,
                        },
                        {"risk_level": "forged", "decisions": 53, "appealed": 2, "overturned": 0, "overturn_rate": 0.0},
                    ],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        """How the decisions on the platform's applications held up, per reviewer (under a pseudonym)
        and per risk level: blind second reviews that agreed, appeals that overturned, and the time
        to decide. Counts the decisions made in the period, whenever their review or appeal came."""
        since, until = _period(request)
        platform = request.auth.platform
        quality = selectors.review_quality(since=since, until=until, platform=platform)
        return Response(ReviewQualitySerializer(_shown(quality, platform)).data)
