"""Derived-from-reference detection on the dev set (see devset.py for how it is made)."""

from __future__ import annotations

import pickle

import numpy as np

from screening.core import ReferenceAnalysis, analyse_reference, screen_evidence


def _derived(dev_set, kinds):
    samples = dev_set.of_kind(*kinds)
    flagged = [s for s in samples if dev_set.reports[s.name].verdict == "derived_from_reference"]
    return samples, flagged


def test_every_derived_copy_is_flagged_with_the_right_reference(dev_set):
    samples, flagged = _derived(dev_set, ("forgery", "reuse"))
    missed = sorted({s.name for s in samples} - {s.name for s in flagged})
    assert len(flagged) / len(samples) >= 0.99, f"missed: {missed}"
    for s in flagged:
        report = dev_set.reports[s.name]
        assert s.candidates[report.reference_index] == s.reference, s.name


def test_evasive_forgeries_are_flagged_too(dev_set):
    for evasion in ("perspective", "noise", "blur", "frame"):
        samples = [s for s in dev_set.of_kind("forgery") if s.params.get("evasive") == evasion]
        assert samples, evasion
        assert all(dev_set.reports[s.name].verdict == "derived_from_reference" for s in samples), evasion


def test_at_most_one_percent_of_genuine_photos_is_flagged(dev_set):
    samples, flagged = _derived(dev_set, ("rephoto", "unrelated", "stereo"))
    assert len(flagged) <= 0.01 * len(samples), [s.name for s in flagged]


def test_a_reprinted_and_rephotographed_reference_stays_consistent(dev_set):
    rephotos = dev_set.of_kind("rephoto")
    assert len(rephotos) >= 40
    assert all(dev_set.reports[s.name].verdict == "consistent" for s in rephotos)
    assert all(dev_set.reports[s.name].reference_index is None for s in rephotos)


def test_the_other_view_of_a_stereo_pair_is_not_derived(dev_set):
    (stereo,) = dev_set.of_kind("stereo")
    assert dev_set.reports[stereo.name].verdict == "consistent"


def test_derived_reports_carry_a_high_risk_and_a_reviewer_heat_map(dev_set):
    for s in dev_set.of_kind("forgery"):
        report = dev_set.reports[s.name]
        if report.verdict != "derived_from_reference":
            continue
        assert 0.5 <= report.risk <= 1.0
        derived = report.finding("derived_from_reference")
        assert 0.5 <= derived.score <= 1.0
        assert derived.params["reference_index"] == report.reference_index
        artifact = (report.finding("local_edit") or derived).artifact
        assert artifact is not None and artifact.startswith(b"\x89PNG")


def test_the_reference_itself_is_derived_with_full_score(dev_set):
    data = dev_set.references[0][2]
    report = screen_evidence(data, references=dev_set.analyses)
    assert report.verdict == "derived_from_reference" and report.reference_index == 0
    assert report.finding("local_edit") is None


def test_no_references_means_nothing_to_be_derived_from(dev_set):
    report = screen_evidence(dev_set.samples[0].data, references=[])
    assert report.verdict == "consistent" and report.reference_index is None


def test_reference_analysis_pickles_for_the_cache(dev_set):
    analysis = dev_set.analyses[1]
    copy = pickle.loads(pickle.dumps(analysis))
    assert isinstance(copy, ReferenceAnalysis)
    assert copy.sha256 == analysis.sha256 and np.array_equal(copy.rgb, analysis.rgb)
    forgery = next(s for s in dev_set.of_kind("forgery") if s.reference == 1)
    report = screen_evidence(forgery.data, references=[copy])
    assert report.verdict == "derived_from_reference"


def test_analyse_reference_refuses_an_unreadable_reference():
    import pytest

    from screening.core import UnreadableImage

    with pytest.raises(UnreadableImage):
        analyse_reference(b"<html></html>")
