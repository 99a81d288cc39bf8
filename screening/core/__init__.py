"""Image-consistency screening for refund evidence; imports nothing from Django.

Public API (used by screening/services.py and the CLI):
decode_image, analyse_reference, screen_evidence, perceptual_hash and the value types.
"""

from .decode import DecodedImage, decode_image, sniff_format
from .errors import UnreadableImage
from .hashing import hamming, perceptual_hash
from .report import FINDING_CODES, VERDICTS, Finding, ScreeningReport
from .screen import (
    ENGINE_VERSION,
    ReferenceAnalysis,
    analyse_decoded_reference,
    analyse_reference,
    screen_decoded,
    screen_evidence,
)

__all__ = [
    "DecodedImage",
    "ENGINE_VERSION",
    "FINDING_CODES",
    "Finding",
    "ReferenceAnalysis",
    "ScreeningReport",
    "UnreadableImage",
    "VERDICTS",
    "analyse_decoded_reference",
    "analyse_reference",
    "decode_image",
    "hamming",
    "perceptual_hash",
    "screen_decoded",
    "screen_evidence",
    "sniff_format",
]
