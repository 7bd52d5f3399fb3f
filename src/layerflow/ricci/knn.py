"""Exact k nearest neighbours of a point cloud (Euclidean, self excluded).

Ranks
-----
Neighbours are ranked by the exact squared distance ``Σ_t (x_i[t] − x_j[t])²`` computed in float64
(one left-to-right sum, :mod:`.knn_kernels`), ties broken by the smaller index j. This rule is
deterministic and makes duplicate points well-defined: a duplicate of x_i is at distance 0 and
therefore among its nearest neighbours (lowest index first); the point itself is excluded by
index, never by distance.

Ties at the k-th distance (:data:`TIE_RULES`)
---------------------------------------------
``ties="by_index"`` (layerflow's default): exactly k neighbours per point, the rule above.
``ties="keep"``: every point tied with the k-th neighbour is kept, so a point may have more than
k neighbours: the arcs i → j for every ``j ≠ i`` with ``d(i, j) ≤ τ_i``, ``τ_i`` the k-th smallest
distance from i. That is the rule of ``cccd::nng`` used by the authors' R code
(``d <- sort(dx[i,]); A[i, dx[i,] <= d[k+1]] <- 1; diag(A) <- 0``, where ``d[1]`` is the point
itself). Ties are decided on the exact float64 squared distances above, never on the float32
keys that only nominate candidates. cccd compares the square roots of its own float64 distances,
which can merge two squared distances one rounding unit apart; on data whose distances are exact
(integer or quantised coordinates, duplicates: where ties occur) the two rules give the same arcs.

Speed
-----
The centred points, scaled by a power of two (exact), go through a float32 BLAS product in row
blocks that stay in cache; the keys ``‖y‖² − 2 x·y`` nominate ``k + margin`` candidates per row
(group minima and a bisected threshold, no sort of the row); candidates are re-ranked by the
exact float64 formula, and a row is certified only when the best non-candidate lies further than
a proven rounding bound of the keys (float32 product error ``(d+2)·u·(‖x‖² + ‖y‖²)``, taken 4×
over). An uncertified row (near-ties at the k-th place, duplicates) ranks exactly every point
whose key is within the bound; when many rows of a block need that (near-equidistant data), the
remaining blocks use float64 keys. Data whose centred magnitude lies outside 2^±400 uses float64
keys throughout. The result is therefore the same as a brute-force exact search.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow.ricci import threads
from layerflow.ricci.checks import check_k, check_points

__all__ = ["MARGIN_MIN", "TIE_RULES", "exact_knn", "knn_indices", "neighbour_arcs", "table_width"]

TIE_RULES = ("by_index", "keep")

# BLAS blocks of at most this many entries (rows of the block stay in cache for the selection)
_BLOCK_ENTRIES = 256 * 1024
# candidate keys from float32 BLAS (certified, then exact float64 re-ranking); tests switch it off
_USE_FLOAT32 = True
# float32 keys only for data whose centred magnitude is within 2^±this (no overflow/underflow)
_MAX_SCALE_EXP = 400
# at least this many candidates beyond k per row (see _margin)
MARGIN_MIN = 4


def knn_indices(X: Any, k: int = 30, *, layer: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of every point, nearest first.

    Parameters
    ----------
    X
        Points, shape ``(N, d)``.
    k
        Number of neighbours, ``1 ≤ k ≤ N − 1``.
    layer
        Optional description used in error messages (e.g. ``"layer 3 ('fc3')"``).

    Returns
    -------
    (indices, sqdist)
        ``indices`` int64 of shape ``(N, k)``: row i lists the neighbours of i by increasing
        exact squared distance, ties to the smaller index, self excluded; ``sqdist`` float64
        ``(N, k)`` the matching squared Euclidean distances.
    """
    arr = check_points(X, layer=layer)
    n = arr.shape[0]
    k = check_k(k, n, layer=layer)
    with threads.blas_one_thread(n):
        return exact_knn(arr, k)


