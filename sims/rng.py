"""Counter-based random numbers keyed by a seed and the *content* of each input row.

Attacks draw random starts from :func:`row_normal` / :func:`row_uniform`: the numbers for a row depend
only on ``(seed, stream, the row's values)``, never on the row's position in the batch or on which
ensemble member is attacked. So attacking one row alone gives exactly the result of attacking it inside
a batch, and member ``i`` of an ensemble sees the same random start as the same network attacked alone.

The generator is SplitMix64 (Steele, Lea & Flood 2014) applied to a per-row key hashed from the row's
float64 bit patterns, then to ``key + counter``; uniforms take the top 53 bits, normals use Box–Muller.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["row_keys", "row_normal", "row_uniform"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _splitmix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return np.asarray(z ^ (z >> np.uint64(31)))


def row_keys(X: Tensor, seed: int, stream: int = 0) -> np.ndarray:
    """One 64-bit key per row of ``X`` (any leading shape), from ``seed``, ``stream`` and the row values.

    Each entry's float64 bit pattern is hashed together with its column index, the hashes are summed
    (wrapping) along the row, and the sum is mixed with the seed and stream: one vectorised pass.
    """
    rows = X.detach().to(device="cpu", dtype=torch.float64).reshape(-1, X.shape[-1]).numpy()
    bits = np.ascontiguousarray(rows).view(np.uint64)
    cols = np.arange(bits.shape[1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = _splitmix(bits ^ _splitmix(cols * _GOLDEN)[None, :]).sum(axis=1, dtype=np.uint64)
        h = _splitmix(h ^ _splitmix(np.asarray(np.uint64(seed & 0xFFFFFFFFFFFFFFFF))))
        return _splitmix(h ^ np.uint64(stream & 0xFFFFFFFFFFFFFFFF))


def _uniform01(keys: np.ndarray, width: int, offset: int = 0) -> np.ndarray:
    """``(rows, width)`` uniforms in (0, 1) from counters ``offset … offset+width−1`` of each key."""
    ctr = np.arange(offset, offset + width, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = _splitmix(keys[:, None] + ctr[None, :] * _GOLDEN)
    return ((z >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def row_uniform(X: Tensor, width: int, seed: int, stream: int = 0) -> Tensor:
    """Uniforms in (0, 1), ``X.shape[:-1] + (width,)``, keyed by each row of ``X`` (dtype/device of X)."""
    u = _uniform01(row_keys(X, seed, stream), width)
    return torch.as_tensor(u, dtype=X.dtype, device=X.device).reshape(*X.shape[:-1], width)


def row_normal(X: Tensor, width: int, seed: int, stream: int = 0) -> Tensor:
    """Standard normals, ``X.shape[:-1] + (width,)``, keyed by each row of ``X`` (Box–Muller)."""
    keys = row_keys(X, seed, stream)
    u1 = _uniform01(keys, width, 0)
    u2 = _uniform01(keys, width, width)
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return torch.as_tensor(z, dtype=X.dtype, device=X.device).reshape(*X.shape[:-1], width)
