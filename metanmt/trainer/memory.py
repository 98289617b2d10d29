"""The process's heap: freed memory handed back to the system, and large tensors kept off the
heap (glibc's malloc_trim and mallopt; no-ops elsewhere)."""

from __future__ import annotations

import ctypes
import ctypes.util
import resource

_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or None)


def return_freed_memory() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; a no-op elsewhere)."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


# glibc serves allocations above a threshold from their own mappings, returned when freed; it
# raises the threshold after each such free (up to 32 MiB), so that later tensors of a few MiB
# land on the heap, where freed pieces of ever-changing batch shapes fragment it. A fixed
# threshold keeps every large tensor off the heap (BENCHMARKS.md, issue 26: peak and speed).
MMAP_THRESHOLD = 1 << 20
M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


def bound_heap_growth(threshold: int | None = None) -> None:
    """Serve allocations of ``threshold`` bytes and more (default ``MMAP_THRESHOLD``) from their
    own mappings, for the rest of this process. 0 leaves glibc's adaptive threshold."""
    threshold = MMAP_THRESHOLD if threshold is None else threshold
    mallopt = getattr(_LIBC, "mallopt", None)
    if mallopt is not None and threshold > 0:
        mallopt(M_MMAP_THRESHOLD, threshold)


def peak_resident_mib() -> float:
    """The most resident memory this process has held so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
