"""A flat product lying on a table, photographed mildly under uneven light, resembles its catalogue photo but is no copy."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench import camera_path
from screening.core import FindingCode, analyse_reference, screen_evidence
from screening.core.localise import Comparison
from screening.core.screen import _LIGHT_UNIT, _ON_A_TABLE_LIGHT_UNITS, _ON_A_TABLE_SURROUND, derived_decision


def _comparison(*, surround: float, light_units: float) -> Comparison:
    """A comparison every copy signal and the agreement pass: only where the reference lies and the light differ."""
    zeros = np.zeros((480, 640), np.float32)
    return Comparison(
        coverage=1.0 - surround, explained=0.95, detail_corr=0.95, residual_median=2.0, blur_sigma=0.0,
        light_variation=light_units * _LIGHT_UNIT, residual=zeros, edit_residual=zeros, valid=zeros > -1,
        evidence_gray=zeros, mapped_gray=zeros, nonrigid_px=0.1, scene=0.0, surround=surround,
    )  # fmt: skip


def test_a_relit_product_filling_a_fifth_of_the_picture_resembles_its_reference_and_is_no_copy():
    decision = derived_decision(_comparison(surround=0.8, light_units=0.9), 480 * 640)
    assert decision.score < 0.5 and decision.decided_by == "on_a_table"
    assert 0.5 <= decision.resembles <= 0.75
    assert decision.signals["surround"] == 0.8


@pytest.mark.parametrize(
    ("surround", "light_units"),
    [
        (0.0, 0.7),  # a heavily recompressed copy filling its picture: light spread as far as source 2's copies reach
        (0.74, 0.14),  # a screenshot frame content_box did not recognise, around a copy under one light
        (_ON_A_TABLE_SURROUND / 2, 2 * _ON_A_TABLE_LIGHT_UNITS),
        (2 * _ON_A_TABLE_SURROUND, _ON_A_TABLE_LIGHT_UNITS / 2),
    ],
)
def test_either_sign_alone_leaves_a_copy_derived(surround, light_units):
    decision = derived_decision(_comparison(surround=surround, light_units=light_units), 480 * 640)
    assert decision.score >= 0.5 and decision.decided_by == "all_agree" and decision.resembles == 0.0


@pytest.fixture(scope="module")
def picture():
    """A scikit-image picture as the catalogue photo, from source 3's tuning half (seed 7000, its first product)."""
    product = camera_path.make_product(camera_path.SEEDS["tuning"], 0)
    buf = io.BytesIO()
    Image.fromarray(product.image).save(buf, "JPEG", quality=92)
    return product, analyse_reference(buf.getvalue())


# Seeds of photographs that engine 2026.12.1 called transformed copies of their catalogue
# photo: a bowed card on a plain light table, tilted 3-10 degrees, barrel distortion and
# a reflection band, through the outside camera path (colour-demosaicing, OpenCV's lens
# model, Pillow's or OpenCV's JPEG).
@pytest.mark.parametrize("seed", [0, 2])
def test_a_bowed_flat_product_photographed_mildly_on_a_plain_table_is_not_called_a_copy(picture, seed):
    product, reference = picture
    data, _, _, params = camera_path.photograph(product, np.random.default_rng(seed), "flat-mild")
    report = screen_evidence(data, references=[reference], with_artifacts=False)
    assert report.verdict == "consistent" and report.finding(FindingCode.DERIVED_FROM_REFERENCE) is None
    resembles = report.finding(FindingCode.RESEMBLES_REFERENCE)
    assert resembles is not None and 0.5 <= resembles.score < 0.8
    assert resembles.params["decided_by"] == "on_a_table"
    assert "lying on a table" in resembles.detail and "person should compare" in resembles.detail
