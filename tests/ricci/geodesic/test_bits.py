"""The uint64 bit intrinsics against Python's integers."""

from __future__ import annotations

import numpy as np
from numba import njit

from layerflow.ricci._shortest_paths import leading_zeros, popcount, trailing_zeros


@njit(cache=False)
def _all(x: np.ndarray) -> np.ndarray:
    out = np.empty((x.shape[0], 3), dtype=np.int64)
    for i in range(x.shape[0]):
        out[i, 0] = popcount(x[i])
        out[i, 1] = trailing_zeros(x[i])
        out[i, 2] = leading_zeros(x[i])
    return out


def test_bits_equal_python_integers() -> None:
    rng = np.random.default_rng(0)
    words = [0, 1, 2, 3, 2**63, 2**64 - 1, 2**32, 0x0F0F_0000_0000_0000]
    words += [int(w) for w in rng.integers(0, 2**63, size=50, dtype=np.uint64)]
    words += [1 << s for s in range(64)]
    got = _all(np.array(words, dtype=np.uint64))
    for w, (pc, tz, lz) in zip(words, got, strict=True):
        assert pc == bin(w).count("1")
        assert tz == (64 if w == 0 else (w & -w).bit_length() - 1)
        assert lz == 64 - w.bit_length()
