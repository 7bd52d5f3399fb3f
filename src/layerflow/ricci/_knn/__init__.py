"""Exact k nearest neighbours of a point cloud (Euclidean, self excluded): the back-ends.

Ranks
-----
Neighbours are ranked by the exact squared distance ``Σ_t (x_i[t] − x_j[t])²`` computed in float64
(one left-to-right sum, :mod:`layerflow.ricci._knn.kernels`), ties broken by the smaller index j.
This rule is deterministic and makes duplicate points well-defined: a duplicate of x_i is at
distance 0 and therefore among its nearest neighbours (lowest index first); the point itself is
excluded by index, never by distance.

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

Back-ends (:data:`KNN_METHODS`, the ``knn=`` argument of the public functions)
------------------------------------------------------------------------------
Every back-end only *nominates* candidates; they are re-ranked by the exact formula above and a
row is kept only when a proven rounding bound certifies that no other point is nearer, so every
back-end returns the same exact answer.

``"blas"``
    BLAS keys ``‖y‖² − 2 x·y``: the centred points, scaled by a power of two (exact), go through
    a float32 BLAS product in row blocks that stay in cache (at least 256 rows once the points
    no longer fit in cache); the keys nominate ``k + margin`` candidates per row (group minima
    and a bisected threshold, no sort of the row, :mod:`~layerflow.ricci._knn.candidates`);
    a row is certified only when the best non-candidate lies further than the rounding bound of
    the keys (float32 product error ``(d+2)·u·(‖x‖² + ‖y‖²)``, taken 4× over). An uncertified
    row (near-ties at the k-th place, duplicates) ranks exactly every point whose key is within
    the bound; when many rows of a block need that (near-equidistant data), the remaining blocks
    use float64 keys. Data whose centred magnitude lies outside 2^±400 uses float64 keys
    throughout. With Forman curvature and exact geodesics the coefficients read the kNN relation
    at every swept k from the same keys as births (:mod:`~layerflow.ricci._knn.buckets`).
``"symmetric"``
    The same keys from half of the symmetric Gram matrix, every row keeping its candidates in a
    bounded heap (:func:`~layerflow.ricci._knn.candidates.symmetric_candidates`): half the
    multiply-adds, for wide states.
``"faiss"``
    faiss's exhaustive float32 ``IndexFlatL2`` (Johnson, Douze & Jégou 2019) returns ``K +
    margin + 1`` candidates; a row is certified when its K-th exact distance lies below the
    largest returned float32 distance minus its rounding bound. Needs ``faiss-cpu`` (the
    ``faiss`` extra); faiss runs on one OpenMP thread per call (the layers of a network are the
    parallel jobs, as for BLAS).
``"auto"`` (default)
    The back-end fastest for the shape in ``benchmarks/bench_ricci.py`` and
    ``benchmarks/bench_tokens.py`` (figures in ``benchmarks/README.md``): ``"symmetric"`` for wide, large states (``d ≥``
    :data:`SYMMETRIC_MIN_D`, ``N ≥`` :data:`SYMMETRIC_MIN_N`, ``N·d ≥``
    :data:`SYMMETRIC_MIN_SIZE`), ``"faiss"`` for large narrower ones where it is installed
    (``N ≥`` :data:`FAISS_MIN_N`, ``d ≥`` :data:`FAISS_MIN_D`), else ``"blas"``.

A row that no back-end can certify is redone by the BLAS path with float64 keys.
"""

from __future__ import annotations

import importlib.util
from typing import cast

import numpy as np

from layerflow.ricci import _threads

__all__ = [
    "FAISS_MIN_D",
    "FAISS_MIN_N",
    "KNN_METHODS",
    "MARGIN_MIN",
    "SYMMETRIC_MIN_D",
    "SYMMETRIC_MIN_N",
    "SYMMETRIC_MIN_SIZE",
    "TIE_RULES",
    "ScaledPoints",
    "blas_knn",
    "block_rows",
    "candidate_margin",
    "choose_knn",
    "exact_knn",
    "faiss_installed",
    "faiss_knn",
    "neighbour_arcs",
    "table_width",
]

TIE_RULES = ("by_index", "keep")

# the kNN back-ends (the ``knn=`` argument): name -> what nominates the candidates
KNN_METHODS: dict[str, str] = {
    "auto": "the back-end measured fastest for the shape (see choose_knn)",
    "blas": "row-by-row BLAS keys (float32 where the scale allows, else float64)",
    "symmetric": "keys from half the Gram matrix, per-row heaps (wide states)",
    "faiss": "faiss IndexFlatL2 candidates (needs faiss-cpu, the faiss extra)",
}

