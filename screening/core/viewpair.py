"""Two views of the same damage: a real item in three dimensions, or a flat picture?

A forger who painted damage onto a flat picture (the catalogue photo, a generated image)
cannot easily produce a second, geometrically consistent view of it. Two photographs of a
real item from different viewpoints show parallax: the points of the item and its
surroundings lie at different depths, so no single homography maps one view onto the
other, while one camera motion (a fundamental matrix) still explains every
correspondence. Two views of a flat picture (a re-photographed print, a screen, or a
second view made by warping the first) are explained by one homography.

The check: SIFT correspondences; the homography that explains most of them once each
view's radial lens distortion is taken out (two phones bend one flat picture differently);
a fundamental matrix by MAGSAC on the corrected points (the correspondences it keeps are
those "used"); and the residuals the homography leaves them, counted only where
neighbouring points share them. Thresholds are in pixels of a plane whose long side is NORMALISED_LONG_SIDE, and
were chosen on the tuning half of bench/viewpair.py (docs/screening.md, "Two views").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .decode import decode_image
from .errors import UnreadableImage
from .report import ViewPairVerdict

__all__ = ["NORMALISED_LONG_SIDE", "ViewPairResult", "ViewPairVerdict", "compare_views"]

# Residuals and thresholds are stated at this long side whatever plane was decoded, so that
# a parallax of 12 px means the same for a 640 px and a 2048 px working plane.
NORMALISED_LONG_SIDE = 1024
# SIFT rather than ORB: a second viewpoint turns and foreshortens the damage by 10-40°, where
# ORB's binary descriptors lose most matches and SIFT's gradients keep them. 3000 keypoints
# on a 1024 px plane take ~150 ms a view on the bench machine; brute-force matching ~100 ms.
_SIFT_FEATURES = 3000
# Smooth or dark photos (a moon, a clock face, a cell culture of scikit-image's pictures
# through a phone camera) give 3-250 keypoints at SIFT's default contrast threshold of 0.04
# and 3000 at 0.01; textured ones reach the limit at 0.04 and pay nothing.
_RETRY_BELOW = 500
_LOW_CONTRAST = 0.01
# Lowe's ratio test at its published value; correspondences must also be each other's best
# match both ways (a repeated texture otherwise contributes many-to-one matches).
_RATIO = 0.75
# A plane with fewer keypoints than this has too little texture to say anything (a blank
# wall, a black frame, a uniform colour).
_MIN_KEYPOINTS = 40
# Epipolar distance (px at the normalised size) within which a correspondence agrees with the
# camera motion: a few times SIFT's localisation error after a phone's processing and JPEG
# (a few tenths of a pixel). Not tuned: the homography below decides, and a looser value
# lets chance matches of unrelated pictures line up.
_EPIPOLAR_PX = 1.5
# Correspondences that must agree on one camera motion for the two photos to show the same
# item. Unrelated pairs of the tuning half kept at most 20 (a fundamental matrix has 7
# degrees of freedom and fits a few chance matches); every same-item pair kept 39 or more.
# 24 sits in the gap, nearer the strangers: a lost same-item pair goes to a person as
# "unrelated", a stranger let through would be compared as the same item.
_MIN_GEOMETRY_MATCHES = 24
# Transfer error (px at the normalised size) within which one homography (after each
# view's lens correction, _flat_model) explains a correspondence. On the tuning half it left
# none of a re-photographed print's correspondences off the homography and at most 1 % of a
# view generated with up to 3 px of jitter.
_HOMOGRAPHY_PX = 4.0
# Radial lens coefficients tried for each view (see _flat_model), in steps of 0.02; the
# simulated phones of bench.synthetic draw k1 from -0.06 to 0.1.
_LENS_GRID = tuple(round(-0.12 + 0.02 * i, 2) for i in range(13))
# What makes parallax: at least this many correspondences that the homography leaves with a
# residual their neighbours share (_coherent_parallax), at least this share of all, and a
# median residual among them of at least this many pixels. On the tuning half the flat
# pictures' median stayed at or below 4.8 px (10.7 px with a generated view's jitter of
# 3-8 px, more than the set's forger applies), and the rendered items read as 3-D had medians
# of 14 px or more (the one below, 8.6 px, at a 7° turn). 12 px sits between; the margin
# above a strongly jittered view is narrow (docs/screening.md, "Two views"). A share of 2 %
# keeps a handful of points among thousands from deciding.
_MIN_PARALLAX_SHARE = 0.02
_MIN_PARALLAX_POINTS = 12
_MIN_PARALLAX_PX = 12.0
# Parallax must be shared by neighbours (_coherent_parallax): of a point's 6 nearest
# correspondences, at least 2 must move alike beyond the homography, within 3 px or a quarter
# of its own residual.
_NEIGHBOURS = 6
_AGREEING_NEIGHBOURS = 2
_AGREEMENT_PX = 3.0
_AGREEMENT_SHARE = 0.25
# The damage box's neighbourhood, in box sizes on each side: the correspondences within it
# give the local homography that follows the damage into the second view, and its ring
# (the part outside the box, half a box wide) says how far two views of that surface differ.
_NEIGHBOURHOOD = 1.0
_RING = 0.5
_MIN_LOCAL_MATCHES = 8
_BLUR_PX = 1.5
# The share of the box's pixels that may differ beyond the ring's 95th percentile (which 5 %
# of the ring's own pixels do by definition) for the damage to count as present in both.
# Measured on the tuning half with this rule (before the lens step moved ahead of the
# epipolar test, which changes only which correspondences lie near the box): damage painted in the first view only changed 11-67 % of its box; damage
# present in both changed at most 9 % in 18 of 24 pairs (up to 56 % in the others: a box
# mostly on another surface, or a print's glare over it). 10 % keeps every one-view edit out
# and errs, when it errs, towards "not in both", which a person then looks at.
_MAX_CHANGED = 0.1


@dataclass(frozen=True)
class ViewPairResult:
    """What the two-view check found; `as_dict()` is the JSON stored on a record."""

    verdict: ViewPairVerdict
    # Correspondences that agree on one camera motion (the ones the check used).
    matches: int
    # Share of those one homography explains.
    homography_inlier_share: float
    # Median residual beyond the best homography of the correspondences it does not explain,
    # in pixels at a long side of NORMALISED_LONG_SIDE (0 when it explains all of them).
    parallax_px: float
    # Whether the damage box of the first view stands out in the second, at the same place on
    # the object, as it does in the first; None when no box was given or it cannot be judged
    # (see compare_views).
    damage_in_both: bool | None
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form (the verdict as its string value)."""
        return {
            "verdict": self.verdict.value,
            "matches": self.matches,
            "homography_inlier_share": round(self.homography_inlier_share, 4),
            "parallax_px": round(self.parallax_px, 2),
            "damage_in_both": self.damage_in_both,
            "explanation": self.explanation,
        }


