"""Process-level performance settings for the engine's many medium-sized temporaries.

glibc serves every allocation above its mmap threshold (128 KiB at start) with a fresh ``mmap``, so
each temporary of a training or attack step — typically 0.1–4 MiB here — is page-faulted in anew on
every use and unmapped again; freed heap memory is also trimmed back to the OS. Measured with
``python -m benchmarks``: small-shape training ran 1.7× slower than after a single large allocation
had raised glibc's dynamic threshold. :func:`tune_allocator` fixes the thresholds once (mmap at 32 MiB,
no trimming below 512 MiB). It is called when :mod:`sims.nets` is imported; set the environment
variable ``ADVSIM_NO_MALLOC_TUNING=1`` to leave the allocator alone. It does nothing off glibc.

:func:`memory_budget` bounds the working set of chunked measurements (``ADVSIM_MEMORY_BUDGET`` bytes,
default 4 GiB); training and attacks are already bounded by their member blocks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["memory_budget", "tune_allocator"]

#: Default memory budget for one chunk of a measurement (bytes); ``ADVSIM_MEMORY_BUDGET`` overrides it.
DEFAULT_MEMORY_BUDGET = 4 << 30

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


def memory_budget() -> int:
    """Bytes one chunk of a large measurement may take (``ADVSIM_MEMORY_BUDGET``, default 4 GiB)."""
    raw = os.environ.get("ADVSIM_MEMORY_BUDGET")
    if raw is None:
        return DEFAULT_MEMORY_BUDGET
    try:
        value = int(float(raw))
    except ValueError:
        value = 0
    if value < 1:
        from sims.errors import AdvsimError

        raise AdvsimError(f"ADVSIM_MEMORY_BUDGET must be a positive number of bytes; got {raw!r}")
    return value
