"""Cases of source 3 (bench/camera_path.py) built one product at a time, for tests that pin a tuning-half file."""

from __future__ import annotations

from pathlib import Path

from bench import camera_path
from bench.accuracy import union_iou
from screening.core import ScreeningReport, analyse_reference, screen_evidence


def _screened(directory: Path, seed: int, index: int, name: str) -> tuple[ScreeningReport, dict]:
    job = (seed, index, str(directory), camera_path.PRODUCTS_PER_HALF)
    camera_path.write_reference(job)
    case = next(c for c in camera_path._task(job) if c.get("name") == name)
    own = directory / f"ref-{camera_path.make_product(seed, index).name}.jpg"
    reference = analyse_reference(own.read_bytes())
    report = screen_evidence(Path(case["evidence"]).read_bytes(), references=[reference], with_artifacts=False)
    return report, case


def screened_case(directory: Path, seed: int, index: int, name: str) -> ScreeningReport:
    """Return the report of the case `name` of product `index` of the tuning seed `seed`, built
    into `directory` and screened against that product's catalogue photo alone."""
    return _screened(directory, seed, index, name)[0]


def screened_forgery(directory: Path, seed: int, index: int, name: str) -> tuple[ScreeningReport, list]:
    """Return (report, true boxes) of the forgery `name` (see screened_case)."""
    report, case = _screened(directory, seed, index, name)
    return report, case["boxes"]


def derived_box_iou(report: ScreeningReport, truth: list) -> float:
    """Return the union IoU of the report's edit boxes with the true boxes, once the evidence
    is judged derived and boxed at all."""
    assert report.verdict == "derived_from_reference"
    edit = report.finding("local_edit")
    assert edit is not None
    return union_iou(truth, list(edit.regions), report.width, report.height)
