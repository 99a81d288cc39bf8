"""Value objects returned by the screening core."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .keypoints import ReuseFeatures

__all__ = [
    "Finding",
    "FindingCode",
    "ReuseKind",
    "ScreeningReport",
    "Verdict",
    "FINDING_CODES",
    "FORGERY_CODES",
    "VERDICTS",
    "VIEW_PAIR_VERDICTS",
    "ViewPairVerdict",
]


class FindingCode(StrEnum):
    """Every finding code any layer stores, explains or routes on; owned here.

    Scores are on one scale for every code: 0..1, where 0.5 is where a finding starts
    to count (the policies' default threshold) and 1 is certainty.
    """

    DERIVED_FROM_REFERENCE = "derived_from_reference"
    # Aligns with a reference and came near to "derived", but one transform leaves much
    # of it unexplained (a bent or relit flat product): for a person to compare, no proof.
    RESEMBLES_REFERENCE = "resembles_reference"
    LOCAL_EDIT = "local_edit"
    NEAR_DUPLICATE = "near_duplicate"
    AIGC_LABEL = "aigc_label"
    C2PA_AI_GENERATED = "c2pa_ai_generated"
    EDITING_SOFTWARE = "editing_software"
    MALFORMED_METADATA = "malformed_metadata"
    NO_CAMERA_METADATA = "no_camera_metadata"
    CAPTURED_BEFORE_DELIVERY = "captured_before_delivery"
    UNREADABLE = "unreadable"
    # A second photo asked of the buyer, from another angle, compared with the first
    # (viewpair): it reads as a flat picture, shows another item, or lacks the damage. A flat
    # item photographed close up reads flat too, so it sends the application to a person and
    # is never a forgery (not in FORGERY_CODES).
    SECOND_VIEW_INCONSISTENT = "second_view_inconsistent"


class ReuseKind(StrEnum):
    """What a `near_duplicate` finding says was reused; owned here beside the codes.

    The perceptual hash only says "the same picture": a photo with a painted crack hashes
    as close to its source as a re-saved copy does, so the pixels decide between the last two.
    """

    # Byte for byte the earlier file (SHA-256).
    SAME_FILE = "same_file"
    # The same picture re-encoded, resized or cropped: no local difference after alignment.
    RE_ENCODED = "re_encoded"
    # The same picture with local differences: a reuse and an edit.
    EDITED = "edited"


FINDING_CODES = tuple(code.value for code in FindingCode)
# Findings that, above their threshold, say the evidence is not a genuine new photograph
# of the received item. The others (software names, damaged or missing metadata, an
# early capture time, a resemblance to a reference that one transform does not explain)
# make an application suspicious but prove nothing alone.
FORGERY_CODES = frozenset(
    {
        FindingCode.DERIVED_FROM_REFERENCE,
        FindingCode.LOCAL_EDIT,
        FindingCode.NEAR_DUPLICATE,
        FindingCode.AIGC_LABEL,
        FindingCode.C2PA_AI_GENERATED,
    }
)


class Verdict(StrEnum):
    """What the CLI contract reports of one evidence file (docs/design.md §4)."""

    CONSISTENT = "consistent"
    DERIVED_FROM_REFERENCE = "derived_from_reference"
    UNREADABLE = "unreadable"


VERDICTS = tuple(Verdict)


class ViewPairVerdict(StrEnum):
    """What the two-view check (screening.core.viewpair) says of a first photo and a second
    one of the same damage from another angle; owned here, translated per value by
    screening.messages."""

    # Parallax beyond one homography, explained by one camera motion: a real item in 3-D.
    CONSISTENT_3D = "consistent_3d"
    # One homography explains both views: a flat picture (a print, a screen, a warped copy),
    # or a flat item seen without its surroundings.
    FLAT = "flat"
    # Too few correspondences agree on any two-view geometry: not the same item or scene.
    UNRELATED = "unrelated"
    # A file cannot be decoded, or has too little texture to compare.
    UNREADABLE = "unreadable"


VIEW_PAIR_VERDICTS = tuple(ViewPairVerdict)

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
    # 64-bit perceptual hash of the evidence for reuse search; None when it was not decoded.
    phash: int | None = None
    # Local features of the evidence for reuse search beyond the hash (a crop, a turn, a frame).
    reuse: ReuseFeatures | None = field(default=None, repr=False)

    def finding(self, code: str) -> Finding | None:
        """Return the first finding with `code`, or None."""
        return next((f for f in self.findings if f.code == code), None)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)
