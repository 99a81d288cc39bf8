"""A request for another photo on a real broker with a real worker thread: the buyer's second
photo is screened off the request like any evidence, then compared with the first by a task of
its own; the review goes on with the result in the record."""

import pytest

from bench import synthetic, viewpair_scenes
from refunds.models import AuditEvent, EvidenceRequest, RefundApplication
from refunds.states import ApplicationState, RiskLevel
from screening.core import FindingCode, ViewPairVerdict
from screening.models import Finding
from tests.conftest import wait_for
from tests.refunds.evidence_request_builders import answer, ask, claimed_by

pytestmark = pytest.mark.django_db(transaction=True)


def compared(request):
    return EvidenceRequest.objects.get(pk=request.pk).view_pair


def test_the_worker_screens_a_real_second_view_compares_it_and_the_review_resumes(celery_worker, product, reviewer):
    first, second = synthetic.jpeg(synthetic.photo("motorcycle")), synthetic.jpeg(synthetic.photo("motorcycle_right"))
    application = claimed_by(reviewer, product, evidence=[first])
    request = answer(ask(application, reviewer), second)

    pair = wait_for(lambda: compared(request), timeout=120)

    assert pair["verdict"] == ViewPairVerdict.CONSISTENT_3D
    application = RefundApplication.objects.get(pk=application.pk)
    assert application.state == ApplicationState.IN_REVIEW and application.every_evidence_screened()
    assert application.review_due_at is not None and application.claimed_by == reviewer
    assert not Finding.objects.filter(code=FindingCode.SECOND_VIEW_INCONSISTENT).exists()
    assert AuditEvent.objects.filter(application=application, action="evidence_request_compare").count() == 1


def test_the_worker_sends_a_second_view_generated_from_a_painted_edit_to_the_reviewer_as_a_finding(
    celery_worker, product, reviewer
):
    pair = viewpair_scenes.generated_view(23)
    application = claimed_by(reviewer, product, evidence=[pair.first])
    assert application.risk_level == RiskLevel.CLEAN
    request = answer(ask(application, reviewer), pair.second)

    found = wait_for(lambda: compared(request), timeout=120)

    assert found["verdict"] == ViewPairVerdict.FLAT
    wait_for(lambda: RefundApplication.objects.get(pk=application.pk).risk_level == RiskLevel.SUSPICIOUS)
    finding = Finding.objects.get(code=FindingCode.SECOND_VIEW_INCONSISTENT)
    assert finding.result.evidence_id == EvidenceRequest.objects.get(pk=request.pk).answer_id
