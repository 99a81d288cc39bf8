"""Image-consistency screening for refund evidence; imports nothing from Django.

Public API (used by screening/services.py and the CLI):
decode_image, analyse_reference, screen_evidence, compare_for_reuse (evidence against an
earlier claim's image), perceptual_hash, compare_views (two views of the same damage) and the
value types.
"""

from .decode import DecodedImage, decode_image, sniff_format
from .errors import UnreadableImage
from .hashing import evidence_reuse_features, hamming, perceptual_hash, without_turn_fill
from .keypoints import ReuseFeatures, matching_points
from .report import (
    FINDING_CODES,
    FORGERY_CODES,
    VERDICTS,
    VIEW_PAIR_VERDICTS,
    Finding,
    FindingCode,
    ReuseKind,
    ScreeningReport,
    Verdict,
    ViewPairVerdict,
)
from .screen import (
    ANALYSIS_ERRORS,
    ENGINE_VERSION,
    ReferenceAnalysis,
    ReuseComparison,
    analyse_decoded_reference,
    analyse_reference,
    analysis_failure,
    compare_for_reuse,
    screen_decoded,
    screen_evidence,
)
from .verdict import combined_risk
from .viewpair import ViewPairResult, compare_views

__all__ = [
    "ANALYSIS_ERRORS",
    "DecodedImage",
    "ENGINE_VERSION",
    "FINDING_CODES",
    "FORGERY_CODES",
    "Finding",
    "FindingCode",
    "ReferenceAnalysis",
    "ReuseFeatures",
    "ReuseComparison",
    "ReuseKind",
    "ScreeningReport",
    "UnreadableImage",
    "VERDICTS",
    "VIEW_PAIR_VERDICTS",
    "Verdict",
    "ViewPairResult",
    "ViewPairVerdict",
    "analyse_decoded_reference",
    "analyse_reference",
    "analysis_failure",
    "combined_risk",
    "compare_for_reuse",
    "compare_views",
    "decode_image",
    "evidence_reuse_features",
    "hamming",
    "matching_points",
    "perceptual_hash",
    "screen_decoded",
    "screen_evidence",
    "sniff_format",
    "without_turn_fill",
]
