"""Process-level performance settings for the engine's many medium-sized temporaries.

glibc serves every allocation above its mmap threshold (128 KiB at start) with a fresh ``mmap``, so
each temporary of a training or attack step — typically 0.1–4 MiB here — is page-faulted in anew on
every use and unmapped again; freed heap memory is also trimmed back to the OS. Measured with
``python -m benchmarks``: small-shape training ran 1.7× slower than after a single large allocation
had raised glibc's dynamic threshold. :func:`tune_allocator` fixes the thresholds once (mmap at 32 MiB,
no trimming below 512 MiB). It is called when :mod:`sims.nets` is imported; set the environment
variable ``ADVSIM_NO_MALLOC_TUNING=1`` to leave the allocator alone. It does nothing off glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_allocator"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done: bool | None = None


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True if applied."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("ADVSIM_NO_MALLOC_TUNING") or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20) == 1
        ok &= libc.mallopt(_M_TRIM_THRESHOLD, 512 << 20) == 1
    except (OSError, AttributeError):
        return False
    _done = bool(ok)
    return _done
