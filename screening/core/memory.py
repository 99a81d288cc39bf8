"""The allocator of a process that screens image after image.

Screening a 12-megapixel photograph allocates planes and tile stacks of several to tens
of megabytes, frees them, and allocates them again for the next file. glibc's malloc
serves blocks from 128 kB up to a threshold it raises as they are freed (at most 32 MB)
by mmap, and returns the top of its heap to the kernel once more than twice that
threshold lies free there; the kernel then zeroes every page again when it is touched.
On bench/screening.py's 48 files, screened one after another in one process (`python -m
screening batch --jobs 1`), that was 270 000 page faults and 2.0-2.5 s of system time
beside 13.1-13.8 s of user time; with the limits below, 42 000-44 000 faults and 0.3-0.4 s,
the user time and the peak resident size (~300 MB) unchanged. Values are not touched:
only where the bytes come from.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

# mallopt's parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# The largest threshold glibc accepts on 64-bit systems: a finer plane's arrays stay in the heap.
_MMAP_THRESHOLD = 32 * 1024 * 1024
# The heap's free top is returned to the kernel only beyond this: far above what one
# file's screening frees at once, so a worker keeps its peak (~300 MB) between files.
_TRIM_THRESHOLD = 1024 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Make this process's malloc keep freed memory for the next image rather than return it
    to the kernel; return whether it could (glibc only; elsewhere nothing changes).

    For a process that does nothing but screen (the command line's workers): the memory
    kept is the peak of one image's screening.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