Box = tuple[int, int, int, int]


def compare_views(
    first: bytes, second: bytes, *, damage_box: Box | None = None, max_side: int = 1024
) -> ViewPairResult:
    """Compare two photos of the same damage taken from different viewpoints.

    `damage_box` is (x, y, width, height) in the first image's pixels (after its EXIF
    orientation). `max_side` is the long side the photos are decoded at. Never raises for
    image content: an undecodable file or one without texture gives UNREADABLE. Raise
    ValueError for a `max_side` below 256 or a damage box of no area, which are the caller's
    mistakes.

    damage_in_both is None when no box is given, when the verdict is UNRELATED or
    UNREADABLE, when the box does not stand out from its surroundings in the first view
    (there is nothing to look for), or when it falls outside the second view.
    """
    if max_side < 256:
        raise ValueError(f"max_side must be at least 256, not {max_side}")
    if damage_box is not None and (len(damage_box) != 4 or damage_box[2] <= 0 or damage_box[3] <= 0):
        raise ValueError(f"damage_box must be (x, y, width, height) with a positive size, not {damage_box}")
    planes: list[np.ndarray] = []
    scales: list[float] = []
    for name, data in (("first", first), ("second", second)):
        try:
            decoded = decode_image(data, work_long_side=max_side)
        except UnreadableImage as err:
            return _unreadable(f"The {name} photo cannot be read: {err.message}.")
        planes.append(decoded.gray)
        scales.append(decoded.scale)
    try:
        return _compare(planes[0], planes[1], scales[0], damage_box)
    except cv2.error as err:  # a degenerate configuration OpenCV refuses, never the caller's fault
        return _unreadable(f"The photos cannot be compared: {err.msg or err}.")


