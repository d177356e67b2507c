"""Keep the agent's resident memory close to what it holds.

Each scan renders a few MB of metrics text and each scrape copies it once more. glibc's malloc
raises its mmap threshold whenever such a block is freed, so the next ones come from the heap
arenas (one per serving thread), where freed memory mostly stays resident. With the threshold
pinned, a large block is mapped for its lifetime and unmapped when freed. Measured at 3,500
processes: the agent's RSS after a few scans went from ~73 MiB to ~57 MiB.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # glibc's mallopt(3) parameter
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, kept from now on


def pin_mmap_threshold() -> bool:
    """Whether the C library took it (glibc does; musl has no mallopt)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
