"""A request for another photo on a real broker with a real worker thread: the buyer's second
photo is screened off the request, like any evidence, and the review goes on."""

import pytest

from refunds.models import AuditEvent, EvidenceRequest, RefundApplication
from refunds.states import ApplicationState
from screening.models import ScreeningResult
from tests.conftest import wait_for
from tests.factories import jpeg
from tests.refunds.evidence_request_builders import answer, ask, claimed_by

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_screens_the_second_photo_and_the_review_resumes(celery_worker, product, reviewer):
    application = claimed_by(reviewer, product)
    request = answer(ask(application, reviewer), jpeg(seed=81))
    wait_for(lambda: ScreeningResult.objects.filter(evidence=request.answer, completed=True).exists())
    application = RefundApplication.objects.get(pk=application.pk)
    assert application.state == ApplicationState.IN_REVIEW and application.every_evidence_screened()
    assert application.review_due_at is not None and application.claimed_by == reviewer
    assert EvidenceRequest.objects.get(pk=request.pk).answer.screening.completed
    assert AuditEvent.objects.filter(application=application, action="evidence_request_answer").count() == 1
