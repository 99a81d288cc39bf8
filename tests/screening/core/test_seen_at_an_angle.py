"""A flat product lying on a table, seen at an angle under even light, resembles its catalogue photo but is no copy."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench import camera_path
from screening.core import FindingCode, analyse_reference, screen_evidence
from screening.core.localise import Comparison
from screening.core.screen import _LIGHT_UNIT, _ON_A_TABLE_FORESHORTENING, derived_decision


def _comparison(*, surround: float, light_variation: float = 0.2 * _LIGHT_UNIT) -> Comparison:
    """A comparison every copy signal and the agreement pass, under light too even to tell a table by."""
    zeros = np.zeros((480, 640), np.float32)
    return Comparison(
        coverage=1.0 - surround, explained=0.95, detail_corr=0.95, residual_median=2.0, blur_sigma=0.0,
        light_variation=light_variation, residual=zeros, edit_residual=zeros, valid=zeros > -1,
        evidence_gray=zeros, mapped_gray=zeros, nonrigid_px=0.1, scene=0.0, surround=surround,
    )  # fmt: skip


def test_a_foreshortened_product_filling_a_seventh_of_the_picture_resembles_its_reference_and_is_no_copy():
    decision = derived_decision(_comparison(surround=0.86), 480 * 640, foreshortened=0.13)
    assert decision.score < 0.5 and decision.decided_by == "on_a_table"
    assert 0.5 <= decision.resembles <= 0.75
    assert decision.signals["foreshortened"] == 0.13


@pytest.mark.parametrize(
    ("surround", "foreshortened"),
    [
        (0.55, 0.0154),  # the most foreshortened framed copy of source 3's tuning seeds 8900 and 9000
        (0.0, 0.2),  # a copy in perspective that fills its picture
        (0.86, _ON_A_TABLE_FORESHORTENING / 2),
    ],
)
def test_a_framed_copy_or_a_copy_in_perspective_alone_stays_derived(surround, foreshortened):
    decision = derived_decision(_comparison(surround=surround), 480 * 640, foreshortened=foreshortened)
    assert decision.score >= 0.5 and decision.decided_by == "all_agree" and decision.resembles == 0.0


def test_a_screen_photographed_at_an_angle_too_dark_to_read_the_light_stays_derived():
    """Source 2's tuning seed 6900: a deep-field forgery shown on a screen, foreshortened 0.121."""
    comparison = _comparison(surround=0.65, light_variation=float("nan"))
    decision = derived_decision(comparison, 480 * 640, foreshortened=0.121)
    assert decision.score >= 0.5 and decision.decided_by == "all_agree"


def test_a_woven_label_photographed_small_and_tilted_on_a_cloth_is_not_called_a_copy():
    """Source 3's tuning case rephoto-woven-9000-22-0, built as bench/camera_path.py builds it: tilted 24 degrees,
    filling 14 % of the picture, its light band too even and its footprint too small to read the geometry."""
    seed, index = 9000, 22
    product = camera_path.make_product(seed, index)
    rng = np.random.default_rng([seed, index, 2])
    rng.choice([i for i in range(camera_path.PRODUCTS_PER_HALF) if i != index])  # the builder's unrelated pick
    data, _, _, _ = camera_path.photograph(product, rng, "rephoto")
    buf = io.BytesIO()
    Image.fromarray(product.image).save(buf, "JPEG", quality=92)
    report = screen_evidence(data, references=[analyse_reference(buf.getvalue())], with_artifacts=False)
    assert report.verdict == "consistent" and report.finding(FindingCode.DERIVED_FROM_REFERENCE) is None
    resembles = report.finding(FindingCode.RESEMBLES_REFERENCE)
    assert resembles is not None and resembles.params["decided_by"] == "on_a_table"
    assert resembles.params["signals"]["foreshortened"] > _ON_A_TABLE_FORESHORTENING
