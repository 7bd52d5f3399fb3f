"""Candidate keys of the exact kNN from half the Gram matrix (internal; large point clouds).

The keys ``sqs_j − 2 xs_i·xs_j`` of :mod:`layerflow.ricci.knn` come from the product of the points
with themselves, which is symmetric: ``xs_i·xs_j`` serves row i and row j. Here the points are
taken in blocks of rows I; one BLAS product ``G = X_I · X_{j ≥ min I}ᵀ`` gives the keys of the rows
in I against every later column and, read by columns, the keys of every later row against I. Each
row keeps its ``m + 1`` smallest keys in a bounded max-heap; every ordered pair (i, j), i ≠ j, is
offered exactly once. That is half the multiply-adds of the row-by-row path (which dominate wide
states: 6·10¹¹ of them at 20,000 × 768) for the same candidates.

At the end, per row, the heap's root is the best non-candidate key (the threshold) and the other
m entries are the candidates: from there the exact re-rank and the certification are those of the
row path (:func:`~layerflow.ricci.knn_kernels.rerank_candidates`), and a row that is not certified
is done again by the row path with float64 keys. The answer is the exact one either way.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["symmetric_candidates"]


@njit(cache=True, nogil=True, inline="always")
def _replace_root(hv: np.ndarray, hi: np.ndarray, v: float, j: int) -> None:
    """Put (v, j) in place of the root of the max-heap ``hv`` (``hi`` moved along), sift down."""
    s = hv.shape[0]
    pos = 0
    while True:
        c = 2 * pos + 1
        if c >= s:
            break
        if c + 1 < s and hv[c + 1] > hv[c]:
            c += 1
        if hv[c] <= v:
            break
        hv[pos] = hv[c]
        hi[pos] = hi[c]
        pos = c
    hv[pos] = v
    hi[pos] = j


@njit(cache=True, nogil=True)
def _offer_block(
    G: np.ndarray,
    sqs: np.ndarray,
    i0: int,
    i1: int,
    hval: np.ndarray,
    hidx: np.ndarray,
    hmax: np.ndarray,
) -> None:
    """Offer the keys of ``G[r, c] ≈ xs_{i0+r}·xs_{i0+c}`` (rows i0 … i1−1, columns i0 … N−1):
    to the heaps of the rows for every column, and to the heaps of the columns j ≥ i1."""
    R, C = G.shape
    for r in range(R):
        i = i0 + r
        g = G[r]
        hv = hval[i]
        hi = hidx[i]
        top = hmax[i]
        for c in range(C):
            v = sqs[i0 + c] - 2.0 * g[c]
            if v < top and i0 + c != i:
                _replace_root(hv, hi, v, i0 + c)
                top = hv[0]
        hmax[i] = top
        si = sqs[i]
        for c in range(i1 - i0, C):
            j = i0 + c
            v = si - 2.0 * g[c]
            if v < hmax[j]:
                _replace_root(hval[j], hidx[j], v, i)
                hmax[j] = hval[j, 0]


def symmetric_candidates(
    Xg: np.ndarray, sqs: np.ndarray, m: int, block: int
) -> tuple[np.ndarray, np.ndarray]:
    """The m candidates and the threshold key of every row, from half the Gram matrix.

    ``Xg`` (N, d): the scaled points (float32 or float64) whose products make the keys;
    ``sqs`` (N,): their float64 squared norms; ``m + 1 < N − 1``. Returns ``cand`` (N, m) int64
    (the m smallest keys of row i, any order, i excluded) and ``threshold`` (N,) float64 (the
    (m+1)-th smallest key: every other point's key is at least this)."""
    n = Xg.shape[0]
    hval = np.full((n, m + 1), np.inf, dtype=np.float64)
    hidx = np.full((n, m + 1), -1, dtype=np.int64)
    hmax = np.full(n, np.inf, dtype=np.float64)
    buf = np.empty(block * n, dtype=Xg.dtype)
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        Gb = buf[: (i1 - i0) * (n - i0)].reshape(i1 - i0, n - i0)
        np.matmul(Xg[i0:i1], Xg[i0:].T, out=Gb)
        _offer_block(Gb, sqs, i0, i1, hval, hidx, hmax)
    return np.ascontiguousarray(hidx[:, 1:]), hval[:, 0].copy()
