"""Allocator settings for ingest processes (glibc only; elsewhere nothing happens).

Every chunk allocates and frees tens of MB in blocks above glibc's default thresholds (1 MiB
read blocks, line objects, the scanner's column buffers): glibc then returns the memory to the
system on ``free`` and the next chunk takes it back page by page, a page fault and a zeroed
page each time. Keeping freed memory in the heap (up to :data:`KEEP_BYTES`) saves that system
time. Peak memory is unchanged: what is kept is what the previous chunk used.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Freed heap memory kept for reuse before glibc trims it.
KEEP_BYTES = 256 << 20
#: Allocations up to this size come from the heap (glibc's ceiling for the setting).
MMAP_BYTES = 32 << 20
_DEFAULT_TRIM = 128 << 10


def _mallopt() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.mallopt
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> bool:
    """Apply the settings for the rest of this process (ingest worker processes)."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES))


@contextmanager
def freed_memory_kept() -> Iterator[None]:
    """The settings for the duration of the block (ingest inline in a longer-lived process);
    afterwards freed memory is trimmed again as by default (allocations up to
    :data:`MMAP_BYTES` keep coming from the heap: glibc has no way back to its adaptive
    threshold)."""
    applied = keep_freed_memory()
    try:
        yield
    finally:
        mallopt = _mallopt() if applied else None
        if mallopt is not None:
            mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)
