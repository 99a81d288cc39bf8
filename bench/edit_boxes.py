"""Edit-box IoU on the forgeries of a kept evaluation, re-screened in this process.

Usage: .venv/bin/python bench/edit_boxes.py CASES.json [--without-fine] [--classes forgery,evasive-crop,...]

CASES.json is the `--json` output of bench/accuracy.py (or a list of cases in the same
shape: evidence, references, boxes, cls, optionally kind). Screening the whole half
again costs an hour on one core; the local-edit boxes only need the derived cases.
`--without-fine` screens as the engine did before the finer plane's thin-damage pass.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.accuracy import union_iou  # noqa: E402
from screening.core import analyse_reference, screen_evidence  # noqa: E402
from screening.core import screen as screen_module  # noqa: E402

KINDS = ("scratch", "scratches", "crack", "tear", "stain", "dent", "water", "burn", "missing")


def _kind_from_name(path: str) -> str | None:
    """Return the damage kind a file name ends with (`forgery-knit-7000-2-0-scratch.jpg`), if any."""
    last = Path(path).stem.rsplit("-", 1)[-1]
    return last if last in KINDS else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases")
    parser.add_argument("--without-fine", action="store_true")
    parser.add_argument("--classes", default="forgery,evasive-crop,evasive-screen,evasive-recompress,copy")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if args.without_fine:
        screen_module.thin_edits = lambda *a, **k: None
    wanted = set(args.classes.split(","))
    cases = [c for c in json.loads(Path(args.cases).read_text()) if c.get("cls", "forgery") in wanted]
    analyses: dict[str, object] = {}
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, IoU >= 0.5, with boxes
    started = time.perf_counter()
    for c in cases:
        refs = []
        for path in c["references"]:
            if path not in analyses:
                analyses[path] = analyse_reference(Path(path).read_bytes())
            refs.append(analyses[path])
        report = screen_evidence(Path(c["evidence"]).read_bytes(), references=refs, with_artifacts=False)
        regions = [r for f in report.findings if f.code == "local_edit" for r in f.regions]
        with Image.open(c["evidence"]) as im:
            width, height = im.size
        truth = [tuple(b) for b in c.get("boxes", [])]
        kind = c.get("kind") or _kind_from_name(c["evidence"])
        key = c.get("cls", "forgery") + (f"/{kind}" if kind else "")
        row = rows[key]
        row[0] += 1
        row[1] += bool(truth) and union_iou(truth, regions, width, height) >= 0.5
        row[2] += bool(regions)
    for key in sorted(rows):
        n, ok, boxed = rows[key]
        print(f"{key}: IoU >= 0.5 {ok}/{n}; with boxes {boxed}/{n}")
    print(f"({len(cases)} cases in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
