"""The per-image check the screening task runs, over stored evidence and references."""

from __future__ import annotations

import hashlib
import io
import time
import warnings
from dataclasses import dataclass, field

from PIL import Image

ENGINE_VERSION = "basic-1"


class UnreadableEvidence(Exception):
    """The stored evidence cannot be decoded; screening it again will not help."""


@dataclass(frozen=True)
class CheckFinding:
    code: str
    score: float
    detail: str
    params: dict = field(default_factory=dict)
    regions: tuple = ()


@dataclass(frozen=True)
class CheckReport:
    verdict: str
    risk: float
    findings: tuple[CheckFinding, ...]
    reference_index: int | None
    duration_ms: int


def check_evidence(data: bytes, *, reference_hashes: list[str], max_pixels: int) -> CheckReport:
    """Decode the evidence safely and compare it byte-for-byte with the references.

    Raise UnreadableEvidence if it does not decode.
    """
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.size[0] * image.size[1] > max_pixels:
                    raise UnreadableEvidence("too many pixels")
                image.load()
    except UnreadableEvidence:
        raise
    except Exception as exc:  # Pillow raises many types for bad data; all mean "unreadable".
        raise UnreadableEvidence(f"{type(exc).__name__}: {exc}") from None
    digest = hashlib.sha256(data).hexdigest()
    findings: list[CheckFinding] = []
    reference_index = None
    if digest in reference_hashes:
        reference_index = reference_hashes.index(digest)
        findings.append(CheckFinding(
            "derived_from_reference", 1.0, "The evidence is a byte-identical copy of a reference image.",
            {"reference_index": reference_index},
        ))
    verdict = "derived_from_reference" if reference_index is not None else "consistent"
    risk = max((f.score for f in findings), default=0.0)
    return CheckReport(verdict, risk, tuple(findings), reference_index, int((time.perf_counter() - started) * 1000))
