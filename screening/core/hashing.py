"""Perceptual hashing for near-duplicate search (the index lives on the Django side)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from .decode import DecodedImage

__all__ = ["perceptual_hash", "phash_plane", "hamming"]


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


def perceptual_hash(decoded: DecodedImage) -> int:  # noqa: F821 - avoid an import cycle
    """Return the 64-bit perceptual hash of a decoded image (an unsigned int < 2**64)."""
    return phash_plane(cv2.cvtColor(decoded.rgb, cv2.COLOR_RGB2GRAY))


def hamming(a: int, b: int) -> int:
    """Return the number of differing bits between two 64-bit hashes."""
    return int((a ^ b).bit_count())
