"""Perceptual hashing for near-duplicate search (the index lives on the Django side)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .keypoints import OrbDetection, ReuseFeatures, reuse_features

if TYPE_CHECKING:
    from .decode import DecodedImage

__all__ = [
    "perceptual_hash",
    "phash_plane",
    "hamming",
    "trim_flat_margins",
    "evidence_reuse_features",
    "without_turn_fill",
]

# A margin line is flat when nearly all its pixels sit within a few grey levels of its median
# (a border, a plain frame). Measured on 15 of scikit-image's photographs: a 5% white border
# moved the hash by 12-24 bits untrimmed; trimmed, by at most 4 bits on 14 of them (18 on
# the cameraman, whose flat sky meets the border).
# A looser share (0.9, 0.8) lets a status bar with its clock and icons count as flat, but
# then trims into dark photos unevenly: resizing alone moved hashes by up to 28 bits.
_FLAT_LEVELS = 12
_FLAT_SHARE = 0.97


def phash_plane(gray: np.ndarray) -> int:
    """Return the 64-bit DCT perceptual hash of a grayscale plane, raise ValueError if it is empty.

    Same construction as ImageHash's `phash` (32x32 area-resampled, 8x8 lowest DCT
    coefficients against their median), computed on the already-decoded working plane
    so that it costs no second decode.
    """
    if gray.size == 0:
        raise ValueError("cannot hash an empty plane")
    small = cv2.resize(gray.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    low = cv2.dct(small)[:8, :8]
    bits = (low > np.median(low)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def trim_flat_margins(gray: np.ndarray) -> np.ndarray:
    """Return the plane without its flat outer rows and columns (at least 8 pixels either way).

    A photo re-sent with a border or inside a screenshot frame keeps its hash this way; the
    trimmed copy and the original lose the same lines, so both sides of a comparison agree.
    """

    def flat(lines: np.ndarray) -> np.ndarray:
        values = lines.astype(np.int16)
        median = np.median(values, axis=1, keepdims=True)
        return (np.abs(values - median) <= _FLAT_LEVELS).mean(axis=1) >= _FLAT_SHARE

    def span(is_flat: np.ndarray) -> tuple[int, int]:
        content = np.flatnonzero(~is_flat)
        if content.size == 0 or content[-1] + 1 - content[0] < 8:
            return 0, is_flat.size
        return int(content[0]), int(content[-1]) + 1

    top, bottom = span(flat(gray))
    left, right = span(flat(gray[top:bottom].T))
    return gray[top:bottom, left:right]


def perceptual_hash(decoded: DecodedImage) -> int:  # noqa: F821 - avoid an import cycle
    """Return the 64-bit perceptual hash of a decoded image (an unsigned int < 2**64), taken
    inside its flat margins (the reuse index's hash)."""
    return phash_plane(trim_flat_margins(cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY)))


def hamming(a: int, b: int) -> int:
    """Return the number of differing bits between two 64-bit hashes."""
    return int((a ^ b).bit_count())


def evidence_reuse_features(
    decoded: DecodedImage,  # noqa: F821 - avoid an import cycle
    *,
    detection: OrbDetection | None = None,
) -> ReuseFeatures:
    """Return the reuse features of a decoded image (its working plane, frame included: the
    keypoints inside a frame are the picture's own); `detection` as for reuse_features."""
    return reuse_features(cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY), detection=detection)


# A turned copy's corners are filled with one colour where the picture left the frame: after
# a crop and a 2° turn the comparison with the earlier image boxes them as thin strips along
# the edges (9-13 px deep on a 640 px plane). A strip at most this share of the image deep,
# whose outermost line is one flat colour, is that fill, not an edit.
_FILL_DEPTH = 0.06
_FILL_SHARE = 0.8


def without_turn_fill(
    decoded: DecodedImage,  # noqa: F821 - avoid an import cycle
    regions: Sequence[tuple[int, int, int, int]],
) -> list[tuple[int, int, int, int]]:
    """Return the regions (x, y, w, h in image pixels) that are not the fill a turn leaves
    along an edge."""
    gray = cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY).astype(np.int16)
    plane_h, plane_w = gray.shape
    kept = []
    for region in regions:
        x, y, w, h = (round(v * decoded.scale) for v in region)
        x0, y0 = max(0, min(x, plane_w - 1)), max(0, min(y, plane_h - 1))
        x1, y1 = max(x0 + 1, min(x + w, plane_w)), max(y0 + 1, min(y + h, plane_h))
        edges = []
        if y0 <= 1 and y1 - y0 <= _FILL_DEPTH * plane_h:
            edges.append(gray[0, x0:x1])
        if y1 >= plane_h - 1 and y1 - y0 <= _FILL_DEPTH * plane_h:
            edges.append(gray[plane_h - 1, x0:x1])
        if x0 <= 1 and x1 - x0 <= _FILL_DEPTH * plane_w:
            edges.append(gray[y0:y1, 0])
        if x1 >= plane_w - 1 and x1 - x0 <= _FILL_DEPTH * plane_w:
            edges.append(gray[y0:y1, plane_w - 1])
        fill = any(
            line.size and (np.abs(line - np.median(line)) <= _FLAT_LEVELS).mean() >= _FILL_SHARE for line in edges
        )
        if not fill:
            kept.append(region)
    return kept
