"""The buyer's second photo against the first: a real item from two angles is consistent in three
dimensions and changes nothing; a flat picture seen twice goes to the reviewer as a finding in words
and raises the application's risk. Compared once, however often the task is delivered."""

import pytest
from django.utils import translation

from bench import synthetic, viewpair_scenes
from refunds import services
from refunds.models import AuditEvent, EvidenceRequest, RefundApplication
from refunds.states import RiskLevel
from screening.core import FindingCode, ViewPairVerdict
from screening.models import Finding
from tests.factories import screen
from tests.refunds.evidence_request_builders import answer, ask, claimed_by

pytestmark = pytest.mark.django_db

MOTORCYCLE = synthetic.jpeg(synthetic.photo("motorcycle")), synthetic.jpeg(synthetic.photo("motorcycle_right"))


def answered_and_screened(product, reviewer, first: bytes, second: bytes) -> EvidenceRequest:
    application = claimed_by(reviewer, product, evidence=[first])
    request = answer(ask(application, reviewer), second)
    screen(application)
    return EvidenceRequest.objects.get(pk=request.pk)


def test_a_real_item_from_two_angles_is_consistent_and_adds_no_finding(product, reviewer):
    request = answered_and_screened(product, reviewer, *MOTORCYCLE)
    before = RefundApplication.objects.get(pk=request.application_id)

    found = services.evidence_request_compare_views(request_id=request.public_id)

    assert found["verdict"] == ViewPairVerdict.CONSISTENT_3D
    request.refresh_from_db()
    assert request.view_pair == found and request.view_pair_at is not None
    assert not Finding.objects.filter(code=FindingCode.SECOND_VIEW_INCONSISTENT).exists()
    after = RefundApplication.objects.get(pk=request.application_id)
    assert (after.risk_level, after.risk_score) == (before.risk_level, before.risk_score)
    event = AuditEvent.objects.get(application=after, action="evidence_request_compare")
    assert event.payload["verdict"] == "consistent_3d" and event.actor_label == "second photo comparison"


def test_a_flat_print_photographed_again_is_a_finding_in_words_and_raises_the_risk(product, reviewer):
    pair = viewpair_scenes.reprinted(21)
    request = answered_and_screened(product, reviewer, pair.first, pair.second)
    assert RefundApplication.objects.get(pk=request.application_id).risk_level == RiskLevel.CLEAN

    found = services.evidence_request_compare_views(request_id=request.public_id)

    assert found["verdict"] == ViewPairVerdict.FLAT
    finding = Finding.objects.get(code=FindingCode.SECOND_VIEW_INCONSISTENT)
    assert finding.result.evidence == request.answer and finding.score >= 0.5
    with translation.override("en"):
        assert "flat picture" in finding.explanation
    with translation.override("zh-hans"):
        assert finding.explanation and "flat picture" not in finding.explanation
    application = RefundApplication.objects.get(pk=request.application_id)
    # Sent to people as suspicious, never judged forged on this alone.
    assert application.risk_level == RiskLevel.SUSPICIOUS
    assert "[second_view_inconsistent]" in application.risk_explanation
    assert AuditEvent.objects.filter(application=application, action="rescreen").exists()


def test_the_comparison_is_made_once_however_often_it_is_asked(product, reviewer):
    pair = viewpair_scenes.reprinted(22)
    request = answered_and_screened(product, reviewer, pair.first, pair.second)
    assert services.evidence_request_compare_views(request_id=request.public_id) is not None
    assert services.evidence_request_compare_views(request_id=request.public_id) is None
    assert Finding.objects.filter(code=FindingCode.SECOND_VIEW_INCONSISTENT).count() == 1
    assert AuditEvent.objects.filter(action="evidence_request_compare").count() == 1


def test_nothing_is_compared_before_the_second_photo_is_screened(product, reviewer):
    application = claimed_by(reviewer, product, evidence=[MOTORCYCLE[0]])
    request = answer(ask(application, reviewer), MOTORCYCLE[1])
    assert services.evidence_request_compare_views(request_id=request.public_id) is None
    assert EvidenceRequest.objects.get(pk=request.pk).view_pair is None
    assert services.evidence_request_compare_views(request_id="not-an-id") is None