# "auto": candidates from half the Gram matrix for states at least this wide, with at least this
# many points and N·d entries (see choose_knn)
SYMMETRIC_MIN_D = 96
SYMMETRIC_MIN_N = 2048
SYMMETRIC_MIN_SIZE = 1_500_000
# "auto": faiss candidates (optional dependency) for states with at least this many points and
# this width, where the symmetric back-end does not apply
FAISS_MIN_N = 16384
FAISS_MIN_D = 32


def faiss_installed() -> bool:
    """Whether faiss can be imported (faiss itself is imported only when used)."""
    return importlib.util.find_spec("faiss") is not None


def choose_knn(knn: str, n: int, d: int, k: int) -> str:
    """The back-end that runs for ``knn`` (a key of :data:`KNN_METHODS`, checked) on N × d
    points and a table of k columns: ``knn`` itself, or for ``"auto"`` the one measured fastest
    for the shape (see the module docstring)."""
    if knn != "auto":
        return knn
    m = min(n - 1, k + candidate_margin(k))
    if (d >= SYMMETRIC_MIN_D and n >= SYMMETRIC_MIN_N and n * d >= SYMMETRIC_MIN_SIZE
            and m + 1 < n - 1):
        return "symmetric"
    if n >= FAISS_MIN_N and d >= FAISS_MIN_D and faiss_installed():
        return "faiss"
    return "blas"


