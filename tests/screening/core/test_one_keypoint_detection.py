"""The evidence's ORB keypoints are detected once: the alignment's first pass and the reuse
features ask for the same detection on the same plane."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as photographs

from screening.core import align, analyse_reference, decode_image, keypoints, screen, screen_evidence
from screening.core.keypoints import reuse_features


def _jpeg(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[int, ...], int, int]]:
    calls: list[tuple[tuple[int, ...], int, int]] = []
    detect = keypoints.detect_orb

    def counted(gray: np.ndarray, **kwargs: int) -> keypoints.OrbDetection:
        found = detect(gray, **kwargs)
        calls.append((gray.shape, found.limit, found.fast_threshold))
        return found

    for module in (align, keypoints, screen):
        monkeypatch.setattr(module, "detect_orb", counted)
    return calls


def test_it_detects_a_textured_photographs_keypoints_once(monkeypatch):
    reference = analyse_reference(_jpeg(photographs.astronaut()))
    data = _jpeg(photographs.coffee())
    calls = _counting(monkeypatch)
    report = screen_evidence(data, references=[reference])
    gray = cv2.cvtColor(decode_image(data).rgb, cv2.COLOR_RGB2GRAY)
    # (The half-size plane's detections, for the coarse alignment, are others.)
    on_the_plane = [c for c in calls if c[0] == gray.shape]
    assert on_the_plane == [(gray.shape, align.EVIDENCE_FEATURES, keypoints.ORB_FAST_THRESHOLD)]
    alone = reuse_features(gray)
    assert report.reuse is not None
    assert np.array_equal(report.reuse.points, alone.points)
    assert np.array_equal(report.reuse.descriptors, alone.descriptors)


def test_it_still_gives_the_reuse_features_of_the_first_pass_where_the_alignment_detects_again():
    # A dark, smooth picture: too few corners at the first pass's FAST threshold, so the
    # alignment detects again at a lower one; the reuse features stay the first pass's.
    dark = (photographs.moon()[::2, ::2] // 8).astype(np.uint8)
    img = np.stack([dark] * 3, axis=2)
    data = _jpeg(img)
    gray = cv2.cvtColor(decode_image(data).rgb, cv2.COLOR_RGB2GRAY)
    first = keypoints.detect_orb(gray, limit=align.EVIDENCE_FEATURES)
    assert len(first.keypoints) < 0.5 * align.EVIDENCE_FEATURES
    report = screen_evidence(data, references=[analyse_reference(_jpeg(photographs.astronaut()))])
    alone = reuse_features(gray)
    assert report.reuse is not None
    assert np.array_equal(report.reuse.points, alone.points)
    assert np.array_equal(report.reuse.descriptors, alone.descriptors)
    features = align.extract_features(gray, limit=align.EVIDENCE_FEATURES, detection=first)
    assert len(features.points) > len(first.keypoints)
