"""Evidence that only resembles a reference goes to people as suspicious, never as forged."""

import numpy as np
import pytest
from django.utils import translation

from bench import synthetic
from refunds import policy
from refunds.models import Policy
from refunds.states import RiskLevel
from screening.core import FindingCode
from tests.factories import make_product, screen, submit

pytestmark = pytest.mark.django_db

PAGE = synthetic.photo("page")
# A card of the catalogue photo, bowed by 3 % of its length, tilted, with barrel
# distortion and a specular band, on a plain light table: it resembles the catalogue
# photo, but one homography explains under half of it (tests/screening/core/test_resembles.py).
BOWED_CARD, _ = synthetic.flat_product_photo(PAGE, np.random.default_rng(26), sagitta=0.03, k1=0.05, glare=0.3)


def test_a_resemblance_alone_counts_as_suspicious_by_the_policy():
    views = [
        policy.FindingView(FindingCode.RESEMBLES_REFERENCE, 0.62, "resembles reference #0"),
        policy.FindingView(FindingCode.NO_CAMERA_METADATA, 0.3, "no camera metadata"),
    ]
    assessment = policy.assess(Policy(), views)
    assert assessment.level == RiskLevel.SUSPICIOUS
    assert 0 < assessment.score < 0.5 and "[resembles_reference]" in assessment.explanation


def test_a_bowed_card_of_the_catalogue_photo_goes_to_people_as_suspicious(merchant):
    product = make_product(merchant, reference=synthetic.jpeg(PAGE, 92))
    application = screen(submit(product, evidence=[BOWED_CARD]))
    assert application.risk_level == RiskLevel.SUSPICIOUS
    result = application.evidence.get().screening
    assert result.verdict == "consistent" and result.matched_reference is None
    finding = result.findings.get(code=FindingCode.RESEMBLES_REFERENCE)
    assert finding.score >= 0.5 and not result.findings.filter(code=FindingCode.DERIVED_FROM_REFERENCE).exists()
    with translation.override("zh-hans"):
        zh = finding.explanation
    with translation.override("en"):
        en = finding.explanation
    assert "相似" in zh and "人工比对" in zh
    assert en.startswith("The image resembles a reference image, but one alignment explains only")