def _unreadable(explanation: str) -> ViewPairResult:
    return ViewPairResult(ViewPairVerdict.UNREADABLE, 0, 0.0, 0.0, None, explanation)


@dataclass(frozen=True)
class _Features:
    points: np.ndarray  # (N, 2) float32
    descriptors: np.ndarray  # (N, 128) float32


def _features(gray: np.ndarray) -> _Features:
    sift = cv2.SIFT.create(nfeatures=_SIFT_FEATURES)
    keypoints, descriptors = sift.detectAndCompute(gray, None)
    if len(keypoints) < _RETRY_BELOW:
        sift = cv2.SIFT.create(nfeatures=_SIFT_FEATURES, contrastThreshold=_LOW_CONTRAST)
        keypoints, descriptors = sift.detectAndCompute(gray, None)
    if descriptors is None or not keypoints:
        return _Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.float32))
    return _Features(np.array([kp.pt for kp in keypoints], np.float32), descriptors)


def _correspondences(a: _Features, b: _Features) -> tuple[np.ndarray, np.ndarray]:
    """Return matched points (N, 2) of both views: ratio test, mutual best matches only."""
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    forward = matcher.knnMatch(a.descriptors, b.descriptors, k=2)
    backward = matcher.match(b.descriptors, a.descriptors)
    best_back = {m.queryIdx: m.trainIdx for m in backward}
    pairs = [
        (p[0].queryIdx, p[0].trainIdx)
        for p in forward
        if len(p) == 2 and p[0].distance < _RATIO * p[1].distance and best_back.get(p[0].trainIdx) == p[0].queryIdx
    ]
    if not pairs:
        return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
    index = np.array(pairs)
    return a.points[index[:, 0]], b.points[index[:, 1]]


def _transfer(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), h).reshape(-1, 2)


def _compare(first: np.ndarray, second: np.ndarray, first_scale: float, damage_box: Box | None) -> ViewPairResult:
    # Pixels of the second plane per normalised pixel: thresholds are stated at the normalised size.
    unit = max(second.shape) / NORMALISED_LONG_SIDE
    a, b = _features(first), _features(second)
    if min(len(a.points), len(b.points)) < _MIN_KEYPOINTS:
        which = "first" if len(a.points) < len(b.points) else "second"
        return _unreadable(f"The {which} photo has too little texture to compare the two views.")
    p1, p2 = _correspondences(a, b)
    if len(p1) < _MIN_GEOMETRY_MATCHES:
        return _unrelated(len(p1))
    # The lenses first: a flat picture's dominant plane tells each view's radial distortion,
    # and with it taken out the epipolar test below need not be loose enough to let it pass.
    h, k1, k2 = _flat_model(p1, p2, first.shape, second.shape, unit)
    u1, u2 = _undistorted(p1, first.shape, k1), _undistorted(p2, second.shape, k2)
    _, f_mask = cv2.findFundamentalMat(u1, u2, cv2.USAC_MAGSAC, _EPIPOLAR_PX * unit, confidence=0.999, maxIters=5000)
    if f_mask is None:
        return _unrelated(0)
    used = f_mask.ravel().astype(bool)
    if int(used.sum()) < _MIN_GEOMETRY_MATCHES:
        return _unrelated(int(used.sum()))
    q1, q2 = u1[used], u2[used]
    if h is None:
        residuals = np.full(len(q1), np.inf)
        vectors = np.zeros_like(q1)
    else:
        vectors = (q2 - _transfer(h, q1)) / unit
        residuals = np.linalg.norm(vectors, axis=1)
    off = _coherent_parallax(q1, vectors, residuals)
    share = 1.0 - float(off.mean())
    parallax = float(np.median(residuals[off])) if off.any() else 0.0
    is_3d = (
        h is not None
        and 1.0 - share >= _MIN_PARALLAX_SHARE
        and int(off.sum()) >= _MIN_PARALLAX_POINTS
        and parallax >= _MIN_PARALLAX_PX
    )
    damage: bool | None = None
    if damage_box is not None:
        damage = _damage_in_both(first, second, p1[used], p2[used], damage_box, first_scale)
    if is_3d:
        verdict = ViewPairVerdict.CONSISTENT_3D
        explanation = (
            f"The two photos show the same item in three dimensions: {1 - share:.0%} of {len(q1)} matching points "
            f"move by a median {parallax:.1f} px beyond what one flat picture would explain."
        )
    else:
        verdict = ViewPairVerdict.FLAT
        explanation = (
            f"One flat picture explains both photos: {share:.0%} of {len(q1)} matching points follow a single "
            "homography, as a re-photographed print, a screen or a warped copy does."
        )
    if damage is True:
        explanation += " The damage appears in both photos at the same place."
    elif damage is False:
        explanation += " The damage marked in the first photo does not appear at that place in the second."
    return ViewPairResult(verdict, len(q1), share, parallax, damage, explanation)


