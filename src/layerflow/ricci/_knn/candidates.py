"""Candidates of the exact kNN from approximate keys (Numba kernels).

Row i of a BLAS block gives the keys ``sqs_j − 2 xs_i·xs_j`` (the scaled squared distance minus
``sqs_i``, within a proven rounding bound; :mod:`layerflow.ricci._knn`). :func:`nominate` picks
the points whose keys are smallest — the candidates, ranked exactly afterwards — and a threshold
key at or below every other point's, without sorting the row (the ``"blas"`` back-end, and the
births of :mod:`~layerflow.ricci._knn.buckets`).

:func:`symmetric_candidates` (the ``"symmetric"`` back-end) gets the same keys from half of the
product of the points with themselves, which is symmetric: ``xs_i·xs_j`` serves row i and row j.
The points are taken in blocks of rows I; one BLAS product ``G = X_I · X_{j ≥ min I}ᵀ`` gives the
keys of the rows in I against every later column and, read by columns, the keys of every later row
against I. Each row keeps its ``m + 1`` smallest keys in a bounded max-heap; every ordered pair
(i, j), i ≠ j, is offered exactly once: half the multiply-adds of the row-by-row path (which
dominate wide states) for the same candidates. At the end, per row, the heap's root is the best
non-candidate key (the threshold) and the other m entries are the candidates: from there the
exact re-rank and the certification are those of the row path
(:func:`~layerflow.ricci._knn.kernels.rerank_candidates`), and a row that is not certified is done
again by the row path with float64 keys.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# a row whose keys at or below the selection threshold number at most m + SLACK keeps them all
# (the largest one is the threshold) instead of selecting exactly m: no quickselect
SLACK = 16


@njit(cache=True, nogil=True)
def _group_threshold(bm: np.ndarray, nb: int, cap: int) -> float:
    """A value T with at least ``cap`` of ``bm[:nb]`` at or below it, close to the cap-th
    smallest (bisection on the value with vectorised counts; needs ``cap < nb`` and at most one
    infinite entry)."""
    lo = np.inf
    hi = -np.inf
    for c in range(nb):
        x = bm[c]
        lo = min(lo, x)
        if x < np.inf:
            hi = max(hi, x)
    if cap <= 1:
        return lo
    for _ in range(24):
        mid = 0.5 * (lo + hi)
        if not (lo < mid < hi):
            break
        cnt = 0
        for c in range(nb):
            cnt += bm[c] <= mid
        if cnt >= cap:
            hi = mid
            if cnt <= cap + 4:
                break
        else:
            lo = mid
    return hi


@njit(cache=True, nogil=True)
def _nth_pair(v: np.ndarray, ix: np.ndarray, n: int, kth: int) -> float:
    """Quickselect on ``v[:n]`` (``ix`` moved along): afterwards ``v[kth]`` is the value at sorted
    position kth, every earlier entry is ``<=`` it and every later one ``>=``. Returns it."""
    lo = 0
    hi = n - 1
    while hi > lo:
        a = v[lo]
        b = v[(lo + hi) >> 1]
        c = v[hi]
        if a > b:
            a, b = b, a
        pivot = b if b < c else (a if a > c else c)
        i = lo
        j = hi
        while i <= j:
            while v[i] < pivot:
                i += 1
            while v[j] > pivot:
                j -= 1
            if i <= j:
                v[i], v[j] = v[j], v[i]
                ix[i], ix[j] = ix[j], ix[i]
                i += 1
                j -= 1
        if kth <= j:
            hi = j
        elif kth >= i:
            lo = i
        else:
            break
    out: float = v[kth]  # an annotation only: no code in the compiled function
    return out


@njit(cache=True, nogil=True)
def group_sizes(n: int, m: int) -> tuple[int, int, int]:
    """``(cap, bs, nb)`` of :func:`nominate` for N points and m candidates: cap = m + 1 keys are
    sought (at most N − 1), in nb groups of at most bs keys."""
    cap = m + 1 if m + 1 <= n - 1 else n - 1
    bs = max(1, min(16, n // (2 * cap)))
    return cap, bs, (n + bs - 1) // bs


@njit(cache=True, nogil=True, inline="always")
def nominate(
    g: np.ndarray,
    sqs: np.ndarray,
    i: int,
    m: int,
    cap: int,
    bs: int,
    nb: int,
    buf: np.ndarray,
    bm: np.ndarray,
    cand_v: np.ndarray,
    cand_i: np.ndarray,
) -> tuple[int, float, bool]:
    """The candidates of the point i from its keys ``buf[j] = sqs_j − 2 g[j]`` (written here):
    ``cand_i[:mm]`` with their keys ``cand_v[:mm]``, mm ≥ min(m, N − 1), and ``threshold``, a
    key at or below every other point's (``has_threshold`` False: every other point is a
    candidate). Groups {c, c+nb, c+2nb, …} of at most bs keys: the cap-th smallest group minimum
    bounds the cap-th smallest key (cap groups each hold a key at or below it), so only keys at
    or below it are gathered; a few more than m are all kept (the largest is the threshold),
    many more are cut to m by quickselect."""
    n = g.shape[0]
    # keys and group minima, one pass
    for c in range(nb):
        v = sqs[c] - 2.0 * g[c]
        buf[c] = v
        bm[c] = v
    for s in range(1, bs):
        base = s * nb
        lim = min(nb, n - base)
        if lim <= 0:
            break
        b2 = buf[base : base + lim]
        s2 = sqs[base : base + lim]
        g2 = g[base : base + lim]
        for c in range(lim):
            v = s2[c] - 2.0 * g2[c]
            b2[c] = v
            bm[c] = min(v, bm[c])
    buf[i] = np.inf  # the point itself is never a candidate
    cs = i % nb
    mn = np.inf
    for j in range(cs, n, nb):
        mn = buf[j] if buf[j] < mn else mn
    bm[cs] = mn
    T = np.inf
    if nb > cap:
        T = _group_threshold(bm, nb, cap)
    # branch-free gather of every key <= T (at least cap of them; the self key is inf)
    nc = 0
    for j in range(n):
        x = buf[j]
        cand_v[nc] = x
        cand_i[nc] = j
        nc += x <= T
    has_threshold = nc > m
    threshold = np.inf
    mm = nc
    if has_threshold and nc <= m + SLACK:
        # few more than m: the largest key is the threshold, the others the candidates
        top = 0
        for c in range(1, nc):
            top = c if cand_v[c] > cand_v[top] else top
        threshold = cand_v[top]
        cand_v[top] = cand_v[nc - 1]
        cand_i[top] = cand_i[nc - 1]
        mm = nc - 1
    elif has_threshold:
        threshold = _nth_pair(cand_v, cand_i, nc, m)
        mm = m
    return mm, threshold, has_threshold


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
