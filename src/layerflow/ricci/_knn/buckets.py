"""The kNN relation of one state at every swept k at once, as births (what the nested graphs
are built from, :mod:`layerflow.ricci._shortest_paths.nested`).

The **birth** of an arc i → j is the index c of the smallest swept ``k_c`` whose graph holds it
(``C`` = never). From a sorted exact neighbour table the births are read off the columns
(:func:`arc_births`); :func:`bucket_table` gets them straight from the BLAS keys. The nested
graphs need, for every point i and every swept ``k_c``, only *which* points are its
k_c nearest (ties to the smaller index), or for ``ties="keep"`` which lie within its k_c-th
distance ``D_c`` — not the order of all of them. So instead of ranking every candidate exactly
(:mod:`layerflow.ricci._knn`), each candidate j of the largest k is placed by its approximate
distance ``a_j = (key_j + sqs_i)·4^e``, which is within B of the exact one (the proven rounding
bound of the keys). Let t be the k-th smallest a. Then, exactly:

* a candidate with ``a_j < t − 2B`` is among the k nearest: fewer than k candidates have
  ``d < t − B`` (all of them have ``a < t``), so ``D_k ≥ t − B > d_j``;
* one with ``a_j > t + 2B`` is not: k candidates have ``d ≤ t + B``, so ``D_k ≤ t + B < d_j``;
* those in between (usually a handful) get their exact distances ``Σ (x_i − x_j)²`` and are
  ranked by (distance, index), which also finds ``D_k`` and whether the (k+1)-th ties with it.

Every point that is not a candidate lies beyond the threshold key; a row is certified when its
largest ``D`` lies below that by more than B, as in :mod:`layerflow.ricci._knn`, and every other
row is ranked exactly there (its sorted table gives its births). The result is therefore the
exact relation, at the cost of a radix sort of the approximate distances instead of an exact
distance and sort for every candidate. The window is taken 2.5B wide to absorb the rounding of ``a`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from layerflow.ricci import _threads
from layerflow.ricci._knn import ScaledPoints, blas_knn, block_rows, candidate_margin
from layerflow.ricci._knn.candidates import SLACK, group_sizes, nominate
from layerflow.ricci._knn.kernels import exact_sq, scan_within, small_gram, sort_pairs


@njit(cache=True, nogil=True)
def arc_births(sqd: np.ndarray, kcols: np.ndarray, keep: bool) -> np.ndarray:
    """Birth of every entry of a sorted neighbour table, shape (N, K) int16.

    ``sqd`` (N, K): exact squared distances, each row nondecreasing; ``kcols`` (C,): the swept
    ks, increasing, ``k_C−1 ≤ K``. ``keep=False`` (``ties="by_index"``): entry p is in the graph
    at k iff p < k, so its birth is ``min{c : k_c > p}``. ``keep=True`` (``ties="keep"``): entry
    p is in the graph at k iff ``sqd[p] ≤ sqd[k−1]``, i.e. iff the run of distances equal to
    ``sqd[p]`` starts before k, so its birth is that of the run's first entry."""
    n, K = sqd.shape
    C = kcols.shape[0]
    bcol = np.empty(K, dtype=np.int16)
    c = 0
    for p in range(K):
        while c < C and kcols[c] <= p:
            c += 1
        bcol[p] = c
    births = np.empty((n, K), dtype=np.int16)
    for i in range(n):
        start = 0
        for p in range(K):
            if keep and p > 0 and sqd[i, p] != sqd[i, p - 1]:
                start = p
            births[i, p] = bcol[start] if keep else bcol[p]
    return births


@dataclass(frozen=True)
class BucketTable:
    """The kNN relation of one state at the swept ks: row i lists candidates ``idx[i]`` (N, M)
    with their births under each tie rule, ``births[rule]`` (N, M) int16 (the index c of the
    first ``ks[c]`` whose graph holds the arc, ``len(ks)`` = never); ``extras[rule]`` the arcs
    beyond the candidates ``(x_ptr, x_idx, x_birth)`` (only ``"keep"`` has any); ``tied[c]``: some
    point's ``ks[c]``-th and next distances tie."""

    idx: np.ndarray
    births: dict[str, np.ndarray]
    extras: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    tied: np.ndarray


