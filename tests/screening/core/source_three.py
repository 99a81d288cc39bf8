"""Cases of source 3 (bench/camera_path.py) built one product at a time, for tests that pin a tuning-half file."""

from __future__ import annotations

from pathlib import Path

from bench import camera_path
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
