"""The command line keeps no reuse index: it screens without the content hash, the perceptual
hash and the reuse features, and every other part of the report stays as it was."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image
from skimage import data as photographs

from screening.core import analyse_reference, cli, screen_evidence


def _jpeg(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _forgery() -> np.ndarray:
    img = photographs.astronaut().copy()
    cv2.ellipse(img, (300, 200), (40, 30), 20.0, 0, 360, (110, 70, 30), -1, cv2.LINE_AA)
    return img


def test_a_report_without_reuse_keys_says_what_the_full_report_says():
    reference = analyse_reference(_jpeg(photographs.astronaut()))
    data = _jpeg(_forgery())
    full = screen_evidence(data, references=[reference], with_artifacts=False)
    lean = screen_evidence(data, references=[reference], with_artifacts=False, with_reuse=False)
    assert full.verdict == "derived_from_reference"
    assert (lean.verdict, lean.risk, lean.reference_index) == (full.verdict, full.risk, full.reference_index)
    assert [f.as_json() for f in lean.findings] == [f.as_json() for f in full.findings]
    assert (lean.width, lean.height) == (full.width, full.height)


def test_a_report_without_reuse_keys_leaves_them_out():
    reference = analyse_reference(_jpeg(photographs.astronaut()))
    data = _jpeg(photographs.coffee())
    full = screen_evidence(data, references=[reference])
    lean = screen_evidence(data, references=[reference], with_reuse=False)
    assert full.sha256 and full.phash is not None and full.reuse is not None
    assert (lean.sha256, lean.phash, lean.reuse) == ("", None, None)


def test_the_command_line_screens_without_reuse_keys(monkeypatch, tmp_path):
    asked: list[bool] = []
    screen = cli.screen_evidence

    def recorded(*args, **kwargs):
        asked.append(kwargs.get("with_reuse", True))
        return screen(*args, **kwargs)

    monkeypatch.setattr(cli, "screen_evidence", recorded)
    reference, evidence = tmp_path / "reference.jpg", tmp_path / "evidence.jpg"
    reference.write_bytes(_jpeg(photographs.astronaut()))
    evidence.write_bytes(_jpeg(_forgery()))
    out = io.StringIO()
    assert cli.main(["check", "--reference", str(reference), str(evidence)], out=out) == 0
    assert asked == [False]
    assert list(cli.iter_lines(out.getvalue()))[0]["verdict"] == "derived_from_reference"