def exact_knn(arr: np.ndarray, k: int, knn: str = "auto",
              trace: list[tuple[str, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours ``(idx, sqd)`` (N, k) of every point of a checked C-contiguous
    float64 (N, d) array, nearest first, ties to the smaller index, for a checked k, by the
    back-end :func:`choose_knn` picks; the answer is the same exact one either way. ``trace``:
    as for :func:`blas_knn`."""
    path = choose_knn(knn, arr.shape[0], arr.shape[1], k)
    if path == "symmetric":
        return blas_knn(arr, k, symmetric=True, trace=trace)
    if path == "faiss":
        return faiss_knn(arr, k, trace=trace)
    return blas_knn(arr, k, trace=trace)


def table_width(k: int, n: int, ties: str) -> int:
    """Columns of the sorted neighbour table that serves k under a tie rule: k (``"by_index"``),
    or k plus a margin (``"keep"``) so that the points tied at the k-th distance are usually in
    the table; a longer run is found by an exact scan (:func:`neighbour_arcs`)."""
    return k if ties == "by_index" else min(n - 1, k + candidate_margin(k))


def neighbour_arcs(
    points: np.ndarray, idx: np.ndarray, sqd: np.ndarray, k: int, ties: str,
    scanned: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The arcs of the kNN relation under a tie rule, as CSR-like ``(ptr, arcs)`` (int64).

    ``idx``, ``sqd`` (N, K), K ≥ k (K ≥ k + 1 for ``"keep"`` unless K = N − 1): a sorted exact
    neighbour table of the checked ``points`` (:func:`exact_knn`). ``"by_index"``: row i is
    ``idx[i, :k]``. ``"keep"``: row i is every j with ``sqd(i, j) ≤ τ_i = sqd[i, k−1]``, nearest
    first (ties by index): the table's columns while they tie with τ_i, and, for a row whose
    tie run reaches the end of the table, an exact scan of all N points (``scanned``, if given,
    receives the rows scanned).
    """
    n, K = idx.shape
    if ties == "by_index":
        ptr = np.arange(0, n * k + 1, k, dtype=np.int64)
        return ptr, np.ascontiguousarray(idx[:, :k], dtype=np.int64).reshape(-1)
    tau = np.ascontiguousarray(sqd[:, k - 1])
    # the table is sorted by distance, so the columns tied with τ_i from k on form a prefix
    counts = k + (sqd[:, k:] == tau[:, None]).cumprod(axis=1).sum(axis=1)
    scan = np.flatnonzero((counts == K) & (K < n - 1))
    if scanned is not None:
        scanned.append(scan.copy())
    keep = np.arange(K)[None, :] < counts[:, None]
    keep[scan] = False
    sizes = counts.astype(np.int64)
    s_ptr = s_idx = None
    if scan.size:
        from layerflow.ricci._knn import kernels

        s_ptr, s_idx, _ = kernels.scan_within(points, scan.astype(np.int64), tau[scan])
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
    return cast(np.ndarray, np.arange(int(sizes.sum()), dtype=np.int64) - starts)


# BLAS blocks of at most this many entries (rows of the block stay in cache for the selection)
_BLOCK_ENTRIES = 256 * 1024
# ... but at least this many rows once the transposed points exceed _CACHE_BYTES (see
# block_rows), and at most _MAX_BLOCK_BYTES of keys
_MIN_BLOCK_ROWS = 256
_CACHE_BYTES = 4 * 1024 * 1024
_MAX_BLOCK_BYTES = 64 * 1024 * 1024
# float32 keys only for data whose centred magnitude is within 2^±this (no overflow/underflow)
_MAX_SCALE_EXP = 400
# at least this many candidates beyond k per row (see candidate_margin)
MARGIN_MIN = 4


def candidate_margin(k: int) -> int:
    """Candidates beyond k per row: more cost exact re-ranking, fewer leave rows uncertified."""
    return max(MARGIN_MIN, k // 8)


class ScaledPoints:
    """The centred points scaled by a power of two (exact), ``xs = (x − mean)·2^−e`` with
    ``max |xs|`` in [0.5, 1), their squared norms ``sqs``, ``sc = 4^e``, and the rounding bound
    of the keys ``sqs_j − 2 xs_i·xs_j`` from a float32 (``single``) or float64 product (scaled
    units; ``raw_abs`` covers subnormal exact sums, raw units). Data whose centred magnitude lies
    outside 2^±400 is not scaled and has float64 keys only (float32 could over- or underflow)."""

    def __init__(self, arr: np.ndarray) -> None:
        d = arr.shape[1]
        Xc = arr - arr.mean(axis=0)
        amax = max(float(Xc.max()), -float(Xc.min()))  # = max |Xc|, without a temporary
        e = int(np.frexp(amax)[1]) if amax > 0.0 else 0
        self.single = -_MAX_SCALE_EXP <= e <= _MAX_SCALE_EXP
        if not self.single:
            e = 0
        self.Xs = np.ldexp(Xc, -e, out=Xc) if e else Xc
        self.sqs = np.einsum("ij,ij->i", self.Xs, self.Xs)
        self.sc = float(np.ldexp(1.0, 2 * e))
        self.raw_abs = (d + 4) * 2.0**-1060
        self.d = d

    def bound(self, single: bool) -> np.ndarray:
        """Per row i, a bound on ``|key − exact|`` for every j (scaled units): relative part
        ``4(d+4)·u·(‖xs_i‖² + max_j ‖xs_j‖²)`` (product error ``(d+2)·u·(‖x‖² + ‖y‖²)``, taken
        4× over), plus an absolute part for float32 underflow of tiny coordinates."""
        d = self.d
        rel = 4.0 * (d + 4) * float(np.finfo(np.float64).eps)
        if single:
            rel += 4.0 * (d + 4) * float(np.finfo(np.float32).eps)
        abs_s = (d + 4) * (2.0**-120 if single else 2.0**-1000)
        out: np.ndarray = rel * (self.sqs + self.sqs.max()) + abs_s
        return out


def block_rows(n: int, d: int, entries: int = _BLOCK_ENTRIES, cache_bytes: int = _CACHE_BYTES,
               min_rows: int = _MIN_BLOCK_ROWS) -> int:
    """Rows per BLAS key block: enough that a block's keys stay in cache for the selection
    (``entries``, default :data:`_BLOCK_ENTRIES`), and at least ``min_rows`` (default
    :data:`_MIN_BLOCK_ROWS`) once the transposed points exceed ``cache_bytes`` (default
    :data:`_CACHE_BYTES`; a skinny product re-reads all of them per block; figures in
    ``benchmarks/README.md``), within :data:`_MAX_BLOCK_BYTES`."""
    rows = entries // max(n, 1)
    if n * d * 4 > cache_bytes:
        rows = max(rows, min(min_rows, _MAX_BLOCK_BYTES // (4 * n)))
    return max(1, min(n, rows))


def blas_knn(
    arr: np.ndarray,
    k: int,
    rows: np.ndarray | None = None,
    points: ScaledPoints | None = None,
    single: bool | None = None,
    symmetric: bool = False,
    block: int | None = None,
    trace: list[tuple[str, int]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact k nearest neighbours of the points ``rows`` (default: all, in order) by BLAS
    keys, certified and re-ranked (see the module docstring). ``single`` forces float32 (True)
    or float64 (False) keys; by default float32 where the scale allows, switching to float64
    for the remaining blocks when many rows need the exact second pass. ``symmetric``: the
    candidates of all rows from half the Gram matrix (:func:`choose_knn`). ``block``: rows per
    key block (default :func:`block_rows`); the answer is the same for any. ``trace``, if
    given, receives what ran, in order: ``(key dtype, rows sent to the exact second pass)``
    for each row block, ``("symmetric", rows not certified)`` for the candidates from half the
    Gram matrix (:func:`faiss_knn` adds ``("faiss", rows not certified)``); the rows not
    certified are then redone by row blocks of float64 keys."""
    from layerflow.ricci._knn import kernels

    n, d = arr.shape
    sp = ScaledPoints(arr) if points is None else points
    single = sp.single if single is None else (single and sp.single)
    q = n if rows is None else int(rows.shape[0])
    m = min(n - 1, k + candidate_margin(k))
    Xs, sqs, sc, raw_abs = sp.Xs, sp.sqs, sp.sc, sp.raw_abs
    Xg = Xs.astype(np.float32) if single else Xs
    bound_s = sp.bound(single)
    block = min(q, block_rows(n, d) if block is None else max(1, int(block)))
    if symmetric and rows is None and m + 1 < n - 1:
        return _symmetric_knn(arr, k, m, sp, Xg, bound_s, block, trace)
    out_idx = np.empty((q, k), dtype=np.int64)
    out_d = np.empty((q, k), dtype=np.float64)
    work = kernels.knn_work(n, m)
    # all rows: a contiguous transpose (the many products stream it); a few rows: a view
    XgT = np.ascontiguousarray(Xg.T) if rows is None else Xg.T
    G = np.empty((block, n), dtype=Xg.dtype)
    fallbacks = 0
    for r0 in range(0, q, block):
        r1 = min(q, r0 + block)
        Gb = G[: r1 - r0]
        if rows is None:
            qrows = np.arange(r0, r1, dtype=np.int64)
            Xq = Xg[r0:r1]
        else:
            qrows = rows[r0:r1]
            Xq = Xg[qrows]
        if n < _threads.blas_min_n():
            kernels.small_gram(Xq, XgT, Gb)
        else:
            np.matmul(Xq, XgT, out=Gb)
        sent = kernels.knn_select(
            arr,
            Gb,
            sqs,
            qrows,
            k,
            m,
            bound_s[qrows],
            sc,
            raw_abs,
            out_idx[r0:r1],
            out_d[r0:r1],
            work,
        )
        fallbacks += sent
        if trace is not None:
            trace.append((str(Gb.dtype), int(sent)))
        if single and r1 < q and fallbacks > max(8, r1 // 20):
            # float32 keys cannot separate these points (near-equidistant data): float64 keys
            # for the remaining rows, so the exact second pass stays rare
            single = False
            Xg = Xs
            XgT = np.ascontiguousarray(Xg.T) if rows is None else Xg.T
            G = np.empty((block, n), dtype=np.float64)
            bound_s = sp.bound(False)
    return out_idx, out_d


def _symmetric_knn(
    arr: np.ndarray,
    k: int,
    m: int,
    sp: ScaledPoints,
    Xg: np.ndarray,
    bound_s: np.ndarray,
    block: int,
    trace: list[tuple[str, int]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`blas_knn` of every row with candidates from half the Gram matrix
    (:func:`~layerflow.ricci._knn.candidates.symmetric_candidates`); rows that are not certified are redone with float64 keys."""
    from layerflow.ricci._knn import kernels
    from layerflow.ricci._knn.candidates import symmetric_candidates

    n = arr.shape[0]
    cand, threshold = symmetric_candidates(Xg, sp.sqs, m, block)
    limit = (threshold + sp.sqs) * sp.sc - (bound_s * sp.sc + sp.raw_abs)
    rows = np.arange(n, dtype=np.int64)
    idx, sqd, ok = kernels.rerank_candidates(arr, rows, cand, k, limit)
    bad = np.flatnonzero(~ok).astype(np.int64)
    if trace is not None:
        trace.append(("symmetric", int(bad.size)))
    if bad.size:
        idx[bad], sqd[bad] = blas_knn(arr, k, rows=bad, points=sp, single=False, trace=trace)
    return idx, sqd


def faiss_knn(arr: np.ndarray, K: int,
              trace: list[tuple[str, int]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact (idx, sqd) of the K nearest neighbours of every point of the checked ``arr``
    (N, d), nearest first, ties to the smaller index; candidates from faiss. ``trace``: as for
    :func:`blas_knn`."""
    import faiss

    from layerflow.ricci._knn import kernels

    n, d = arr.shape
    sp = ScaledPoints(arr)
    if not sp.single:  # magnitudes float32 cannot hold: float64 keys throughout
        return blas_knn(arr, K, points=sp, trace=trace)
    x32 = np.ascontiguousarray(sp.Xs, dtype=np.float32)
    c = min(n, K + candidate_margin(K) + 1)
    prev = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        index = faiss.IndexFlatL2(d)
        index.add(x32)
        D, cand = index.search(x32, c)
    finally:
        faiss.omp_set_num_threads(prev)
    bound_s = sp.bound(True)
    limit = (D[:, -1].astype(np.float64) - bound_s) * sp.sc - sp.raw_abs
    rows = np.arange(n, dtype=np.int64)
    idx, sqd, ok = kernels.rerank_candidates(arr, rows, cand.astype(np.int64), K, limit)
    bad = np.flatnonzero(~ok)
    if trace is not None:
        trace.append(("faiss", int(bad.size)))
    if bad.size:
        idx[bad], sqd[bad] = blas_knn(arr, K, rows=bad.astype(np.int64), points=sp, single=False,
                                      trace=trace)
    return idx, sqd
