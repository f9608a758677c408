"""The one error type advsim raises for bad input, and the small validators that raise it.

Every public entry point validates its arguments with these helpers, so a bad value always produces
an :class:`AdvsimError` whose message names the parameter, the value received and the allowed range.
``AdvsimError`` subclasses :class:`ValueError`, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "AdvsimError",
    "check_choice",
    "check_finite",
    "check_float",
    "check_int",
]


class AdvsimError(ValueError):
    """Invalid input to advsim: the message names the parameter and its allowed range."""


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise AdvsimError(f"{name} must be an integer{_range(lo, hi, True, True)}, got {value!r}")
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise AdvsimError(f"{name} must be an integer{_range(lo, hi, True, True)}, got {v}")
    return v


def check_float(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """Return ``value`` as a finite float, or raise if it lies outside ``[lo, hi]``.

    ``lo_open``/``hi_open`` make the corresponding end of the interval exclusive.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise AdvsimError(
            f"{name} must be a real number{_range(lo, hi, not lo_open, not hi_open)}, got {value!r}"
        )
    v = float(value)
    bad = not math.isfinite(v)
    if lo is not None:
        bad = bad or (v <= lo if lo_open else v < lo)
    if hi is not None:
        bad = bad or (v >= hi if hi_open else v > hi)
    if bad:
        raise AdvsimError(
            f"{name} must be a finite number{_range(lo, hi, not lo_open, not hi_open)}, got {v!r}"
        )
    return v


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing the allowed names."""
    allowed = tuple(choices)
    if value not in allowed:
        raise AdvsimError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return str(value)


def check_finite(name: str, array: Any) -> None:
    """Raise if ``array`` (numpy array or torch tensor) holds a NaN or an infinity."""
    arr = array.detach().cpu().numpy() if hasattr(array, "detach") else np.asarray(array)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise AdvsimError(f"{name} must be finite everywhere; found {bad} NaN/inf entries")


def _range(lo: float | None, hi: float | None, lo_closed: bool, hi_closed: bool) -> str:
    if lo is None and hi is None:
        return ""
    left = ("[" if lo_closed else "(") + (f"{lo:g}" if lo is not None else "-inf")
    right = (f"{hi:g}" if hi is not None else "inf") + ("]" if hi_closed else ")")
    return f" in {left}, {right}"
