"""One open request for another photo per application on PostgreSQL: racing reviewers make one
request, a racing answer and cancel close it once; the losers get a conflict."""

import pytest

from refunds import services
from refunds.errors import Conflict
from refunds.models import AuditEvent, EvidenceRequest, WebhookEvent
from refunds.services import Actor
from refunds.states import ActorKind, EvidenceRequestState
from tests.conftest import race
from tests.factories import jpeg
from tests.refunds.evidence_request_builders import answer, ask, claimed_by

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("postgres_only")]


def test_a_reviewer_and_a_senior_asking_at_once_make_one_request(product, reviewer, senior_reviewer):
    for attempt in range(3):
        application = claimed_by(reviewer, product, buyer_ref=f"buyer-{attempt}", order_ref=f"order-{attempt}")
        results = race(lambda: ask(application, reviewer), lambda: ask(application, senior_reviewer))
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(conflicts) == 1 and conflicts[0].code == "evidence_request_open_exists", results
        assert EvidenceRequest.objects.filter(application=application, state=EvidenceRequestState.OPEN).count() == 1
        assert AuditEvent.objects.filter(application=application, action="evidence_request_open").count() == 1


def test_an_answer_racing_the_reviewers_cancel_closes_the_request_once(product, reviewer):
    for attempt in range(3):
        application = claimed_by(reviewer, product, buyer_ref=f"buyer-{attempt}", order_ref=f"order-{attempt}")
        request = ask(application, reviewer)
        results = race(
            lambda: answer(request, jpeg(seed=60 + attempt)),
            lambda: services.evidence_request_cancel(
                request_id=request.public_id, actor=Actor.of_user(ActorKind.REVIEWER, reviewer)
            ),
        )
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(conflicts) == 1 and conflicts[0].code == "evidence_request_not_open", results
        request.refresh_from_db()
        closing = WebhookEvent.objects.filter(
            application=application,
            type__in=["application.evidence_request_answered", "application.evidence_request_cancelled"],
        )
        assert closing.count() == 1
        answered = request.state == EvidenceRequestState.ANSWERED
        assert application.evidence.count() == (2 if answered else 1)
