"""Files a merchant uploads in the portal tests: real, small, made on the spot."""

from __future__ import annotations

import functools
import os
import tempfile

import cv2
import numpy as np


@functools.cache
def small_mp4(frames: int = 10) -> bytes:
    """Return a real MP4 packing video of a few grey frames (64×48)."""
    fd, path = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
        for i in range(frames):
            writer.write(np.full((48, 64, 3), i * 20 % 256, np.uint8))
        writer.release()
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(path)
