"""Where freed memory goes between two training steps: back to the kernel, or kept for the next step.

A training step of a recurrent net allocates tensors of T × B × n floats and frees them before the
next step: on the copy task at the paper's size (T = 1000, B = 128, n = 128) each is 65 MB, and a
step of a dense-recurrence model makes about eight (states, pre-activations, their gradients, the
stacked slices). glibc's ``malloc`` serves every block above its mmap threshold (32 MB at most)
with a fresh ``mmap`` and returns it with ``munmap`` when it is freed, so every step touches new
pages again and the kernel zeroes each on first touch: about 125,000 minor page faults per step of
``qornn-copy``'s paper runs, a third or more of the step (``benchmarks/allocator.py`` measures it
side by side).

:func:`retain_freed_memory` tells glibc to serve large blocks from the heap and never to trim it,
so the next step reuses the same pages. It changes where a tensor lives, never what it holds, so a
run's numbers are the same either way (``qornn.results.RUNTIME_ONLY``); the cost is that the process
keeps its peak memory until it exits. ``qornn run`` and every ``qornn sweep`` task turn it on; on a
C library other than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["retain_freed_memory", "minor_page_faults"]

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
#: glibc's default values: blocks above the mmap threshold get their own mapping, and the heap gives
#: back whatever lies free above 128 KiB at its top
_DEFAULT_MMAP_MAX = 65536
_DEFAULT_TRIM_THRESHOLD = 128 * 1024
#: the largest value mallopt takes (a C int): the heap is never trimmed
_NEVER = 2**31 - 1


@functools.lru_cache(maxsize=1)
def _mallopt():
    """glibc's ``mallopt``, or None where the C library has none (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        function = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return None
    if function is not None:
        function.argtypes, function.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return function


def retain_freed_memory(enabled: bool = True) -> bool:
    """Keep freed memory in the process for the next allocation (``enabled``), or give glibc's
    defaults back (``False``). Returns whether the C library took the setting (False where it is not
    glibc). Affects the allocations made after the call; memory already mapped stays where it is."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mmap_max, trim = (0, _NEVER) if enabled else (_DEFAULT_MMAP_MAX, _DEFAULT_TRIM_THRESHOLD)
    return bool(mallopt(_M_MMAP_MAX, mmap_max)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))


def minor_page_faults() -> int:
    """Minor page faults of this process so far (pages the kernel mapped on first touch)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
