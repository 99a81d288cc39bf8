"""Combining findings into a verdict and a risk."""

from screening.core import Finding
from screening.core.verdict import combine


def _f(code: str, score: float) -> Finding:
    return Finding(code=code, score=score, detail="")


def test_no_findings_is_consistent_with_zero_risk():
    assert combine([]) == ("consistent", 0.0)


def test_risk_is_a_noisy_or_of_weighted_scores():
    verdict, risk = combine([_f("derived_from_reference", 0.8), _f("local_edit", 0.5)])
    assert verdict == "derived_from_reference"
    assert risk == round(1 - (1 - 0.8) * (1 - 0.5), 4)


def test_the_weak_missing_metadata_finding_adds_little():
    assert combine([_f("no_camera_metadata", 0.1)])[1] == 0.05


def test_an_unreadable_file_is_never_clean():
    assert combine([_f("unreadable", 1.0)]) == ("unreadable", 1.0)


def test_risk_stays_within_bounds():
    findings = [_f(code, 1.0) for code in ("derived_from_reference", "aigc_label", "c2pa_ai_generated", "local_edit")]
    assert combine(findings)[1] == 1.0


def test_every_finding_code_has_a_risk_weight():
    from screening.core import FINDING_CODES
    from screening.core.verdict import RISK_WEIGHTS

    assert set(RISK_WEIGHTS) == set(FINDING_CODES)


def test_a_reuse_finding_combines_with_the_engine_findings_by_the_same_rule():
    from screening.core import combined_risk

    assert combined_risk([_f("near_duplicate", 0.5), _f("no_camera_metadata", 0.1)]) == round(1 - 0.5 * 0.95, 4)


def test_damaged_metadata_alone_is_enough_to_count_under_the_default_threshold():
    assert combine([_f("malformed_metadata", 0.6)])[1] >= 0.45