def _undistorted(points: np.ndarray, shape: tuple[int, ...], k: float) -> np.ndarray:
    """Return `points` with a radial lens distortion of coefficient `k` taken out (k > 0: barrel).

    The model of bench.synthetic.phone_camera and most lens calibrations' first term: a
    point at normalised radius r from the centre was moved to r / (1 + k r^2); r is
    measured in half-widths.
    """
    centre = np.array([shape[1] / 2, shape[0] / 2], np.float32)
    d = (points - centre) / (shape[1] / 2)
    return centre + (points - centre) * (1 + k * (d * d).sum(axis=1, keepdims=True))


def _flat_model(
    q1: np.ndarray, q2: np.ndarray, shape1: tuple[int, ...], shape2: tuple[int, ...], unit: float
) -> tuple[np.ndarray | None, float, float]:
    """Return (H, k1, k2): the homography that explains most correspondences once each view's
    radial lens distortion (coefficients k1, k2, see _undistorted) is taken out.

    Two phones' lenses bend a flat picture differently, and a plain homography leaves that
    bend as residuals that look like parallax (up to 20 px at the corners for the k1 of -0.06
    to 0.1 of the tuning half's phone cameras); a 3-D item's parallax is not radial about the
    centre and stays. The coefficients are searched one view at a time, twice, on a grid.
    """
    best: tuple[int, np.ndarray | None] = (-1, None)
    k1 = k2 = 0.0
    for view in (2, 1, 2):
        for k in _LENS_GRID:
            a = _undistorted(q1, shape1, k if view == 1 else k1)
            b = _undistorted(q2, shape2, k if view == 2 else k2)
            h, _ = cv2.findHomography(a, b, cv2.USAC_MAGSAC, _HOMOGRAPHY_PX * unit, confidence=0.999, maxIters=2000)
            if h is None:
                continue
            kept = int((np.linalg.norm(_transfer(h, a) - b, axis=1) <= _HOMOGRAPHY_PX * unit).sum())
            if kept > best[0]:
                best = (kept, h)
                k1, k2 = (k, k2) if view == 1 else (k1, k)
    return best[1], k1, k2


