"""The derived-or-photographed decision: several signals, and the one that decided is named."""

from __future__ import annotations

import numpy as np
import pytest

from screening import synthetic
from screening.core import analyse_reference, screen_evidence
from screening.core.localise import _scene_share

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
    assert set(signals) == {"detail", "light", "geometry", "scene", "detail_loss"}
    assert signals["scene"] == 0.0 and signals["detail"] > 0.5


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