def _margin(k: int) -> int:
    """Candidates beyond k per row: more cost exact re-ranking, fewer leave rows uncertified."""
    return max(MARGIN_MIN, k // 8)


def exact_knn(arr: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`knn_indices` on a checked C-contiguous float64 (N, d) array and a checked k."""
    from layerflow.ricci import knn_kernels

    n, d = arr.shape
    Xc = arr - arr.mean(axis=0)
    amax = float(np.abs(Xc).max())
    e = int(np.frexp(amax)[1]) if amax > 0.0 else 0
    single = _USE_FLOAT32 and -_MAX_SCALE_EXP <= e <= _MAX_SCALE_EXP
    if not single:
        e = 0
    # scaling by a power of two is exact: xs = xc·2^−e has max |xs| in [0.5, 1)
    Xs = np.ldexp(Xc, -e) if e else Xc
    sqs = np.einsum("ij,ij->i", Xs, Xs)
    sc = float(np.ldexp(1.0, 2 * e))
    m = min(n - 1, k + _margin(k))
    eps64 = float(np.finfo(np.float64).eps)
    rel = 4.0 * (d + 4) * eps64
    Xg = Xs
    if single:
        Xg = Xs.astype(np.float32)
        rel += 4.0 * (d + 4) * float(np.finfo(np.float32).eps)
    # rounding bound of the keys (scaled units): relative part, plus an absolute part for
    # float32 underflow of tiny coordinates; raw_abs covers subnormal exact sums
    abs_s = (d + 4) * (2.0**-120 if single else 2.0**-1000)
    bound_s = rel * (sqs + sqs.max()) + abs_s
    raw_abs = (d + 4) * 2.0**-1060
    out_idx = np.empty((n, k), dtype=np.int64)
    out_d = np.empty((n, k), dtype=np.float64)
    work = knn_kernels.knn_work(n, m)
    block = max(1, min(n, _BLOCK_ENTRIES // max(n, 1)))
    XgT = np.ascontiguousarray(Xg.T)
    G = np.empty((block, n), dtype=Xg.dtype)
    fallbacks = 0
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        Gb = G[: r1 - r0]
        if n < threads.BLAS_MIN_N:
            knn_kernels.small_gram(Xg[r0:r1], XgT, Gb)
        else:
            np.matmul(Xg[r0:r1], XgT, out=Gb)
        fallbacks += knn_kernels.knn_select(
            arr,
            Gb,
            sqs,
            np.arange(r0, r1, dtype=np.int64),
            k,
            m,
            bound_s[r0:r1],
            sc,
            raw_abs,
            out_idx[r0:r1],
            out_d[r0:r1],
            work,
        )
        if single and r1 < n and fallbacks > max(8, r1 // 20):
            # float32 keys cannot separate these points (near-equidistant data): float64 keys
            # for the remaining rows, so the exact second pass stays rare
            single = False
            Xg = Xs
            XgT = np.ascontiguousarray(Xg.T)
            G = np.empty((block, n), dtype=np.float64)
            bound_s = 4.0 * (d + 4) * eps64 * (sqs + sqs.max()) + (d + 4) * 2.0**-1000
    return out_idx, out_d


def table_width(k: int, n: int, ties: str) -> int:
    """Columns of the sorted neighbour table that serves k under a tie rule: k (``"by_index"``),
    or k plus a margin (``"keep"``) so that the points tied at the k-th distance are usually in
    the table; a longer run is found by an exact scan (:func:`neighbour_arcs`)."""
    return k if ties == "by_index" else min(n - 1, k + _margin(k))


def neighbour_arcs(
    points: np.ndarray, idx: np.ndarray, sqd: np.ndarray, k: int, ties: str
) -> tuple[np.ndarray, np.ndarray]:
    """The arcs of the kNN relation under a tie rule, as CSR-like ``(ptr, arcs)`` (int64).

    ``idx``, ``sqd`` (N, K), K ≥ k (K ≥ k + 1 for ``"keep"`` unless K = N − 1): a sorted exact
    neighbour table of the checked ``points`` (:func:`exact_knn`). ``"by_index"``: row i is
    ``idx[i, :k]``. ``"keep"``: row i is every j with ``sqd(i, j) ≤ τ_i = sqd[i, k−1]``, nearest
    first (ties by index): the table's columns while they tie with τ_i, and, for a row whose
    tie run reaches the end of the table, an exact scan of all N points.
    """
    n, K = idx.shape
    if ties == "by_index":
        ptr = np.arange(0, n * k + 1, k, dtype=np.int64)
        return ptr, np.ascontiguousarray(idx[:, :k], dtype=np.int64).reshape(-1)
    tau = np.ascontiguousarray(sqd[:, k - 1])
    # the table is sorted by distance, so the columns tied with τ_i from k on form a prefix
    counts = k + (sqd[:, k:] == tau[:, None]).cumprod(axis=1).sum(axis=1)
    scan = np.flatnonzero((counts == K) & (K < n - 1))
    keep = np.arange(K)[None, :] < counts[:, None]
    keep[scan] = False
    sizes = counts.astype(np.int64)
    s_ptr = s_idx = None
    if scan.size:
        from layerflow.ricci import knn_kernels

        s_ptr, s_idx, _ = knn_kernels.scan_within(points, scan.astype(np.int64), tau[scan])
        sizes[scan] = np.diff(s_ptr)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    arcs = np.empty(ptr[-1], dtype=np.int64)
    from_scan = np.zeros(ptr[-1], dtype=bool)
    if scan.size:
        from_scan[np.repeat(ptr[scan], sizes[scan]) + _ranks(sizes[scan])] = True
        arcs[from_scan] = s_idx
    arcs[~from_scan] = idx[keep]
    return ptr, arcs


def _ranks(sizes: np.ndarray) -> np.ndarray:
    """``[0, 1, …, sizes[0]−1, 0, 1, …, sizes[1]−1, …]``."""
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.arange(int(sizes.sum()), dtype=np.int64) - starts