def _coherent_parallax(points: np.ndarray, vectors: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """Return which correspondences the homography leaves a residual that their neighbours share.

    Parallax is smooth over a surface: points near each other lie at about the same depth and
    move alike beyond the homography. A wrong match that a fundamental matrix happens to accept
    (on a flat picture the matrix is not fixed by the points, and MAGSAC picks one that takes in
    a few chance matches) moves alone.
    """
    off = residuals > _HOMOGRAPHY_PX
    if off.sum() == 0:
        return off
    distances = np.linalg.norm(points[:, None, :] - points[None, :, :], axis=2)
    np.fill_diagonal(distances, np.inf)
    neighbours = np.argsort(distances, axis=1)[:, :_NEIGHBOURS]
    agree = (
        np.linalg.norm(vectors[neighbours] - vectors[:, None, :], axis=2)
        <= np.maximum(_AGREEMENT_PX, _AGREEMENT_SHARE * residuals)[:, None]
    )
    return off & ((agree & off[neighbours]).sum(axis=1) >= _AGREEING_NEIGHBOURS)


def _unrelated(matches: int) -> ViewPairResult:
    return ViewPairResult(
        ViewPairVerdict.UNRELATED,
        matches,
        0.0,
        0.0,
        None,
        f"The two photos do not show the same item: only {matches} matching points agree on one camera motion.",
    )


def _grown(box: tuple[float, float, float, float], by: float) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return x - by * w, y - by * h, w * (1 + 2 * by), h * (1 + 2 * by)


def _damage_in_both(
    first: np.ndarray,
    second: np.ndarray,
    q1: np.ndarray,
    q2: np.ndarray,
    damage_box: Box,
    first_scale: float,
) -> bool | None:
    """Say whether what the box shows in the first view is also there in the second.

    `q1`, `q2` are the correspondences that agree on the camera motion, in plane pixels. The
    rule: follow the box into the second view by the homography of the correspondences near
    it (damage lies on a surface that is locally flat; the whole picture's homography when
    fewer than _MIN_LOCAL_MATCHES are near), bring the second view's neighbourhood back
    onto the first's, match its brightness and contrast to the first's on the ring around the
    box, and compare the two pixel by pixel. The ring says how far two views of the same
    surface differ here (misalignment, light, noise): its 95th percentile of the difference is
    the bar. The damage is in both unless more than _MAX_CHANGED of the box's pixels differ
    beyond that bar: damage painted in one view only changes those pixels, and nothing else.
    None when the box falls (mostly) outside the second view.
    """
    x, y, w, hh = (v * first_scale for v in damage_box)
    nx, ny, nw, nh = _grown((x, y, w, hh), _NEIGHBOURHOOD)
    near = (q1[:, 0] >= nx) & (q1[:, 0] <= nx + nw) & (q1[:, 1] >= ny) & (q1[:, 1] <= ny + nh)
    if int(near.sum()) >= _MIN_LOCAL_MATCHES:
        local, _ = cv2.findHomography(q1[near], q2[near], cv2.RANSAC, 3.0)
    else:
        local, _ = cv2.findHomography(q1, q2, cv2.USAC_MAGSAC, 3.0)
    if local is None:
        return None
    # The box and its ring in the first view's pixels, as an image of their own.
    gx, gy, gw, gh = _grown((x, y, w, hh), _RING)
    x0, y0 = max(0, int(np.floor(gx))), max(0, int(np.floor(gy)))
    x1, y1 = min(first.shape[1], int(np.ceil(gx + gw))), min(first.shape[0], int(np.ceil(gy + gh)))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    size = (x1 - x0, y1 - y0)
    to_second = local @ np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    back = cv2.warpPerspective(second, to_second, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    covered = cv2.warpPerspective(
        np.full_like(second, 255), to_second, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP
    ).astype(bool)
    inside = np.zeros((size[1], size[0]), bool)
    bx0, by0 = max(0, round(x - x0)), max(0, round(y - y0))
    inside[by0 : max(by0 + 1, round(y + hh - y0)), bx0 : max(bx0 + 1, round(x + w - x0))] = True
    box_mask, ring_mask = inside & covered, ~inside & covered
    if box_mask.sum() < 0.5 * inside.sum() or ring_mask.sum() < max(16, 0.3 * (~inside).sum()):
        return None
    # A light blur absorbs the pixel or two a local homography misplaces on a real surface.
    a = cv2.GaussianBlur(first[y0:y1, x0:x1].astype(np.float32), (0, 0), _BLUR_PX)
    b = cv2.GaussianBlur(back.astype(np.float32), (0, 0), _BLUR_PX)
    # The second photo's exposure and contrast, matched to the first's on the ring.
    gain = float(a[ring_mask].std()) / max(float(b[ring_mask].std()), 1.0)
    b = (b - float(b[ring_mask].mean())) * gain + float(a[ring_mask].mean())
    difference = np.abs(a - b)
    bar = float(np.percentile(difference[ring_mask], 95))
    changed = float((difference[box_mask] > bar).mean())
    return changed <= _MAX_CHANGED
