"""Measurements of the two-view check (screening.core.viewpair) on pairs it was not tuned on.

Usage: .venv/bin/python bench/viewpair.py [--half holdout|tuning] [--pairs N] [--jobs N] [--json FILE]

Builds pairs deterministically from seeds (bench/viewpair_scenes.py): a rendered item seen
from two viewpoints 12-30° apart (and, to show the limit, 4-8° apart), the damaged first
view printed and photographed again, a second view generated from the undamaged first by a
homography with 0-3 px of smooth jitter (and, to show the limit, 3-8 px), and unrelated
photos; plus scikit-image's bundled stereo pair of a real motorcycle (two photographs, the
outside measurement). Prints, per class, the verdicts, the damage rule's agreement and the
spread of the numbers the thresholds cut (matches, share off the homography, parallax).

The tuning half (seeds from 1000) chose the thresholds in screening/core/viewpair.py; the
hold-out half (seeds from 2000, the default) is only reported (docs/screening.md, "Two views").
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import synthetic, viewpair_scenes  # noqa: E402
from screening.core.viewpair import compare_views  # noqa: E402

HALVES = {"tuning": 1000, "holdout": 2000}
CLASSES = {
    "item": lambda seed: viewpair_scenes.item_views(seed),
    "item, 4-8°": lambda seed: viewpair_scenes.item_views(seed, turn_degrees=(4.0, 8.0)),
    "reprinted": viewpair_scenes.reprinted,
    "generated": viewpair_scenes.generated_view,
    "generated, 3-8 px jitter": lambda seed: viewpair_scenes.generated_view(seed, jitter_px=(3.0, 8.0)),
    "unrelated": viewpair_scenes.unrelated,
}
EXPECTED = {
    "item": "consistent_3d",
    "item, 4-8°": "consistent_3d",
    "reprinted": "flat",
    "generated": "flat",
    "generated, 3-8 px jitter": "flat",
    "unrelated": "unrelated",
    "motorcycle (real stereo pair)": "consistent_3d",
}


def _measure(job: tuple[str, int]) -> dict:
    import cv2

    cv2.setNumThreads(1)
    kind, seed = job
    if kind == "motorcycle (real stereo pair)":
        left, right = synthetic.photo("motorcycle"), synthetic.photo("motorcycle_right")
        first, second, box, truth = synthetic.jpeg(left), synthetic.jpeg(right), None, None
    else:
        pair = CLASSES[kind](seed)
        first, second, box, truth = pair.first, pair.second, pair.damage_box, pair.damage_in_both
    result = compare_views(first, second, damage_box=box)
    return {"kind": kind, "seed": seed, "truth_damage": truth, **result.as_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", choices=sorted(HALVES), default="holdout")
    parser.add_argument("--pairs", type=int, default=20, help="pairs per class")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", help="write every result to this file")
    args = parser.parse_args()
    start = HALVES[args.half]
    jobs = [(kind, start + i) for kind in CLASSES for i in range(args.pairs)]
    jobs.append(("motorcycle (real stereo pair)", 0))
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        rows = pool.map(_measure, jobs, chunksize=1)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    print(f"half: {args.half} (seeds {start}-{start + args.pairs - 1})")
    for kind, items in by_kind.items():
        verdicts = Counter(r["verdict"] for r in items)
        right = verdicts[EXPECTED[kind]]
        judged = [r for r in items if r["truth_damage"] is not None and r["damage_in_both"] is not None]
        damage = sum(r["damage_in_both"] == r["truth_damage"] for r in judged)
        matches = [r["matches"] for r in items]
        off = [1 - r["homography_inlier_share"] for r in items if r["verdict"] != "unrelated"]
        parallax = [r["parallax_px"] for r in items if r["verdict"] != "unrelated"]
        print(
            f"{kind:30s} {right}/{len(items)} {EXPECTED[kind]:13s} {dict(verdicts)}"
            f" | damage {damage}/{len(judged)} judged of {sum(r['truth_damage'] is not None for r in items)}"
            f" | matches {min(matches)}-{max(matches)}"
            + (
                f" | off-H {min(off):.0%}-{max(off):.0%} | parallax {min(parallax):.1f}-{max(parallax):.1f} px"
                if off
                else ""
            )
        )


if __name__ == "__main__":
    main()
