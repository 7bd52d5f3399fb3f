"""Exact k nearest neighbours of a point cloud (Euclidean, self excluded).

Ranks
-----
Neighbours are ranked by the exact squared distance ``Σ_t (x_i[t] − x_j[t])²`` computed in float64
(one left-to-right sum, :mod:`layerflow.ricci.knn_kernels`), ties broken by the smaller index j. This rule is
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

The candidates come from BLAS keys (:mod:`layerflow.ricci.knn_blas`: float32 products, certified by a
proven rounding bound, then re-ranked exactly). Two other sources of candidates feed the same
exact re-rank and certification, each where it was measured faster (:func:`exact_knn`): half of the symmetric Gram matrix with per-row heaps for wide
states (:mod:`layerflow.ricci.knn_symmetric`), and faiss's exhaustive float32 search for large narrower ones when
``faiss-cpu`` is installed (:mod:`layerflow.ricci.knn_faiss`, the ``faiss`` extra). A row none of them can
certify is redone by the BLAS path with float64 keys.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow.ricci import threads
from layerflow.ricci.checks import check_k, check_points
from layerflow.ricci.knn_blas import MARGIN_MIN, blas_knn, candidate_margin

__all__ = [
    "FAISS_MIN_D",
    "FAISS_MIN_N",
    "MARGIN_MIN",
    "SYMMETRIC_MIN_D",
    "SYMMETRIC_MIN_N",
    "SYMMETRIC_MIN_SIZE",
    "TIE_RULES",
    "blas_knn",
    "candidate_margin",
    "exact_knn",
    "faiss_installed",
    "knn_indices",
    "neighbour_arcs",
    "table_width",
    "use_faiss",
    "use_symmetric",
]

TIE_RULES = ("by_index", "keep")

# candidates of all rows from half the Gram matrix (knn_symmetric) for states at least this
# wide, with at least this many points and N·d entries (see use_symmetric)
SYMMETRIC_MIN_D = 96
SYMMETRIC_MIN_N = 2048
SYMMETRIC_MIN_SIZE = 1_500_000
# faiss candidates (optional dependency) for states with at least this many points and this
# width, where the symmetric path does not apply (see use_faiss); tests force or forbid it
FAISS_MIN_N = 16384
FAISS_MIN_D = 32
_USE_FAISS = True
_FAISS: bool | None = None


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


def faiss_installed() -> bool:
    """Whether faiss can be imported (looked up once; faiss itself is imported only when used)."""
    global _FAISS
    if _FAISS is None:
        import importlib.util

        _FAISS = importlib.util.find_spec("faiss") is not None
    return _FAISS


def use_symmetric(n: int, d: int, k: int) -> bool:
    """Candidates from half the Gram matrix (:mod:`layerflow.ricci.knn_symmetric`) for wide, large states:
    ``d ≥`` :data:`SYMMETRIC_MIN_D`, ``N ≥`` :data:`SYMMETRIC_MIN_N` and ``N·d ≥``
    :data:`SYMMETRIC_MIN_SIZE`. Measured (one thread, CPU s, k = 30; ``bench_ricci.py``): at
    20,000 × 768 4.7 vs 7.1 for the row-by-row keys; 10,000 × 256 0.59 vs 0.72; 20,000 × 96
    1.33 vs 1.44; the heaps cost more than the halved product below that (20,000 × 50: 1.6 vs
    1.2; 5,000 × 128: 0.14 vs 0.12)."""
    m = min(n - 1, k + candidate_margin(k))
    return d >= SYMMETRIC_MIN_D and n >= SYMMETRIC_MIN_N and n * d >= SYMMETRIC_MIN_SIZE and (
        m + 1 < n - 1
    )


def use_faiss(n: int, d: int) -> bool:
    """faiss nominates the candidates (:mod:`layerflow.ricci.knn_faiss`) where it is installed and measured
    faster than the BLAS keys: ``N ≥`` :data:`FAISS_MIN_N` and ``d ≥`` :data:`FAISS_MIN_D`, below
    the symmetric path's widths (one thread, CPU s, k = 30: 20,000 × 50 1.01 vs 1.20; 20,000 ×
    128 1.65 vs 1.75; 10,000 × 50 0.30 vs 0.25 and 20,000 × 16 0.77 vs 0.69, where it loses).
    At 20,000 × 768 faiss + exact re-rank took 7.2 s, the row-by-row keys 7.1 s and the
    symmetric path 4.7 s."""
    return _USE_FAISS and n >= FAISS_MIN_N and d >= FAISS_MIN_D and faiss_installed()


def exact_knn(arr: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`knn_indices` on a checked C-contiguous float64 (N, d) array and a checked k.

    The candidates come from whichever path was measured fastest for the shape: half the Gram
    matrix for wide states (:func:`use_symmetric`), faiss for large narrower ones where it is
    installed (:func:`use_faiss`), else the row-by-row BLAS keys; the answer is the same exact
    one either way."""
    n, d = arr.shape
    if use_symmetric(n, d, k):
        return blas_knn(arr, k, symmetric=True)
    if use_faiss(n, d):
        from layerflow.ricci.knn_faiss import faiss_knn

        return faiss_knn(arr, k)
    return blas_knn(arr, k)


def table_width(k: int, n: int, ties: str) -> int:
    """Columns of the sorted neighbour table that serves k under a tie rule: k (``"by_index"``),
    or k plus a margin (``"keep"``) so that the points tied at the k-th distance are usually in
    the table; a longer run is found by an exact scan (:func:`neighbour_arcs`)."""
    return k if ties == "by_index" else min(n - 1, k + candidate_margin(k))


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
