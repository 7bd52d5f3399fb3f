"""Numba kernels of the exact kNN search (used by :mod:`layerflow.ricci._knn`).

Everything here works on plain arrays: point clouds as C-contiguous float64 arrays, key blocks
from BLAS (float32 or float64). Kernels are compiled on first use and cached on disk
(``cache=True``), so only the first call in a fresh environment pays for compilation.

Every exact squared distance is the same left-to-right float64 sum ``Σ_t (x_i[t] − x_j[t])²``
(:func:`exact_sq`, eight at a time in :func:`exact_sq8`), whichever kernel computes it: ranks
and ties are decided on that one value.

Sorting (:func:`sort_pairs`): a row's candidates are ranked by (exact squared distance, index).
Those distances are float64 values ≥ +0.0 (sums of squares: never −0.0 or NaN; +inf on
overflow), whose IEEE bit patterns read as unsigned integers are in the same order as the values. A radix sort on the high
bits of those patterns puts them almost in order without a comparison, hence without the
mispredicted branches that make a comparison sort of a few hundred random keys slow; an
insertion pass on the full (distance, index) then finishes it, moving only entries whose high
bits tie. Short lists use insertion alone. The order is total (indices are distinct), so every
correct sort gives the same result.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from layerflow.ricci._knn.candidates import SLACK, group_sizes, nominate


@njit(cache=True, nogil=True)
def _lex_less(d1: float, i1: int, d2: float, i2: int) -> bool:
    return d1 < d2 or (d1 == d2 and i1 < i2)


@njit(cache=True, nogil=True)
def exact_sq(X: np.ndarray, i: int, j: int) -> float:
    s = 0.0
    for t in range(X.shape[1]):
        diff = X[i, t] - X[j, t]
        s += diff * diff
    return s


@njit(cache=True, nogil=True)
def exact_sq8(X: np.ndarray, i: int, idx: np.ndarray, c0: int, out: np.ndarray) -> None:
    """``out[c] = exact_sq(X, i, idx[c])`` for c = c0 … c0+7 (eight independent sums at once,
    each in the same order as :func:`exact_sq`, so the values are identical)."""
    x0 = X[idx[c0]]
    x1 = X[idx[c0 + 1]]
    x2 = X[idx[c0 + 2]]
    x3 = X[idx[c0 + 3]]
    x4 = X[idx[c0 + 4]]
    x5 = X[idx[c0 + 5]]
    x6 = X[idx[c0 + 6]]
    x7 = X[idx[c0 + 7]]
    xi = X[i]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    for t in range(X.shape[1]):
        a = xi[t]
        d0 = a - x0[t]
        d1 = a - x1[t]
        d2 = a - x2[t]
        d3 = a - x3[t]
        d4 = a - x4[t]
        d5 = a - x5[t]
        d6 = a - x6[t]
        d7 = a - x7[t]
        s0 += d0 * d0
        s1 += d1 * d1
        s2 += d2 * d2
        s3 += d3 * d3
        s4 += d4 * d4
        s5 += d5 * d5
        s6 += d6 * d6
        s7 += d7 * d7
    out[c0] = s0
    out[c0 + 1] = s1
    out[c0 + 2] = s2
    out[c0 + 3] = s3
    out[c0 + 4] = s4
    out[c0 + 5] = s5
    out[c0 + 6] = s6
    out[c0 + 7] = s7


@njit(cache=True, nogil=True)
def exact_sq_list(X: np.ndarray, i: int, idx: np.ndarray, cnt: int, out: np.ndarray) -> None:
    """``out[c] = exact_sq(X, i, idx[c])`` for c < cnt, eight at a time (:func:`exact_sq8`)."""
    c0 = 0
    while c0 + 8 <= cnt:
        exact_sq8(X, i, idx, c0, out)
        c0 += 8
    for c in range(c0, cnt):
        out[c] = exact_sq(X, i, idx[c])


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


@njit(cache=True, nogil=True)
def knn_select(
    X: np.ndarray,
    G: np.ndarray,
    sqs: np.ndarray,
    rows: np.ndarray,
    k: int,
    m: int,
    bound_s: np.ndarray,
    sc: float,
    raw_abs: float,
    out_idx: np.ndarray,
    out_d: np.ndarray,
    work: tuple[np.ndarray, ...],
) -> int:
    """Select the k nearest neighbours of the points ``i = rows[r]`` (int64), r < ``len(G)``.

    ``G[r, j] ≈ xs_i·xs_j`` from BLAS (float32 or float64) on the centred points scaled by a power
    of two, ``xs = (x − mean)·2^−e``, ``sqs_j = ‖xs_j‖²`` and ``sc = 4^e``. The keys
    ``sqs_j − 2 G[r, j]`` nominate the ``m ≥ k`` smallest candidates plus the best
    non-candidate (the threshold); the candidates are re-ranked by the exact ``Σ (x_i − x_j)²``
    on the raw points ``X``, ties to the smaller index. A row is certified when its k-th exact
    distance lies below the threshold by more than ``bound_raw = bound_s[r]·sc + raw_abs`` (the
    rounding bound of the keys, raw units); otherwise every j whose key is within the bound of
    the k-th distance is ranked exactly. Writes ``out_idx[r]``, ``out_d[r]`` (exact squared
    distances); returns the number of rows that needed the second pass. ``work`` holds the work
    buffers (:func:`knn_work`). One thread: a row block is far too little work for a parallel
    launch; the layers of a network are the parallel jobs (see :func:`layerflow.ricci._threads.map_layers`).
    """
    buf, bm, cand_v, cand_i, acc, tmp_v, tmp_i, counts = work
    n = G.shape[1]
    cap, bs, nb = group_sizes(n, m)
    fallbacks = 0
    for r in range(G.shape[0]):
        i = rows[r]
        mm, threshold, has_threshold = nominate(
            G[r], sqs, i, m, cap, bs, nb, buf, bm, cand_v, cand_i
        )
        # exact squared distances of the mm nominated candidates, eight at a time (each is the
        # same left-to-right sum as exact_sq)
        exact_sq_list(X, i, cand_i, mm, acc)
        # sort them by (distance, index) in place, keep k
        sort_pairs(acc, cand_i, mm, tmp_v, tmp_i, counts)
        for c in range(k):
            out_d[r, c] = acc[c]
            out_idx[r, c] = cand_i[c]
        if not has_threshold:
            continue
        bound_raw = bound_s[r] * sc + raw_abs
        if out_d[r, k - 1] < (threshold + sqs[i]) * sc - bound_raw:
            continue
        # not certified: every j whose exact distance is <= the k-th found has a key within
        # the bound of it; rank all of those exactly
        fallbacks += 1
        limit = (out_d[r, k - 1] + 2.0 * bound_raw) / sc - sqs[i]
        cnt = 0
        for j in range(n):
            if j == i or not buf[j] <= limit:
                continue
            dd = exact_sq(X, i, j)
            if cnt < k:
                pos = cnt
                cnt += 1
            elif _lex_less(dd, j, out_d[r, k - 1], out_idx[r, k - 1]):
                pos = k - 1
            else:
                continue
            while pos > 0 and _lex_less(dd, j, out_d[r, pos - 1], out_idx[r, pos - 1]):
                out_d[r, pos] = out_d[r, pos - 1]
                out_idx[r, pos] = out_idx[r, pos - 1]
                pos -= 1
            out_d[r, pos] = dd
            out_idx[r, pos] = j
    return fallbacks


def knn_work(n: int, m: int) -> tuple[np.ndarray, ...]:
    """Work buffers of :func:`knn_select` for N points and m candidates."""
    return (
        np.empty(n, dtype=np.float64),
        np.empty(n, dtype=np.float64),
        np.empty(n, dtype=np.float64),
        np.empty(n, dtype=np.int64),
        np.empty(m + SLACK, dtype=np.float64),
        *sort_work(m + SLACK),
    )


@njit(cache=True, nogil=True)
def small_gram(A: np.ndarray, BT: np.ndarray, out: np.ndarray) -> None:
    """``out = A @ BT`` for small blocks without BLAS (whose threads cost more than the product
    here, and far more on a loaded machine). Each entry is a left-to-right sum of rounded
    products, within the same rounding bound as any BLAS order."""
    rows, d = A.shape
    n = BT.shape[1]
    for r in range(rows):
        o = out[r]
        a0 = A[r, 0]
        b0 = BT[0]
        for j in range(n):
            o[j] = a0 * b0[j]
        for t in range(1, d):
            a = A[r, t]
            b = BT[t]
            for j in range(n):
                o[j] += a * b[j]


@njit(cache=True, nogil=True)
def rerank_candidates(
    X: np.ndarray, rows: np.ndarray, cand: np.ndarray, K: int, limit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact re-rank of candidate lists (from an outside search such as faiss).

    Row r: the point ``i = rows[r]`` and its candidates ``cand[r]`` (negative entries and i
    itself are skipped). Their exact squared distances are sorted by (distance, index) and the
    first K kept in ``out_idx[r]``, ``out_d[r]``. ``certified[r]``: the candidates were every
    other point, or the K-th exact distance lies strictly below ``limit[r]`` (the caller's
    proven lower bound on the exact distance of every non-candidate), so the K kept are the K
    nearest of all points. A row with fewer than K valid candidates is not certified.
    """
    n = X.shape[0]
    q, c = cand.shape
    out_idx = np.zeros((q, K), dtype=np.int64)
    out_d = np.zeros((q, K), dtype=np.float64)
    certified = np.zeros(q, dtype=np.bool_)
    ds = np.empty(c, dtype=np.float64)
    for r in range(q):
        i = rows[r]
        sj = np.sort(cand[r][(cand[r] >= 0) & (cand[r] != i)])
        nc = sj.shape[0]
        if nc < K:
            continue
        exact_sq_list(X, i, sj, nc, ds)
        # stable sort by distance over indices in increasing order: ties to the smaller index
        order = np.argsort(ds[:nc], kind="mergesort")
        for t in range(K):
            out_idx[r, t] = sj[order[t]]
            out_d[r, t] = ds[order[t]]
        certified[r] = nc >= n - 1 or out_d[r, K - 1] < limit[r]
    return out_idx, out_d, certified


