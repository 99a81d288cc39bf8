"""A photographed screen is recognised by its moiré; a photographed print is not mistaken for one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from screening import synthetic
from screening.core import analyse_reference, screen_evidence
from screening.core.align import EVIDENCE_FEATURES, extract_features, match_features
from screening.core.decode import decode_image
from screening.core.display import display_moire
from screening.core.localise import compare
from screening.core.screen import _DISPLAY_LIMIT

TEXTURES = [synthetic.photo(name) for name in ("brick", "grass", "gravel")]


@pytest.fixture(scope="module")
def catalogue():
    img = synthetic.photo("chelsea")[40:360, 60:520]
    return img, analyse_reference(synthetic.jpeg(img, 92))


@pytest.mark.parametrize("seed", [1700, 1703, 1704])
def test_a_photographed_screen_showing_a_forgery_is_derived_by_the_display(catalogue, seed):
    img, reference = catalogue
    rng = np.random.default_rng(seed)
    edited, mask = synthetic.paint_damage(img, rng)
    data, _, _ = synthetic.screen_photo(edited, mask, rng)
    report = screen_evidence(data, references=[reference], with_artifacts=False)
    derived = report.finding("derived_from_reference")
    assert report.verdict == "derived_from_reference" and derived is not None
    assert derived.params["decided_by"] == "display" and derived.params["signals"]["display"] >= 1.0


@pytest.mark.parametrize("seed", [1700, 1701, 1702])
def test_a_photographed_printed_card_shows_no_display_moire(catalogue, seed):
    img, reference = catalogue
    data, _ = synthetic.product_photo(img, np.random.default_rng(seed), TEXTURES, kind="card")
    report = screen_evidence(data, references=[reference], with_artifacts=False)
    assert report.verdict == "consistent" and report.finding("derived_from_reference") is None
    decoded = decode_image(data)
    gray = cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY)
    alignment = match_features(reference.features, extract_features(gray, limit=EVIDENCE_FEATURES))
    assert alignment is not None
    comparison = compare(decoded.rgb, reference.rgb, alignment.homography)
    assert comparison.evidence_rgb is not None and comparison.mapped_rgb is not None
    # Well below the limit, not just under it: the margin is what keeps prints safe.
    assert display_moire(comparison.evidence_rgb, comparison.mapped_rgb, comparison.valid) < 0.6 * _DISPLAY_LIMIT


def test_too_small_an_overlap_says_nothing():
    plane = np.zeros((200, 200, 3), np.float32)
    valid = np.zeros((200, 200), bool)
    valid[:90, :90] = True
    assert np.isnan(display_moire(plane, plane, valid))
