"""Value objects returned by the screening core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Finding", "ScreeningReport", "FINDING_CODES", "VERDICTS"]

FINDING_CODES = (
    "derived_from_reference",
    "local_edit",
    "aigc_label",
    "c2pa_ai_generated",
    "editing_software",
    "no_camera_metadata",
    "captured_before_delivery",
    "unreadable",
)
VERDICTS = ("consistent", "derived_from_reference", "unreadable")

Region = tuple[int, int, int, int]


@dataclass(frozen=True)
class Finding:
    """One observation about an evidence image.

    `detail` is an English sentence built from `params` (simple JSON values), so that
    another layer can translate it per `code`; `regions` are (x, y, w, h) boxes in
    evidence pixel coordinates; `artifact` is a PNG heat-map for reviewers, or None.
    """

    code: str
    score: float
    detail: str
    params: dict[str, Any] = field(default_factory=dict)
    regions: tuple[Region, ...] = ()
    artifact: bytes | None = field(default=None, repr=False)

    def as_json(self) -> dict[str, Any]:
        """Return the CLI/JSON shape of this finding (no artifact)."""
        return {
            "code": self.code,
            "score": round(float(self.score), 4),
            "detail": self.detail,
            "regions": [list(r) for r in self.regions],
        }


@dataclass(frozen=True)
class ScreeningReport:
    """The result of screening one evidence image against the references of its product."""

    verdict: str
    risk: float
    findings: tuple[Finding, ...]
    reference_index: int | None
    sha256: str
    width: int
    height: int
    ms: float

    def finding(self, code: str) -> Finding | None:
        """Return the first finding with `code`, or None."""
        return next((f for f in self.findings if f.code == code), None)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)
