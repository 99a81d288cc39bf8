"""Command line: `python -m screening check|batch|views` (contract: docs/design.md section 4).

`check` and `batch` print one JSON object per evidence file, one per line, in input order.
An unreadable evidence file is a result (verdict "unreadable"), not an error; bad
arguments (a missing reference, an unreadable manifest line, no evidence) print a
message on stderr and exit with 2 before any line is written.

`views FIRST SECOND [--damage-box X,Y,W,H]` prints one JSON object: the two-view check of
two photos of the same damage (screening.core.viewpair). A photo that cannot be decoded is a
result (verdict "unreadable"); a missing file or a malformed box exits with 2.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TextIO

from .decode import decode_image
from .errors import UnreadableImage
from .memory import keep_freed_memory
from .report import Finding, FindingCode, ScreeningReport, Verdict
from .screen import ReferenceAnalysis, analyse_decoded_reference, screen_evidence
from .viewpair import compare_views

__all__ = ["main", "report_line"]

EXIT_OK = 0
EXIT_BAD_ARGUMENTS = 2


class BadArguments(Exception):
    """Arguments that make the run meaningless; the CLI exits with 2."""


@dataclass(frozen=True)
class Job:
    evidence: str
    references: tuple[str, ...]


def report_line(path: str, report: ScreeningReport, reference_paths: Sequence[str]) -> dict[str, Any]:
    """Return the JSON object the contract prescribes for one evidence file."""
    reference = reference_paths[report.reference_index] if report.reference_index is not None else None
    return {
        "file": path,
        "verdict": report.verdict,
        "risk": report.risk,
        "findings": [f.as_json() for f in report.findings],
        "reference": reference,
        "ms": round(report.ms, 1),
    }


def _unreadable_line(path: str, reason: str, message: str, ms: float = 0.0) -> dict[str, Any]:
    finding = Finding(
        code=FindingCode.UNREADABLE,
        score=1.0,
        detail=f"The file cannot be screened: {message}.",
        params={"reason": reason},
    )
    return {
        "file": path,
        "verdict": Verdict.UNREADABLE,
        "risk": 1.0,
        "findings": [finding.as_json()],
        "reference": None,
        "ms": round(ms, 1),
    }


# --- worker side -----------------------------------------------------------------------

_reference_cache: dict[str, ReferenceAnalysis | UnreadableImage] = {}
# Path -> content hash, so a reference named on every manifest line is read once per worker.
_path_digest: dict[str, str] = {}


def _init_worker() -> None:
    # One OpenCV thread per process: the pool already spreads work over the cores, and
    # nested threads only contend for them.
    import cv2

    cv2.setNumThreads(1)
    # A process that screens file after file reuses its freed planes (see memory.py: a
    # seventh of the CPU time on 12 MP photographs went to the kernel's page faults).
    keep_freed_memory()


def _reference(path: str) -> ReferenceAnalysis | UnreadableImage:
    digest = _path_digest.get(path)
    if digest is None or digest not in _reference_cache:
        with open(path, "rb") as fh:
            data = fh.read()
        digest = hashlib.sha256(data).hexdigest()
        _path_digest[path] = digest
        if digest not in _reference_cache:
            try:
                _reference_cache[digest] = analyse_decoded_reference(decode_image(data))
            except UnreadableImage as err:
                _reference_cache[digest] = err
    return _reference_cache[digest]


def _screen_job(job: Job) -> dict[str, Any]:
    """Screen one evidence file; return its JSON line (never raise)."""
    started = time.perf_counter()
    try:
        references: list[ReferenceAnalysis] = []
        usable_paths: list[str] = []
        for path in job.references:
            ref = _reference(path)
            if isinstance(ref, ReferenceAnalysis):
                references.append(ref)
                usable_paths.append(path)
        try:
            with open(job.evidence, "rb") as fh:
                data = fh.read()
        except OSError as err:
            return _unreadable_line(job.evidence, "io_error", f"cannot read the file ({err.strerror or err})")
        # Its lines carry neither the content hash nor what a reuse index keeps.
        report = screen_evidence(data, references=references, with_artifacts=False, with_reuse=False)
        line = report_line(job.evidence, report, usable_paths)
        line["ms"] = round((time.perf_counter() - started) * 1000, 1)
        return line
    except Exception as err:  # a bug must cost one line, not the run
        return _unreadable_line(
            job.evidence,
            "internal_error",
            f"screening failed ({type(err).__name__}: {err})",
            (time.perf_counter() - started) * 1000,
        )


# --- argument handling ------------------------------------------------------------------


def _check_reference_paths(paths: Sequence[str]) -> None:
    for path in paths:
        if not os.path.isfile(path):
            raise BadArguments(f"reference file not found: {path}")


def _read_manifest(path: str) -> list[Job]:
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.readlines()
    except (OSError, UnicodeDecodeError) as err:
        raise BadArguments(f"cannot read manifest {path}: {err}") from None
    jobs: list[Job] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError as err:
            raise BadArguments(f"{path}:{number}: not a JSON object ({err})") from None
        if not isinstance(item, dict) or not isinstance(item.get("evidence"), str):
            raise BadArguments(f'{path}:{number}: expected {{"evidence": PATH, "references": [PATH, ...]}}')
        refs = item.get("references", [])
        if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
            raise BadArguments(f"{path}:{number}: references must be a list of paths")
        _check_reference_paths(refs)
        jobs.append(Job(item["evidence"], tuple(refs)))
    if not jobs:
        raise BadArguments(f"manifest {path} names no evidence")
    return jobs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m screening", description="Screen refund evidence images against reference images."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="screen evidence files against the given references")
    check.add_argument("--reference", action="append", default=[], metavar="REF", help="reference image (repeatable)")
    check.add_argument("evidence", nargs="*", metavar="EVIDENCE")
    check.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    batch = sub.add_parser("batch", help='screen every {"evidence", "references"} line of a JSONL manifest')
    batch.add_argument("manifest", metavar="MANIFEST.jsonl")
    batch.add_argument("--jobs", type=int, default=0, help="worker processes (default: all cores)")
    views = sub.add_parser(
        "views", help="check that two photos show the same damage on a real item from two viewpoints"
    )
    views.add_argument("first", metavar="FIRST")
    views.add_argument("second", metavar="SECOND")
    views.add_argument(
        "--damage-box", metavar="X,Y,W,H", help="the damage in the first photo's pixels (x, y, width, height)"
    )
    return parser


def _damage_box(text: str | None) -> tuple[int, int, int, int] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise BadArguments(f"--damage-box must be four integers X,Y,W,H, not {text!r}") from None
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise BadArguments(f"--damage-box needs X, Y >= 0 and W, H > 0, not {text!r}")
    return x, y, w, h


def _views(first: str, second: str, box_text: str | None, out: TextIO) -> None:
    box = _damage_box(box_text)
    photos = []
    for path in (first, second):
        try:
            with open(path, "rb") as fh:
                photos.append(fh.read())
        except OSError as err:
            raise BadArguments(f"cannot read {path}: {err.strerror or err}") from None
    started = time.perf_counter()
    result = compare_views(photos[0], photos[1], damage_box=box)
    line = {"first": first, "second": second, **result.as_dict()}
    line["ms"] = round((time.perf_counter() - started) * 1000, 1)
    out.write(json.dumps(line, ensure_ascii=False) + "\n")


def _run(jobs: list[Job], workers: int, out: TextIO) -> None:
    if workers <= 1 or len(jobs) == 1:
        _init_worker()
        for job in jobs:
            out.write(json.dumps(_screen_job(job), ensure_ascii=False) + "\n")
            out.flush()
        return
    # Chunks keep each worker's reference cache warm for consecutive lines that share
    # a product; map() yields results in input order.
    chunk = max(1, min(8, len(jobs) // (workers * 4)))
    # "spawn", not fork: forking a parent that already runs OpenCV/BLAS threads can
    # leave a child waiting forever on a lock held by a thread that was not copied
    # (seen under pytest). Each worker pays one interpreter start-up, once per run.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, mp_context=context) as pool:
        for line in pool.map(_screen_job, jobs, chunksize=chunk):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
            out.flush()


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the CLI and return its exit code (0 when every line was written, 2 for bad arguments)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its message
        return EXIT_BAD_ARGUMENTS if exc.code else EXIT_OK
    try:
        if args.command == "views":
            _init_worker()
            _views(args.first, args.second, args.damage_box, out)
            return EXIT_OK
        if args.command == "check":
            if not args.evidence:
                raise BadArguments("no evidence file given")
            _check_reference_paths(args.reference)
            for path in args.reference:
                if isinstance(_reference(path), UnreadableImage):
                    raise BadArguments(f"reference is not a readable image: {path} ({_reference(path)})")
            jobs = [Job(path, tuple(args.reference)) for path in args.evidence]
            workers = max(1, args.jobs)
        else:
            jobs = _read_manifest(args.manifest)
            workers = args.jobs or os.cpu_count() or 1
    except BadArguments as exc:
        print(f"screening: {exc}", file=err)
        return EXIT_BAD_ARGUMENTS
    _run(jobs, workers, out)
    return EXIT_OK


def iter_lines(text: str) -> Iterator[dict[str, Any]]:
    """Yield the JSON objects of CLI output (helper for tests and tools)."""
    for raw in text.splitlines():
        if raw.strip():
            yield json.loads(raw)
