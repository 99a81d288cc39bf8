"""Cases of source 3 (bench/camera_path.py) built one product at a time, for tests that pin a tuning-half file."""

from __future__ import annotations

from pathlib import Path

from bench import camera_path
from bench.accuracy import union_iou
from screening.core import ScreeningReport, analyse_reference, screen_evidence


def screened_forgery(directory: Path, seed: int, index: int, name: str) -> tuple[ScreeningReport, list]:
    """Return (report, true boxes) of the case `name` of product `index` of the tuning seed `seed`,
    built into `directory` and screened against its catalogue photo alone."""
    camera_path.write_reference((seed, index, str(directory), camera_path.PRODUCTS_PER_HALF))
    cases = camera_path._task((seed, index, str(directory), camera_path.PRODUCTS_PER_HALF))
    case = next(c for c in cases if c.get("name") == name)
    reference = analyse_reference(Path(case["true_reference"]).read_bytes())
    report = screen_evidence(Path(case["evidence"]).read_bytes(), references=[reference], with_artifacts=False)
    return report, case["boxes"]


def derived_box_iou(report: ScreeningReport, truth: list) -> float:
    """Return the union IoU of the report's edit boxes with the true boxes, once the evidence
    is judged derived and boxed at all."""
    assert report.verdict == "derived_from_reference"
    edit = report.finding("local_edit")
    assert edit is not None
    return union_iou(truth, list(edit.regions), report.width, report.height)
