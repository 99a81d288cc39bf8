"""A copy must agree with its reference over most of its footprint; a flat product photographed anew only resembles it."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic
from screening.core import FORGERY_CODES, Finding, FindingCode, analyse_reference, screen_evidence
from screening.core.localise import Comparison
from screening.core.screen import _AGREEMENT_LIMIT, derived_decision
from screening.core.verdict import RISK_WEIGHTS, combine

TEXTURES = [synthetic.photo(name) for name in ("brick", "grass", "gravel")]


@pytest.fixture(scope="module")
def page():
    """A catalogue photo with fine detail everywhere (a printed page), the kind whose card the copy signals mistook."""
    img = synthetic.photo("page")
    return img, analyse_reference(synthetic.jpeg(img, 92))


def _card(img: np.ndarray, seed: int, sagitta: float, k1: float, glare: float) -> bytes:
    """A card of `img` bowed by `sagitta`, tilted 3-10 degrees, with barrel `k1` and a specular band, on a plain light table."""
    data, cam = synthetic.flat_product_photo(img, np.random.default_rng(seed), sagitta=sagitta, k1=k1, glare=glare)
    assert 3.0 <= cam["tilt_deg"] <= 10.0 and cam["kind"] == "flat"
    return data


# A card near a copy by its light, geometry, scene and fine detail (their sum within 15 %
# of the limit), though one homography explains under half of its footprint pixel for
# pixel. Engine 2026.11.5 said nothing about it; a person should compare.
@pytest.mark.parametrize(("seed", "sagitta", "k1", "glare"), [(26, 0.03, 0.05, 0.3)])
def test_a_bowed_card_on_a_plain_table_resembles_its_catalogue_photo_but_is_no_copy(page, seed, sagitta, k1, glare):
    img, reference = page
    report = screen_evidence(_card(img, seed, sagitta, k1, glare), references=[reference], with_artifacts=False)
    assert report.verdict == "consistent" and report.finding(FindingCode.DERIVED_FROM_REFERENCE) is None
    assert report.reference_index is None
    resembles = report.finding(FindingCode.RESEMBLES_REFERENCE)
    assert resembles is not None and 0.5 <= resembles.score < 0.8
    assert resembles.params["reference_index"] == 0
    assert resembles.params["explained"] < _AGREEMENT_LIMIT
    assert resembles.params["decided_by"] not in ("all_agree", "display")
    assert {"light", "geometry", "scene", "detail_loss", "agreement"} <= set(resembles.params["signals"])


def test_a_plain_copy_is_still_derived(page):
    img, reference = page
    report = screen_evidence(synthetic.jpeg(img[20:-30, 15:-10], 80), references=[reference], with_artifacts=False)
    assert report.verdict == "derived_from_reference" and report.reference_index == 0
    assert report.finding(FindingCode.RESEMBLES_REFERENCE) is None


@pytest.mark.parametrize("seed", [1, 2])
def test_a_painted_forgery_is_still_derived_with_its_edit(page, seed):
    img, reference = page
    edited, _ = synthetic.paint_damage(img, np.random.default_rng(seed))
    report = screen_evidence(synthetic.jpeg(edited, 85), references=[reference], with_artifacts=False)
    assert report.verdict == "derived_from_reference" and report.reference_index == 0
    assert report.finding(FindingCode.LOCAL_EDIT) is not None
    assert report.finding(FindingCode.RESEMBLES_REFERENCE) is None


@pytest.mark.parametrize("seed", [4, 5])
def test_a_product_photographed_anew_in_a_scene_does_not_even_resemble_a_copy(page, seed):
    img, reference = page
    data, _ = synthetic.product_photo(img, np.random.default_rng(seed), TEXTURES, kind="object")
    report = screen_evidence(data, references=[reference], with_artifacts=False)
    assert report.verdict == "consistent"
    assert not {FindingCode.DERIVED_FROM_REFERENCE, FindingCode.RESEMBLES_REFERENCE} & set(report.codes)


def _comparison(*, explained: float, light_variation: float) -> Comparison:
    zeros = np.zeros((480, 640), np.float32)
    residual = zeros + 30.0 * (explained < 0.5)  # unexplained everywhere, even to a pixel
    return Comparison(
        coverage=1.0, explained=explained, detail_corr=0.95, residual_median=2.0, blur_sigma=0.0,
        light_variation=light_variation, residual=residual, edit_residual=residual,
        valid=zeros > -1, evidence_gray=zeros, mapped_gray=zeros, nonrigid_px=0.1, scene=0.0,
    )  # fmt: skip


def test_copy_signals_that_hold_over_too_little_agreement_make_a_resemblance_not_a_copy():
    decision = derived_decision(_comparison(explained=0.3, light_variation=0.01), 480 * 640)
    assert decision.score < 0.5 and decision.decided_by == "agreement"
    assert 0.5 <= decision.resembles < 0.75
    assert decision.signals["agreement"] < _AGREEMENT_LIMIT


def test_the_same_agreement_on_a_clearly_new_photograph_is_no_resemblance():
    # Light spread four times a copy's: far past the limit, nothing ambiguous is left.
    decision = derived_decision(_comparison(explained=0.3, light_variation=0.2), 480 * 640)
    assert decision.score < 0.5 and decision.resembles == 0.0


def test_a_copy_that_agrees_over_most_of_its_footprint_is_derived_without_a_resemblance():
    decision = derived_decision(_comparison(explained=0.95, light_variation=0.01), 480 * 640)
    assert decision.score >= 0.5 and decision.decided_by == "all_agree" and decision.resembles == 0.0


def test_a_resemblance_alone_is_consistent_and_no_forgery():
    assert FindingCode.RESEMBLES_REFERENCE not in FORGERY_CODES
    assert RISK_WEIGHTS[FindingCode.RESEMBLES_REFERENCE] < RISK_WEIGHTS[FindingCode.NO_CAMERA_METADATA]
    verdict, risk = combine([Finding(code="resembles_reference", score=0.7, detail="")])
    assert verdict == "consistent" and 0 < risk < 0.5
