"""A screening worker keeps the memory one image freed for the next (screening/core/memory.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

# Each "image" allocates six planes of 12 MB (a forgery's finer plane at 2000x1500, float32)
# at once and frees them; the page faults of five more images are counted after the first.
_IMAGES = """
import resource, sys
import numpy as np
from screening.core.memory import keep_freed_memory

if sys.argv[1] == "keep":
    assert keep_freed_memory()

def image():
    planes = [np.ones((1500, 2000), np.float32) for _ in range(6)]
    del planes

image()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    image()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _IMAGES, mode], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_worker_that_keeps_freed_memory_touches_no_new_pages_for_the_next_images():
    # Without it, glibc hands the heap's top back to the kernel after each image, which
    # zeroes every page again (~3 000 faults an image here).
    assert _faults("plain") > 5 * 1000
    assert _faults("keep") < 100