@njit(cache=True, nogil=True)
def _bucket_rows(
    X: np.ndarray,
    G: np.ndarray,
    sqs: np.ndarray,
    rows: np.ndarray,
    kcols: np.ndarray,
    m: int,
    bound_s: np.ndarray,
    sc: float,
    raw_abs: float,
    out_idx: np.ndarray,
    out_bi: np.ndarray,
    out_bk: np.ndarray,
    tied: np.ndarray,
    ok: np.ndarray,
) -> int:
    """Births of the candidates of the points ``rows[r]`` (keys: row r of the block G) under
    both tie rules (see the module docstring); ``ok[r]`` False for a row left uncertified.
    Returns the number of those."""
    n = G.shape[1]
    C = kcols.shape[0]
    M = out_idx.shape[1]
    cap, bs, nb = group_sizes(n, m)
    buf = np.empty(n, dtype=np.float64)
    bm = np.empty(n, dtype=np.float64)
    cand_v = np.empty(n, dtype=np.float64)
    cand_i = np.empty(n, dtype=np.int64)
    av = np.empty(M, dtype=np.float64)
    tmp_v = np.empty(M, dtype=np.float64)
    tmp_i = np.empty(M, dtype=np.int64)
    counts = np.empty(256, dtype=np.int64)
    ex = np.empty(M, dtype=np.float64)
    ex_ok = np.zeros(M, dtype=np.bool_)
    wv = np.empty(M, dtype=np.float64)
    wp = np.empty(M, dtype=np.int64)
    bad = 0
    for r in range(G.shape[0]):
        i = rows[r]
        mm, threshold, has_threshold = nominate(
            G[r], sqs, i, m, cap, bs, nb, buf, bm, cand_v, cand_i
        )
        B = bound_s[r] * sc + raw_abs
        W = 2.5 * B
        si = sqs[i]
        # approximate distances, shifted to be >= 0 (so that their bits sort as numbers)
        for c in range(mm):
            av[c] = max(0.0, (cand_v[c] + si) * sc + W)
            ex_ok[c] = False
        sort_pairs(av, cand_i, mm, tmp_v, tmp_i, counts)
        bi = out_bi[r]
        bk = out_bk[r]
        for p in range(M):
            bi[p] = C
            bk[p] = C
        done = 0
        D = 0.0
        for c in range(C):
            k = kcols[c]
            t = av[k - 1]
            lo = k - 1
            while lo > 0 and av[lo - 1] >= t - 2.0 * W:
                lo -= 1
            hi = k - 1
            while hi + 1 < mm and av[hi + 1] <= t + 2.0 * W:
                hi += 1
            # the window, ranked by exact (distance, index)
            nw = hi - lo + 1
            for q in range(nw):
                p = lo + q
                if not ex_ok[p]:
                    ex[p] = exact_sq(X, i, cand_i[p])
                    ex_ok[p] = True
                dd = ex[p]
                jj = cand_i[p]
                pos = q
                while pos > 0 and (dd < wv[pos - 1] or (dd == wv[pos - 1]
                                                        and jj < cand_i[wp[pos - 1]])):
                    wv[pos] = wv[pos - 1]
                    wp[pos] = wp[pos - 1]
                    pos -= 1
                wv[pos] = dd
                wp[pos] = p
            need = k - lo
            D = wv[need - 1]
            if need < nw and wv[need] == D:
                tied[c] = True
            for q in range(nw):
                p = wp[q]
                if q < need and c < bi[p]:
                    bi[p] = c
                if wv[q] <= D and c < bk[p]:
                    bk[p] = c
            for p in range(done, lo):  # certainly among the k nearest
                if c < bi[p]:
                    bi[p] = c
                if c < bk[p]:
                    bk[p] = c
            done = max(done, lo)
        for p in range(mm):
            out_idx[r, p] = cand_i[p]
        for p in range(mm, M):
            out_idx[r, p] = i  # padding, never an arc (birth C)
        ok[r] = (not has_threshold) or D < (threshold + si) * sc - B
        bad += not ok[r]
    return bad


