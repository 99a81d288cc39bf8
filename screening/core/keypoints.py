"""Local features for reuse search beyond the hash: keys for the index, and the geometric check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

__all__ = [
    "OrbDetection",
    "detect_orb",
    "ORB_FAST_THRESHOLD",
    "ReuseFeatures",
    "reuse_features",
    "matching_points",
    "FEATURE_KEY_BITS",
    "MATCHING_POINTS",
    "QUERY_KEYPOINTS",
    "STORED_KEYPOINTS",
    "STORED_POINTS",
]

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
# The share of the new image the earlier picture must cover once transformed. A phone frame
# leaves the picture 77 % of the screenshot, a 5 % border 73-83 %; a crop, a turn or a resize
# nearly all of it (19 photographs). It only trims the candidates: honest re-photographs of a
# printed picture in a scene (refunds.demo.rephotographed, 96 of 8 photographs) had up to 65
# points agreeing on a similarity, the print covering 25-76 % of the photo, so the caller
# confirms a keypoint match in pixels before it accuses anyone (screening.services).
_MIN_COVER = 0.5
ORB_FAST_THRESHOLD = 10
_FORMAT = 1


@dataclass(frozen=True, eq=False)
class ReuseFeatures:
    """ORB keypoints of one working plane, strongest first (points in plane pixels)."""

    points: np.ndarray  # (N, 2) float32
    descriptors: np.ndarray  # (N, 32) uint8
    size: tuple[int, int]  # (width, height) of the plane

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
        return ReuseFeatures(self.points[:STORED_POINTS], self.descriptors[:STORED_POINTS], self.size)

    def to_bytes(self) -> bytes:
        """Return the compact form the index stores (the plane's size, coordinates to 1/64 pixel)."""
        points = np.clip(np.round(self.points * 64.0), 0, 65535).astype("<u2")
        header = bytes([_FORMAT]) + np.array(self.size, "<u2").tobytes()
        return header + points.tobytes() + np.ascontiguousarray(self.descriptors, np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReuseFeatures:
        """Reverse of to_bytes(); raise ValueError on anything else."""
        if len(data) < 5 or data[0] != _FORMAT or (len(data) - 5) % 36:
            raise ValueError("not stored reuse features")
        count = (len(data) - 5) // 36
        width, height = (int(v) for v in np.frombuffer(data, "<u2", 2, 1))
        points = np.frombuffer(data, "<u2", count * 2, 5).reshape(count, 2).astype(np.float32) / 64.0
        descriptors = np.frombuffer(data, np.uint8, count * 32, 5 + count * 4).reshape(count, 32)
        return cls(points, descriptors, (width, height))


class OrbDetection(NamedTuple):
    """ORB's keypoints and descriptors of one plane as OpenCV returned them, with the settings it ran with:
    a second caller asking for the same settings on the same plane takes them instead of detecting again
    (the alignment's keypoints of the evidence are its reuse features too: ~5 ms a file)."""

    keypoints: Sequence[cv2.KeyPoint]
    descriptors: np.ndarray | None
    limit: int
    fast_threshold: int


def detect_orb(gray: np.ndarray, *, limit: int, fast_threshold: int = ORB_FAST_THRESHOLD) -> OrbDetection:
    """Return ORB's detection on a uint8 grayscale plane (15-px patches, at most `limit` keypoints)."""
    orb = cv2.ORB.create(nfeatures=limit, fastThreshold=fast_threshold, edgeThreshold=15, patchSize=15)
    keypoints, descriptors = orb.detectAndCompute(gray, None)
    return OrbDetection(keypoints, descriptors, limit, fast_threshold)


def reuse_features(
    gray: np.ndarray, *, limit: int = QUERY_POINTS, detection: OrbDetection | None = None
) -> ReuseFeatures:
    """Return at most `limit` ORB keypoints of a uint8 grayscale plane, strongest first (possibly none).

    `detection`, if given, is detect_orb's answer on this same plane; it is used where its
    settings are these.
    """
    size = (int(gray.shape[1]), int(gray.shape[0]))
    if detection is None or (detection.limit, detection.fast_threshold) != (limit, ORB_FAST_THRESHOLD):
        detection = detect_orb(gray, limit=limit)
    keypoints, descriptors = detection.keypoints, detection.descriptors
    if descriptors is None or not keypoints:
        return ReuseFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), size)
    order = np.argsort([-kp.response for kp in keypoints], kind="stable")
    points = np.array([kp.pt for kp in keypoints], dtype=np.float32)[order]
    return ReuseFeatures(points, descriptors[order], size)


def _frame(size: tuple[int, int]) -> np.ndarray:
    w, h = size
    return np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)


def _covered(transform: np.ndarray, source: tuple[int, int], target: tuple[int, int]) -> float:
    """Return the share of the target plane that the source plane covers once transformed."""
    corners = cv2.transform(_frame(source).reshape(-1, 1, 2), transform).reshape(-1, 2)
    area, _ = cv2.intersectConvexConvex(corners.astype(np.float32), _frame(target))
    return float(area) / max(float(target[0] * target[1]), 1.0)


def matching_points(query: ReuseFeatures, stored: ReuseFeatures) -> int:
    """Return how many keypoints of the query and the stored image agree on one similarity
    transform (a crop, a turn, a scale, a shift) that makes the stored picture most of the
    query; 0 when no such transform has them.

    Keypoints agree also between two photographs of one flat printed thing; whether the query
    is the stored picture itself is for a pixel comparison to say."""
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
    if spread < _MIN_SPREAD:
        return 0
    # A reuse is the picture itself, cropped, turned or framed: it fills most of the query. An
    # honest photograph of the same printed product holds the print as a part of its scene.
    back = cv2.invertAffineTransform(transform)
    if _covered(back, stored.size, query.size) < _MIN_COVER:
        return 0
    return len(inliers)
