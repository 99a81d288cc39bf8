"""Readings of the display check on the material of bench/display_material.py, tile by tile.

Usage: .venv/bin/python bench/display_readings.py DIR [--old OLD_DISPLAY_PY]

For every case of DIR/cases.json not read yet, aligns the evidence with its reference as
screening does, and stores in DIR/readings.pkl: the derived decision's score (the
display check runs only below 0.5), each tile's peak, frequency and grid position on the
working and the finer plane (so that the statistic over tiles can be re-chosen without
reading again), and, with --old, the readings of another display.py (before/after).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screening.core import analyse_reference, display  # noqa: E402
from screening.core.align import EVIDENCE_FEATURES, extract_features, match_features  # noqa: E402
from screening.core.decode import FINE_LONG_SIDE, WORK_LONG_SIDE, decode_image  # noqa: E402
from screening.core.screen import compare_aligned, derived_decision  # noqa: E402


def read(case: dict, references: dict, old) -> dict:
    decoded = decode_image(Path(case["evidence"]).read_bytes())
    ref_path = case["reference"]
    if ref_path not in references:
        references[ref_path] = analyse_reference(Path(ref_path).read_bytes())
    reference = references[ref_path]
    gray = cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY)
    alignment = match_features(reference.features, extract_features(gray, limit=EVIDENCE_FEATURES))
    out: dict = dict(case)
    if alignment is None:
        out["aligned"] = False
        return out
    alignment, comparison = compare_aligned(decoded.rgb, reference.rgb, alignment)
    decision = derived_decision(comparison, gray.size)
    out.update(aligned=True, score=decision.score)
    if comparison.evidence_rgb is None or comparison.mapped_rgb is None:
        return out
    H, valid = alignment.homography, comparison.valid
    finer = decoded.finer_rgb()
    file_size = (decoded.width, decoded.height) if decoded.format == "jpeg" else None
    if old is not None:
        out["old_work"] = old.display_moire(comparison.evidence_rgb, comparison.mapped_rgb, valid)
        out["old_fine"] = float("nan") if finer is None else old.display_moire_fine(finer, reference.rgb, H, valid)
    # New: the working plane's chroma, without the file's own grids.
    ref_c = display._chroma(comparison.mapped_rgb * 255.0)
    band = display._BAND
    if file_size is not None:
        plane = (valid.shape[1], valid.shape[0])
        band = display._band(
            display._TILE, grid=display.file_grid(file_size, plane, WORK_LONG_SIDE, periods=display._CHROMA_PERIODS)
        )
    out["work_tiles"] = display.tile_peaks(display._chroma(comparison.evidence_rgb * 255.0) - ref_c, ref_c, valid, band)
    out["work"] = display.display_moire(comparison.evidence_rgb, comparison.mapped_rgb, valid, file_size=file_size)
    if finer is not None:
        ref_fine = reference.plane(FINE_LONG_SIDE)
        h, w = finer.shape[:2]
        rh, rw = ref_fine.shape[:2]
        sh, sw = reference.rgb.shape[:2]
        up = np.diag([w / valid.shape[1], h / valid.shape[0], 1.0]) @ H @ np.diag([sw / rw, sh / rh, 1.0])
        mapped = cv2.warpPerspective(ref_fine.astype(np.float32), up, (w, h), flags=cv2.INTER_LINEAR)
        inside = cv2.resize(valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        luma_e = np.log(finer.astype(np.float32) @ display._LUMA + 8.0)
        luma_r = np.log(mapped @ display._LUMA + 8.0)
        band = display._FINE_BAND
        if file_size is not None:
            band = band & display._band(
                display._TILE, grid=display.file_grid(file_size, (w, h), FINE_LONG_SIDE, periods=display._LUMA_PERIODS)
            )
        out["fine_tiles"] = display.tile_peaks(
            (luma_e - luma_r).astype(np.complex64), luma_r.astype(np.complex64), inside, band
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--old")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    old = None
    if args.old:
        spec = importlib.util.spec_from_file_location("screening.core.display_old", args.old)
        assert spec and spec.loader
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)
    directory = Path(args.directory)
    store = directory / "readings.pkl"
    readings = pickle.loads(store.read_bytes()) if store.exists() else {}
    references: dict = {}
    cases = json.loads((directory / "cases.json").read_text())
    started = time.perf_counter()
    for case in cases:
        if case["evidence"] in readings:
            continue
        readings[case["evidence"]] = read(case, references, old)
        if len(readings) % 20 == 0:
            store.write_bytes(pickle.dumps(readings))
    store.write_bytes(pickle.dumps(readings))
    print(f"{len(readings)} cases read ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