def _exact_rows(
    arr: np.ndarray, sp: ScaledPoints, rows: np.ndarray, kcols: np.ndarray, table: BucketTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows the buckets left uncertified, ranked exactly (float64 keys) and written into
    ``table``; returns the arcs beyond their tables for ``"keep"`` (all rows)."""
    n = arr.shape[0]
    C = kcols.shape[0]
    K = min(n - 1, int(kcols[-1]) + candidate_margin(int(kcols[-1])))
    idx, sqd = blas_knn(arr, K, rows=rows, points=sp, single=False)
    table.idx[rows, :K] = idx
    table.idx[rows, K:] = rows[:, None]
    for rule, keep in (("by_index", False), ("keep", True)):
        b = arc_births(sqd, kcols, keep)
        table.births[rule][rows, :K] = b
        table.births[rule][rows, K:] = C
    for c, k in enumerate(int(k) for k in kcols):
        if k < K:
            table.tied[c] |= bool((sqd[:, k - 1] == sqd[:, k]).any())
    # "keep": a run of distances tied with a swept k-th that reaches the table's end is
    # completed by an exact scan of all N points
    x_birth = np.full(n, C, dtype=np.int16)
    x_ptr = np.zeros(n + 1, dtype=np.int64)
    last = table.births["keep"][rows, K - 1]
    scan = rows[last < C] if K < n - 1 else rows[:0]
    if scan.size == 0:
        return x_ptr, np.zeros(0, dtype=np.int64), x_birth
    sel = last < C
    s_ptr, s_idx, _ = scan_within(arr, scan, np.ascontiguousarray(sqd[sel, K - 1]))
    x_ptr[scan + 1] = np.diff(s_ptr) - K  # the scan lists the table's K first, then the rest
    np.cumsum(x_ptr, out=x_ptr)
    x_birth[scan] = last[sel]
    keep_mask = np.ones(s_idx.shape[0], dtype=bool)
    for r in range(scan.size):
        keep_mask[s_ptr[r] : s_ptr[r] + K] = False
    return x_ptr, s_idx[keep_mask], x_birth


def bucket_table(arr: np.ndarray, ks: tuple[int, ...], block: int | None = None,
                 trace: list[tuple[str, int]] | None = None) -> BucketTable:
    """The :class:`BucketTable` of a checked C-contiguous float64 (N, d) array for increasing
    ks, ``ks[-1] < N``, under both tie rules, by BLAS keys in row blocks (the row path of
    :func:`~layerflow.ricci._knn.blas_knn`: float32 keys where the scale allows, float64 for the
    remaining blocks once many rows of a block need the exact pass). ``block`` and ``trace``:
    as for :func:`~layerflow.ricci._knn.blas_knn`."""
    n, d = arr.shape
    kcols = np.array(ks, dtype=np.int64)
    C = kcols.shape[0]
    k_max = int(kcols[-1])
    m = min(n - 1, k_max + candidate_margin(k_max))
    M = m + SLACK
    sp = ScaledPoints(arr)
    single = sp.single
    Xg = sp.Xs.astype(np.float32) if single else sp.Xs
    XgT = np.ascontiguousarray(Xg.T)
    bound_s = sp.bound(single)
    table = BucketTable(
        np.empty((n, M), dtype=np.int64),
        {"by_index": np.empty((n, M), dtype=np.int16), "keep": np.empty((n, M), dtype=np.int16)},
        {},
        np.zeros(C, dtype=np.bool_),
    )
    ok = np.ones(n, dtype=np.bool_)
    block = min(n, block_rows(n, d) if block is None else max(1, int(block)))
    G = np.empty((block, n), dtype=Xg.dtype)
    bad = 0
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        Gb = G[: r1 - r0]
        if n < _threads.blas_min_n():
            small_gram(Xg[r0:r1], XgT, Gb)
        else:
            np.matmul(Xg[r0:r1], XgT, out=Gb)
        sent = _bucket_rows(
            arr, Gb, sp.sqs, np.arange(r0, r1, dtype=np.int64), kcols, m, bound_s[r0:r1],
            sp.sc, sp.raw_abs, table.idx[r0:r1], table.births["by_index"][r0:r1],
            table.births["keep"][r0:r1], table.tied, ok[r0:r1],
        )
        bad += sent
        if trace is not None:
            trace.append((str(Gb.dtype), int(sent)))
        if single and r1 < n and bad > max(8, r1 // 20):
            # float32 keys cannot separate these points: float64 keys for the remaining rows
            single = False
            Xg = sp.Xs
            XgT = np.ascontiguousarray(Xg.T)
            G = np.empty((block, n), dtype=np.float64)
            bound_s = sp.bound(False)
    rows = np.flatnonzero(~ok).astype(np.int64)
    none = (np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64),
            np.full(n, C, dtype=np.int16))
    table.extras["by_index"] = none
    table.extras["keep"] = _exact_rows(arr, sp, rows, kcols, table) if rows.size else none
    return table
