"""The derived-or-photographed decision: several signals, and the one that decided is named."""

from __future__ import annotations

import numpy as np
import pytest

from bench import synthetic
from screening.core import analyse_reference, screen_evidence
from screening.core.localise import Comparison, _scene_share
from screening.core.screen import derived_decision

TEXTURES = [synthetic.photo(name) for name in ("brick", "grass", "gravel")]


@pytest.fixture(scope="module")
def catalogue():
    img = synthetic.photo("chelsea")[40:360, 60:520]
    data = synthetic.jpeg(img, 92)
    return img, data, analyse_reference(data)


def test_a_copy_is_derived_with_every_signal_agreeing(catalogue):
    img, _, reference = catalogue
    report = screen_evidence(synthetic.jpeg(img[10:-10, 20:-5], 80), references=[reference])
    derived = report.finding("derived_from_reference")
    assert derived is not None and derived.params["decided_by"] == "all_agree"
    signals = derived.params["signals"]
    assert set(signals) == {"detail", "light", "geometry", "scene", "detail_loss", "agreement", "surround"}
    assert signals["scene"] == 0.0 and signals["detail"] > 0.5 and signals["agreement"] > 0.9
    assert signals["surround"] < 0.05


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_printed_card_photographed_on_a_table_is_not_derived(catalogue, seed):
    img, _, reference = catalogue
    data, _ = synthetic.product_photo(img, np.random.default_rng(seed), TEXTURES, kind="card")
    report = screen_evidence(data, references=[reference])
    assert report.verdict == "consistent" and report.finding("local_edit") is None


@pytest.mark.parametrize("seed", [4, 5])
def test_the_product_photographed_anew_is_not_derived(catalogue, seed):
    img, _, reference = catalogue
    data, _ = synthetic.product_photo(img, np.random.default_rng(seed), TEXTURES, kind="object")
    assert screen_evidence(data, references=[reference]).verdict == "consistent"


def test_scene_around_the_reference_counts_and_flat_app_bars_do_not():
    rng = np.random.default_rng(0)
    evidence = np.full((320, 320, 3), 245, np.uint8)
    footprint = np.zeros((320, 320), np.uint8)
    footprint[64:256, 64:256] = 1
    assert _scene_share(evidence, footprint) == 0.0  # a flat frame around the picture
    evidence[:] = rng.integers(0, 255, evidence.shape, dtype=np.uint8)  # a textured table
    assert _scene_share(evidence, footprint) > 0.5
    footprint[:] = 1
    assert _scene_share(evidence, footprint) == 0.0  # the reference fills the picture


def _comparison(*, detail_corr: float, light_variation: float) -> Comparison:
    zeros = np.zeros((480, 640), np.float32)
    return Comparison(
        coverage=1.0, explained=0.95, detail_corr=detail_corr, residual_median=2.0, blur_sigma=0.0,
        light_variation=light_variation, residual=zeros, edit_residual=zeros, valid=zeros > -1,
        evidence_gray=zeros, mapped_gray=zeros, nonrigid_px=0.1, scene=0.0,
    )  # fmt: skip


def test_a_smooth_copy_whose_fine_detail_cannot_be_measured_is_derived_when_its_light_is_one_map():
    decision = derived_decision(_comparison(detail_corr=float("nan"), light_variation=0.005), 480 * 640)
    assert decision.score >= 0.5 and decision.decided_by == "all_agree"


def test_without_fine_detail_light_that_varies_or_cannot_be_read_does_not_vouch_for_a_copy():
    varied = derived_decision(_comparison(detail_corr=float("nan"), light_variation=0.06), 480 * 640)
    unread = derived_decision(_comparison(detail_corr=float("nan"), light_variation=float("nan")), 480 * 640)
    assert varied.score < 0.5 and varied.decided_by == "detail"
    assert unread.score < 0.5 and unread.decided_by == "detail"


def test_the_same_light_passes_when_the_fine_detail_agrees():
    decision = derived_decision(_comparison(detail_corr=0.97, light_variation=0.03), 480 * 640)
    assert decision.score >= 0.5


def test_a_smooth_picture_aligned_by_its_pixels_needs_light_closer_to_one_map():
    """Light of 0.9 units vouches for a copy the corners aligned, not for one the search placed."""
    comparison = _comparison(detail_corr=float("nan"), light_variation=0.045)
    assert derived_decision(comparison, 480 * 640).score >= 0.5
    by_pixels = derived_decision(comparison, 480 * 640, by_pixels=True)
    assert by_pixels.score < 0.5 and by_pixels.decided_by == "detail"
    even_light = _comparison(detail_corr=float("nan"), light_variation=0.01)
    assert derived_decision(even_light, 480 * 640, by_pixels=True).score >= 0.5
