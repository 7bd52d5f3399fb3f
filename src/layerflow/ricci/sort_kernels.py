"""Numba sort of (distance, index) pairs (internal; used by the exact kNN re-rank).

The exact kNN ranks a row's candidates by (exact squared distance, index). Those distances are
float64 values ≥ +0.0 (sums of squares: never −0.0 or NaN; +inf on overflow), whose IEEE bit
patterns read as unsigned integers are in the same order as the values. A radix sort on the high
bits of those patterns puts them almost in order without a comparison, hence without the
mispredicted branches that make a comparison sort of a few hundred random keys slow; an
insertion pass on the full (distance, index) then finishes it, moving only entries whose high
bits tie. Short lists use insertion alone. The order is total (indices are distinct), so every
correct sort gives the same result.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["RADIX_MIN", "sort_pairs", "sort_work"]

# lists at least this long are radix sorted; shorter ones by insertion
RADIX_MIN = 48


@njit(cache=True, nogil=True)
def _insertion(v: np.ndarray, ix: np.ndarray, n: int) -> None:
    for c in range(1, n):
        dd = v[c]
        j = ix[c]
        pos = c
        while pos > 0 and (dd < v[pos - 1] or (dd == v[pos - 1] and j < ix[pos - 1])):
            v[pos] = v[pos - 1]
            ix[pos] = ix[pos - 1]
            pos -= 1
        v[pos] = dd
        ix[pos] = j


@njit(cache=True, nogil=True)
def _radix_pass(src_k: np.ndarray, src_i: np.ndarray, dst_k: np.ndarray, dst_i: np.ndarray,
                n: int, shift: int, counts: np.ndarray) -> None:
    """One stable counting pass on the byte of the key's high 32 bits at ``shift`` (32 … 56)."""
    counts[:] = 0
    sh = np.uint64(shift)
    for c in range(n):
        counts[(src_k[c] >> sh) & np.uint64(255)] += 1
    total = 0
    for b in range(256):
        t = counts[b]
        counts[b] = total
        total += t
    for c in range(n):
        d = (src_k[c] >> sh) & np.uint64(255)
        p = counts[d]
        counts[d] = p + 1
        dst_k[p] = src_k[c]
        dst_i[p] = src_i[c]


@njit(cache=True, nogil=True)
def sort_pairs(
    v: np.ndarray, ix: np.ndarray, n: int, tmp_v: np.ndarray, tmp_i: np.ndarray, counts: np.ndarray
) -> None:
    """Sort ``v[:n]`` (float64 ≥ +0.0, or +inf) with ``ix[:n]`` (distinct int64) in place by
    (value, index). ``tmp_v``, ``tmp_i`` (at least n entries) and ``counts`` (256 int64) are work
    buffers (:func:`sort_work`).

    A radix sort on the high 32 bits of the values (sign, exponent and 20 mantissa bits; only
    the bytes below the highest bit in which the values differ), then an insertion pass on the
    full (value, index) that orders the rare runs sharing those 32 bits and otherwise moves
    nothing."""
    if n >= RADIX_MIN:
        a_k = v[:n].view(np.uint64)
        a_i = ix[:n]
        b_k = tmp_v[:n].view(np.uint64)
        b_i = tmp_i[:n]
        lo = a_k[0]
        hi = a_k[0]
        for c in range(1, n):
            lo = min(lo, a_k[c])
            hi = max(hi, a_k[c])
        diff = (lo ^ hi) >> np.uint64(32)
        in_a = True
        shift = 32
        while shift < 64 and (diff >> np.uint64(shift - 32)) != 0:
            if in_a:
                _radix_pass(a_k, a_i, b_k, b_i, n, shift, counts)
            else:
                _radix_pass(b_k, b_i, a_k, a_i, n, shift, counts)
            in_a = not in_a
            shift += 8
        if not in_a:
            a_k[:] = b_k
            a_i[:] = b_i
    _insertion(v, ix, n)


def sort_work(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Work buffers of :func:`sort_pairs` for lists of up to m entries."""
    return (
        np.empty(m, dtype=np.float64),
        np.empty(m, dtype=np.int64),
        np.empty(256, dtype=np.int64),
    )
