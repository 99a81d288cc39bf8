"""A picture that fills only part of a cluttered photograph, its corners spoilt at full size, is still
aligned at half size: where the half-size keypoints were all spent on the clutter around it, more are
asked for."""

from __future__ import annotations

import cv2
import numpy as np

from bench import synthetic
from screening.core import analyse_reference
from screening.core.align import extract_coarse_features, extract_features, match_features
from screening.core.decode import decode_image
from screening.core.screen import _aligned_candidates


def _screen_among_clutter() -> tuple[bytes, tuple[float, float]]:
    """Return (a 2400x1800 JPEG, the picture's centre in it): the catalogue photo turned a quarter,
    shown at 45 % of the photograph's height under a screen's fine fringes, dimmed, on gravel."""
    width, height = 2400, 1800
    gravel = cv2.resize(synthetic.photo("gravel"), (width // 3, height // 3), interpolation=cv2.INTER_AREA)
    scene = np.tile(gravel, (3, 3, 1)).astype(np.float32)
    scene = 128 + 0.7 * (scene - scene.mean())
    turned = np.ascontiguousarray(np.rot90(synthetic.photo("chelsea")))
    k = 0.45 * height / turned.shape[0]
    small = cv2.resize(turned, (int(turned.shape[1] * k), int(turned.shape[0] * k)), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    # A display's grid beating with the camera's: fringes 2.2 px apart over the picture.
    fringes = 0.5 + 0.5 * np.cos(2 * np.pi * xx / 2.2) * np.cos(2 * np.pi * yy / 2.2)
    y0, x0 = (height - sh) // 2, (width - sw) // 2
    scene[y0 : y0 + sh, x0 : x0 + sw] = small.astype(np.float32) * 0.8 * (0.55 + 0.45 * fringes[..., None])
    return synthetic.jpeg(np.clip(scene, 0, 255).astype(np.uint8), 88), (x0 + sw / 2, y0 + sh / 2)


def test_a_screen_filling_part_of_a_cluttered_photograph_is_aligned_at_half_size():
    reference = analyse_reference(synthetic.jpeg(synthetic.photo("chelsea"), 92))
    data, (cx, cy) = _screen_among_clutter()
    decoded = decode_image(data)
    gray = cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY)
    # Neither the working plane's corners nor the first half-size ones pair with the reference's.
    assert match_features(reference.features, extract_features(gray)) is None
    assert match_features(reference.coarse_features, extract_coarse_features(gray)) is None
    _, aligned = _aligned_candidates(decoded, gray, [reference])
    assert len(aligned) == 1
    _, _, alignment, _ = aligned[0]
    assert alignment.method == "features" and alignment.inliers >= 18
    rh, rw = reference.rgb.shape[:2]
    centre = cv2.perspectiveTransform(np.float32([[[rw / 2, rh / 2]]]), alignment.homography)[0, 0]
    assert np.hypot(centre[0] - cx * decoded.scale, centre[1] - cy * decoded.scale) < 3.0
