"""Perceptual hashing and local features for near-duplicate search (the index lives on the Django side)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .decode import DecodedImage

__all__ = [
    "perceptual_hash",
    "phash_plane",
    "hamming",
    "trim_flat_margins",
    "ReuseFeatures",
    "reuse_features",
    "evidence_reuse_features",
    "matching_points",
    "without_turn_fill",
    "FEATURE_KEY_BITS",
    "MATCHING_POINTS",
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


# --- local features: reuse that survives a crop, a turn or a frame ---------------------------
#
# A whole-picture hash moves as far as a stranger's under a crop of 10 %, a 2° turn or a phone
# frame (docs/screening.md, "Reuse index"). ORB keypoints do not: most of a picture's corners
# survive each of them, with the same descriptors. The index keeps a few keys per image (bits
# sampled from the descriptors of its strongest keypoints) to find candidates, and a verified
# geometric transform between the keypoints decides; measured on 21 of scikit-image's
# photographs (the synthetic colorwheel and binary blobs have no stable corners), a
# transformed copy kept 9-380 consistent points (median 45-220 by transformation) and a
# stranger at most 5.

# Keypoints kept per stored image for the geometric check: 200 give every measured copy at
# least 12 consistent points at 7.2 kB an image (uint16 coordinates, 32-byte descriptors).
STORED_POINTS = 200
# The query keeps more: matching cost is the product, and the query is computed once.
QUERY_POINTS = 1000
# Keys come from the strongest keypoints only: those are the ones a crop or a turn keeps.
STORED_KEYPOINTS = 48
QUERY_KEYPOINTS = 128
# Two keys per keypoint, each of 26 descriptor bits. Among 21 photographs, 26-bit keys of
# real descriptors repeated across 6 of them at most (20 bits: 8); more bits lose true
# keypoints (a descriptor 10 bits away keeps a 26-bit key with probability 0.36).
FEATURE_KEY_BITS = 26
_KEY_TABLES = 2
# Bit positions of the keys: a fixed permutation of the 256 descriptor bits (149 is odd, so
# i * 149 mod 256 visits every bit); fixed so that stored keys stay comparable across versions.
_KEY_POSITIONS = np.array([(i * 149) % 256 for i in range(_KEY_TABLES * FEATURE_KEY_BITS)]).reshape(
    _KEY_TABLES, FEATURE_KEY_BITS
)
# Consistent points that make a reuse: strangers kept at most 5 among 420 pairs, the weakest
# true copy (a 20 % corner crop) 9-14 depending on the stored count; 12 leaves a margin on
# the strangers' side, where a false link would accuse someone.
MATCHING_POINTS = 12
_RATIO = 0.8
_REPROJECTION_PX = 3.0
# A buyer's copy is scaled by at most this factor either way between the working planes
# (a resize is normalised away by the plane's fixed long side; a crop of 20 % or a frame
# changes it by 1.25-1.4). RANSAC on chance matches finds collapsed or exploded transforms.
_MAX_SCALE = 2.5
# The consistent points must spread over some of the query's content (as a share of the
# box around all its keypoints), not sit on one repeated texture.
_MIN_SPREAD = 0.05
_ORB_FAST_THRESHOLD = 10
_FORMAT = 1


@dataclass(frozen=True, eq=False)
class ReuseFeatures:
    """ORB keypoints of one working plane, strongest first (points in plane pixels)."""

    points: np.ndarray  # (N, 2) float32
    descriptors: np.ndarray  # (N, 32) uint8

    def keys(self, *, keypoints: int) -> list[int]:
        """Return the distinct index keys of the strongest `keypoints` keypoints: the table number
        in the bits above FEATURE_KEY_BITS, the sampled descriptor bits below."""
        bits = np.unpackbits(self.descriptors[:keypoints], axis=1).astype(np.int64)
        weights = np.left_shift(np.int64(1), np.arange(FEATURE_KEY_BITS, dtype=np.int64))
        found: set[int] = set()
        for table, positions in enumerate(_KEY_POSITIONS):
            values = bits[:, positions] @ weights
            found.update(int(v) | (table << FEATURE_KEY_BITS) for v in values)
        return sorted(found)

    def stored(self) -> ReuseFeatures:
        """Return the strongest STORED_POINTS keypoints, as the index keeps them."""
        return ReuseFeatures(self.points[:STORED_POINTS], self.descriptors[:STORED_POINTS])

    def to_bytes(self) -> bytes:
        """Return the compact form the index stores (coordinates to 1/64 pixel)."""
        points = np.clip(np.round(self.points * 64.0), 0, 65535).astype("<u2")
        return bytes([_FORMAT]) + points.tobytes() + np.ascontiguousarray(self.descriptors, np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReuseFeatures:
        """Reverse of to_bytes(); raise ValueError on anything else."""
        if not data or data[0] != _FORMAT or (len(data) - 1) % 36:
            raise ValueError("not stored reuse features")
        count = (len(data) - 1) // 36
        points = np.frombuffer(data, "<u2", count * 2, 1).reshape(count, 2).astype(np.float32) / 64.0
        descriptors = np.frombuffer(data, np.uint8, count * 32, 1 + count * 4).reshape(count, 32)
        return cls(points, descriptors)


def reuse_features(gray: np.ndarray, *, limit: int = QUERY_POINTS) -> ReuseFeatures:
    """Return at most `limit` ORB keypoints of a uint8 grayscale plane, strongest first (possibly none)."""
    orb = cv2.ORB.create(nfeatures=limit, fastThreshold=_ORB_FAST_THRESHOLD, edgeThreshold=15, patchSize=15)
    keypoints, descriptors = orb.detectAndCompute(gray, None)
    if descriptors is None or not keypoints:
        return ReuseFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    order = np.argsort([-kp.response for kp in keypoints], kind="stable")
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)[order]
    return ReuseFeatures(points, descriptors[order])


def matching_points(query: ReuseFeatures, stored: ReuseFeatures) -> int:
    """Return how many keypoints of the query and the stored image agree on one similarity
    transform (a crop, a turn, a scale, a shift); 0 when no plausible transform has them."""
    if len(query.descriptors) < MATCHING_POINTS or len(stored.descriptors) < MATCHING_POINTS:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query.descriptors, stored.descriptors, k=2)
    best: dict[int, cv2.DMatch] = {}
    for pair in pairs:
        if len(pair) == 2 and pair[0].distance < _RATIO * pair[1].distance:
            match = pair[0]
            # One query point per stored point: many points matched onto one would let a
            # collapsed transform count them all.
            if match.trainIdx not in best or match.distance < best[match.trainIdx].distance:
                best[match.trainIdx] = match
    if len(best) < MATCHING_POINTS:
        return 0
    src = query.points[[m.queryIdx for m in best.values()]]
    dst = stored.points[[m.trainIdx for m in best.values()]]
    transform, mask = cv2.estimateAffinePartial2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=_REPROJECTION_PX, maxIters=2000, confidence=0.999
    )
    if transform is None or mask is None:
        return 0
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    if not 1 / _MAX_SCALE <= scale <= _MAX_SCALE:
        return 0
    inliers = src[mask.ravel().astype(bool)]
    if len(inliers) < 3:
        return 0
    extent = np.ptp(query.points, axis=0)
    spread = cv2.contourArea(cv2.convexHull(inliers.reshape(-1, 1, 2))) / max(float(extent[0] * extent[1]), 1.0)
    return len(inliers) if spread >= _MIN_SPREAD else 0


def evidence_reuse_features(decoded: DecodedImage) -> ReuseFeatures:  # noqa: F821 - avoid an import cycle
    """Return the reuse features of a decoded image (its working plane, frame included: the
    keypoints inside a frame are the picture's own)."""
    return reuse_features(cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY))


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
