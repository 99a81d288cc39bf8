"""The evidence warped into its matched reference's frame, for the reviewers' overlay.

Display only: screening has decided already. The picture is drawn once per pair of files
and kept in storage under their hashes.
"""

from __future__ import annotations

import cv2
import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from refunds.models import Evidence, ReferenceImage

# The overlay is viewed at page width; larger planes cost time and show nothing more.
_LONG_SIDE = 1000
_MIN_INLIERS = 12
VERSION = "1"


def _plane(stored: Evidence | ReferenceImage) -> np.ndarray:
    with stored.file.open("rb") as handle:
        data = np.frombuffer(handle.read(), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("unreadable image")
    scale = _LONG_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return image


def _homography(evidence: np.ndarray, reference: np.ndarray) -> np.ndarray | None:
    """Return the homography taking evidence pixels to reference pixels, or None."""
    orb = cv2.ORB_create(3000)
    ev_points, ev_desc = orb.detectAndCompute(cv2.cvtColor(evidence, cv2.COLOR_BGR2GRAY), None)
    ref_points, ref_desc = orb.detectAndCompute(cv2.cvtColor(reference, cv2.COLOR_BGR2GRAY), None)
    if ev_desc is None or ref_desc is None or len(ev_desc) < _MIN_INLIERS or len(ref_desc) < _MIN_INLIERS:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ev_desc, ref_desc, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < _MIN_INLIERS:
        return None
    src = np.float32([ev_points[m.queryIdx].pt for m in good]).reshape(-1, 1, 2)
    dst = np.float32([ref_points[m.trainIdx].pt for m in good]).reshape(-1, 1, 2)
    matrix, mask = cv2.findHomography(src, dst, cv2.RANSAC, 4.0)
    if matrix is None or mask is None or int(mask.sum()) < _MIN_INLIERS:
        return None
    return matrix


def aligned_overlay(evidence: Evidence, reference: ReferenceImage) -> str | None:
    """Return the storage name of a PNG of the evidence warped into the reference's frame (the
    reference's aspect ratio, so both can be stacked at one size), or None if they do not align."""
    name = f"aligned/{evidence.sha256[:2]}/{evidence.sha256}-{reference.sha256[:16]}-v{VERSION}.png"
    if default_storage.exists(name):
        return name
    try:
        ev, ref = _plane(evidence), _plane(reference)
    except (OSError, ValueError):
        return None
    matrix = _homography(ev, ref)
    if matrix is None:
        return None
    warped = cv2.warpPerspective(
        ev, matrix, (ref.shape[1], ref.shape[0]), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0)
    )
    ok, png = cv2.imencode(".png", warped, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        return None
    return default_storage.save(name, ContentFile(png.tobytes()))