@njit(cache=True, nogil=True)
def scan_within(
    X: np.ndarray, rows: np.ndarray, tau: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every point within ``tau[r]`` of ``i = rows[r]``, by exact distances to all N points.

    Returns ragged ``(ptr, idx, sqd)``: row r lists every ``j ≠ i`` with exact squared distance
    ``≤ tau[r]``, nearest first, ties to the smaller index. O(N·d) per row: for the rows whose
    run of points tied at the k-th distance is longer than a neighbour table holds.
    """
    n = X.shape[0]
    q = rows.shape[0]
    ptr = np.zeros(q + 1, dtype=np.int64)
    for r in range(q):
        i = rows[r]
        cnt = 0
        for j in range(n):
            if j != i and exact_sq(X, i, j) <= tau[r]:
                cnt += 1
        ptr[r + 1] = ptr[r] + cnt
    idx = np.empty(ptr[q], dtype=np.int64)
    sqd = np.empty(ptr[q], dtype=np.float64)
    for r in range(q):
        i = rows[r]
        p0 = ptr[r]
        p = p0
        for j in range(n):
            if j != i:
                v = exact_sq(X, i, j)
                if v <= tau[r]:
                    idx[p] = j
                    sqd[p] = v
                    p += 1
        order = np.argsort(sqd[p0:p], kind="mergesort")
        seg_i = idx[p0:p].copy()
        seg_d = sqd[p0:p].copy()
        for t in range(p - p0):
            idx[p0 + t] = seg_i[order[t]]
            sqd[p0 + t] = seg_d[order[t]]
    return ptr, idx, sqd
