"""Validation of user input: the one error type and the checks every public entry point uses.

Every message has one shape, ``"<parameter> must <be|have|hold> <allowed>; got <value received>"``
(built by :func:`fail`), so a bad value always names the parameter, the allowed range or set, and what
was received (arrays and tensors by shape and dtype, :func:`describe`)::

    >>> check_int("m", 0, 1)
    Traceback (most recent call last):
    ...
    sims.validate.AdvsimError: m must be an integer in [1, inf]; got 0

:class:`AdvsimError` subclasses :class:`ValueError`, so ``except ValueError`` keeps working.
:mod:`sims.errors` re-exports everything here (its historical home).

Where checks run. Public entry points validate their arguments once (shapes, dtypes, devices, finite
values, labels, sizes); the loops inside attacks and training then call the same public methods under
:func:`assume_valid` (as scikit-learn's ``assume_finite``), which skips the per-call scans of inputs
and parameters, so validation costs nothing per step.

Memory. :func:`check_memory` refuses, before anything is allocated, a size whose arrays cannot fit:
more bytes than the device has (physical memory for the CPU, the GPU's memory for CUDA), or than
``ADVSIM_MEMORY_LIMIT`` bytes when that variable is set.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, NoReturn

import numpy as np

__all__ = [
    "AdvsimError",
    "all_finite",
    "assume_valid",
    "check_array",
    "check_bool",
    "check_choice",
    "check_defaults",
    "check_device",
    "check_dtype",
    "check_finite",
    "check_fits",
    "check_float",
    "check_floats",
    "check_instance",
    "check_int",
    "check_labels",
    "check_memory",
    "check_name",
    "check_seeds",
    "check_tensor",
    "checks_enabled",
    "describe",
    "fail",
    "itemsize",
    "memory_limit",
]


class AdvsimError(ValueError):
    """Invalid input to advsim: the message names the parameter, the value and the allowed range."""


_ASSUME_VALID: ContextVar[bool] = ContextVar("advsim_assume_valid", default=False)


@contextlib.contextmanager
def assume_valid() -> Iterator[None]:
    """Skip the per-call input and parameter scans of the engine's public methods inside the block.

    The attacks and the training loop validate their inputs once at entry and then run their steps
    inside this context, so ``forward``/``input_grad`` cost no extra pass per step.
    """
    token = _ASSUME_VALID.set(True)
    try:
        yield
    finally:
        _ASSUME_VALID.reset(token)


def checks_enabled() -> bool:
    """False inside :func:`assume_valid`."""
    return not _ASSUME_VALID.get()


# ----------------------------------------------------------------------------- messages
def describe(value: Any) -> str:
    """A short description of a received value for an error message (arrays by shape and dtype)."""
    if (
        not isinstance(value, type)
        and hasattr(value, "shape")
        and hasattr(value, "dtype")
        and not np.isscalar(value)
    ):
        try:
            kind = "tensor" if type(value).__module__.startswith("torch") else "array"
            dtype = str(value.dtype).removeprefix("torch.")
            device = getattr(value, "device", None)
            where = f" on {device}" if device is not None and str(device) != "cpu" else ""
            return f"a {kind} of shape {tuple(value.shape)} and dtype {dtype}{where}"
        except TypeError:  # something array-like that is not quite an array
            pass
    try:
        text = " ".join(repr(value).split())  # one line, whatever the repr
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    if len(text) > 80:
        text = text[:77] + "..."
    if isinstance(value, int | float | str | bool | type(None) | np.number | np.bool_):
        return text
    return f"{text} ({type(value).__name__})"


def fail(name: str, allowed: str, got: Any, *, raw: bool = False, verb: str = "be") -> NoReturn:
    """Raise ``AdvsimError("<name> must <verb> <allowed>; got <got>")`` (``got`` described by
    :func:`describe` unless ``raw``)."""
    raise AdvsimError(f"{name} must {verb} {allowed}; got {got if raw else describe(got)}")


def check_defaults(obj: object, defaults: dict[str, object], why: str) -> None:
    """Raise unless every attribute of ``obj`` named in ``defaults`` has its default value: fields
    that have no meaning in ``obj``'s current mode (a generator's knobs when the data are real, say),
    so a value given there is refused rather than silently ignored; ``why`` ends the message ("its
    default <value> <why>")."""
    for name, default in defaults.items():
        if getattr(obj, name) != default:
            fail(name, f"its default {default!r} {why}", getattr(obj, name))


def _range(lo: float | None, hi: float | None, lo_closed: bool, hi_closed: bool) -> str:
    if lo is None and hi is None:
        return ""
    left = ("[" if lo_closed else "(") + (f"{lo:g}" if lo is not None else "-inf")
    right = (f"{hi:g}" if hi is not None else "inf") + ("]" if hi_closed else ")")
    return f" in {left}, {right}"


# ----------------------------------------------------------------------------- scalars
def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer in ``[lo, hi]`` (booleans and
    floats are not integers)."""
    allowed = f"an integer{_range(lo, hi, True, True)}"
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        fail(name, allowed, value)
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        fail(name, allowed, v)
    return v


def check_float(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    dtype: Any = None,
) -> float:
    """Return ``value`` as a finite float, or raise if it lies outside ``[lo, hi]``.

    ``lo_open``/``hi_open`` make the corresponding end of the interval exclusive. With a floating
    ``dtype`` (numpy or torch) the value must also be representable in it (``|v|`` at most its largest
    finite value): an ε of ``1e39`` would become ``inf`` in float32.
    """
    allowed = f"a finite real number{_range(lo, hi, not lo_open, not hi_open)}"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        fail(name, allowed, value)
    v = float(value)
    bad = not math.isfinite(v)
    if lo is not None:
        bad = bad or (v <= lo if lo_open else v < lo)
    if hi is not None:
        bad = bad or (v >= hi if hi_open else v > hi)
    if bad:
        fail(name, allowed, v)
    if dtype is not None:
        check_fits(name, v, dtype)
    return v


def check_floats(
    name: str,
    value: Any,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
    allow_tuple: bool = True,
) -> None:
    """Raise unless ``value`` is a number in the range, or (``allow_tuple``) a non-empty tuple of them
    (one value per ensemble member); entries are named ``<name>[i]``."""
    if allow_tuple and isinstance(value, tuple):
        if not value:
            fail(
                name, f"a number{_range(lo, hi, not lo_open, not hi_open)} or one per member", value
            )
        for i, v in enumerate(value):
            check_float(f"{name}[{i}]", v, lo, hi, lo_open=lo_open, hi_open=hi_open)
        return
    check_float(name, value, lo, hi, lo_open=lo_open, hi_open=hi_open)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (``True``/``False``, not ``"no"`` or ``1``), else raise."""
    if not isinstance(value, bool | np.bool_):
        fail(name, "a bool (True or False)", value)
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing the allowed names."""
    allowed = tuple(choices)
    if not isinstance(value, str) or value not in allowed:
        fail(name, f"one of {', '.join(map(repr, allowed))}", value)
    return value


def check_instance(name: str, value: Any, types: type | tuple[type, ...], what: str) -> Any:
    """Return ``value`` if it is an instance of ``types``, else raise (``what`` names the type)."""
    if not isinstance(value, types):
        fail(name, what, value)
    return value


def check_name(name: str, value: Any) -> str:
    """A single path component: a non-empty string without separators, ``..``, NUL or a leading
    dot (used for simulation names and run keys, which become folder names)."""
    allowed = "a non-empty name without '/', '\\\\', '..', NUL or a leading '.'"
    if (
        not isinstance(value, str)
        or not value
        or value.startswith(".")
        or any(c in value for c in ("/", "\\", "\0"))
        or ".." in value
        or (os.altsep is not None and os.altsep in value)
    ):
        fail(name, allowed, value)
    return value


# ----------------------------------------------------------------------------- arrays and tensors
def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "is_floating_point")


def _finite_count(x: Any) -> int:
    """Number of NaN/inf entries of a numpy array or torch tensor."""
    if _is_tensor(x):
        import torch

        return int(x.numel() - int(torch.isfinite(x).sum()))
    return int(np.size(x) - np.count_nonzero(np.isfinite(x)))


def all_finite(t: Any) -> bool:
    """Whether the torch tensor ``t`` holds no NaN or infinity.

    A sum is finite exactly when every entry is, unless the sum itself overflows; so one fast
    reduction decides almost always (``torch.isfinite`` runs at a fraction of a sum's speed on the
    CPU), and the exact elementwise test runs only when the sum is not finite.
    """
    import torch

    return bool(t.numel() == 0 or torch.isfinite(t.sum()).item() or torch.isfinite(t).all().item())


def check_finite(name: str, array: Any) -> None:
    """Raise if ``array`` (numpy array or torch tensor) holds a NaN or an infinity."""
    if _is_tensor(array):
        if all_finite(array):
            return
    else:
        arr = np.asarray(array)
        if arr.dtype.kind not in "biufc":
            fail(name, "a numeric array", array)
        if np.all(np.isfinite(arr)):
            return
    bad = _finite_count(array)
    fail(name, "finite everywhere", f"{describe(array)} with {bad} NaN/inf entries", raw=True)


def check_fits(name: str, value: Any, dtype: Any) -> None:
    """Raise unless every value has a magnitude representable in the floating ``dtype``."""
    big = _finfo_max(dtype)
    if big is None:
        return
    arr = np.abs(np.asarray(value, dtype=np.float64))
    if arr.size and float(np.max(arr)) > big:
        fail(
            name,
            f"at most {big:.4g} in magnitude (the largest {_dtype_name(dtype)} number)",
            float(np.max(arr)),
        )


def _dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def _finfo_max(dtype: Any) -> float | None:
    try:
        import torch

        if isinstance(dtype, torch.dtype):
            return float(torch.finfo(dtype).max) if dtype.is_floating_point else None
    except ImportError:  # pragma: no cover - readers without torch
        pass
    dt = np.dtype(dtype)
    return float(np.finfo(dt).max) if dt.kind == "f" else None


def _shape_text(shape: Sequence[int | str | None]) -> str:
    parts = [str(s) if s is not None else "*" for s in shape]
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _check_shape(name: str, x: Any, shapes: Sequence[Sequence[int | str | None]]) -> None:
    """``shapes``: accepted shapes; an entry is an int (exact), a str (a named size, any value) or
    ``None`` (any)."""
    got = tuple(int(s) for s in x.shape)
    for shape in shapes:
        if len(shape) == len(got) and all(
            not isinstance(s, int) or s == g for s, g in zip(shape, got, strict=True)
        ):
            return
    fail(name, "shape " + " or ".join(_shape_text(s) for s in shapes), x, verb="have")


def check_tensor(
    name: str,
    x: Any,
    *,
    shapes: Sequence[Sequence[int | str | None]] | None = None,
    like: Any = None,
    finite: bool = True,
    nonempty: bool = True,
) -> Any:
    """Check a torch tensor and return it.

    Raises unless ``x`` is a tensor of a real floating dtype (not integer, bool or complex), of one of
    ``shapes`` (when given), with at least one entry (``nonempty``), finite everywhere (``finite``) and,
    when ``like`` (a tensor) is given, on ``like``'s device. Data of another floating dtype than
    ``like``'s are accepted: the engine casts them to the model's dtype.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        fail(name, "a torch tensor", x)
    if not x.is_floating_point():
        fail(name, "a tensor of a real floating dtype (float32 or float64)", x)
    if shapes is not None:
        _check_shape(name, x, shapes)
    if nonempty and x.numel() == 0:
        fail(name, "a tensor with at least one entry", x)
    if like is not None and x.device != like.device:
        fail(name, f"on the model's device {like.device} (move it with .to(device))", x)
    if finite:
        check_finite(name, x)
    return x


def check_array(
    name: str,
    x: Any,
    *,
    ndim: int | None = None,
    shapes: Sequence[Sequence[int | str | None]] | None = None,
    finite: bool = True,
    nonempty: bool = True,
) -> np.ndarray:
    """``x`` as a float64 numpy array (from any real numeric array-like; a tensor is moved to the
    CPU), or raise: complex, object, string or boolean values, the wrong number of axes or shape, no
    entries, or a NaN/inf."""
    if _is_tensor(x):
        x = x.detach().cpu().numpy()
    try:
        raw = np.asarray(x)
    except (ValueError, TypeError):
        fail(name, "a real numeric array", x)
    if raw.dtype.kind not in "iuf":
        fail(name, "a real numeric array (not complex, boolean, string or object)", raw)
    arr = raw.astype(np.float64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        fail(name, f"{ndim} axes", arr, verb="have")
    if shapes is not None:
        _check_shape(name, arr, shapes)
    if nonempty and arr.size == 0:
        fail(name, "an array with at least one entry", arr)
    if finite:
        check_finite(name, arr)
    return arr


def check_labels(name: str, y: Any, n: int | None = None, members: int | None = None) -> None:
    """Raise unless ``y`` (tensor or array) has shape ``(n,)`` — or, where ``members`` is given,
    ``(n,)`` or ``(members, n)`` (one label set per member: per-member data) — and labels in
    {-1, +1} (not 0/1)."""
    shapes = [(n,)] if members is None else [(n,), (members, n)]
    want = f"shape ({n},) (one label per point)" + (
        "" if members is None else f" or ({members}, {n}) (one label set per member)"
    )
    if _is_tensor(y):
        import torch

        if y.is_complex() or y.dtype == torch.bool:
            fail(name, "real labels in {-1, +1}", y, verb="hold")
        if n is not None and tuple(y.shape) not in shapes:
            fail(name, want, y, verb="have")
        ok = bool(torch.all((y == 1) | (y == -1)))
    else:
        arr = np.asarray(y)
        if arr.dtype.kind not in "iuf":
            fail(name, "real labels in {-1, +1}", arr, verb="hold")
        if n is not None and arr.shape not in shapes:
            fail(name, want, arr, verb="have")
        ok = bool(np.all((arr == 1) | (arr == -1)))
    if not ok:
        fail(name, "labels in {-1, +1} (not 0/1)", y, verb="hold")


# ----------------------------------------------------------------------------- memory
def memory_limit(device: Any = "cpu") -> int:
    """Bytes the arrays of one call may take on ``device``: ``ADVSIM_MEMORY_LIMIT`` if set, else the
    device's memory (physical memory for the CPU; the GPU's total memory for CUDA)."""
    raw = os.environ.get("ADVSIM_MEMORY_LIMIT")
    if raw is not None:
        try:
            value = int(float(raw))
        except ValueError:
            value = 0
        if value < 1:
            fail("ADVSIM_MEMORY_LIMIT", "a positive number of bytes", raw)
        return value
    dev = str(device)
    if dev.startswith("cuda"):
        try:
            import torch

            return int(torch.cuda.get_device_properties(torch.device(dev)).total_memory)
        except Exception:  # no usable GPU: the device check reports that
            return 1 << 62
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 1 << 62


def check_memory(name: str, value: Any, nbytes: float, device: Any = "cpu") -> None:
    """Refuse, before allocating, a size whose arrays (about ``nbytes``) cannot fit on ``device``.

    ``name``/``value`` name the parameter(s) that set the size, e.g. ``"n x d", (n, d)``.
    """
    limit = memory_limit(device)
    if nbytes > limit:
        fail(
            name,
            f"small enough to fit in memory ({limit:.3g} bytes on {device})",
            f"{value!r}, which needs about {nbytes:.3g} bytes",
            raw=True,
        )


def itemsize(dtype: Any) -> int:
    """Bytes per element of a numpy or torch dtype."""
    try:
        import torch

        if isinstance(dtype, torch.dtype):
            return int(torch.empty((), dtype=dtype).element_size())
    except ImportError:  # pragma: no cover
        pass
    return int(np.dtype(dtype).itemsize)


def check_dtype(name: str, dtype: Any) -> Any:
    """Return ``dtype`` if it is a real floating torch dtype (float16, bfloat16, float32, float64)."""
    import torch

    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        fail(name, "a real floating torch dtype (torch.float32 or torch.float64)", dtype)
    return dtype


def check_device(name: str, device: Any) -> Any:
    """Return ``torch.device(device)`` if it names a device this machine has, else raise."""
    import torch

    if not isinstance(device, str | torch.device):
        fail(name, "a device name such as 'cpu' or 'cuda'", device)
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        fail(name, "a device name such as 'cpu' or 'cuda'", device)
    if dev.type == "cuda" and (
        not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()
    ):
        fail(name, "a device this machine has (torch sees no such CUDA GPU; use 'cpu')", device)
    if dev.type not in ("cpu", "cuda", "mps"):
        fail(name, "'cpu', 'cuda' or 'mps'", device)
    return dev


def check_seeds(name: str, seeds: Any, *, min_len: int = 1) -> list[int]:
    """A list of non-negative integer seeds (one per member), or raise."""
    if isinstance(seeds, str | bytes) or not isinstance(seeds, Sequence | np.ndarray):
        fail(name, "a sequence of integer seeds >= 0 (one per member)", seeds)
    if len(seeds) < min_len:
        fail(name, f"a sequence of at least {min_len} integer seeds (one per member)", seeds)
    return [check_int(f"{name}[{i}]", s, 0, 2**63 - 1) for i, s in enumerate(seeds)]
