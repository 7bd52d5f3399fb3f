"""Exact k nearest neighbours by BLAS keys (internal; the path of :func:`layerflow.ricci.knn.exact_knn`
for most shapes, and the exact fallback of every other source of candidates).

Speed
-----
The centred points, scaled by a power of two (exact), go through a float32 BLAS product in row
blocks that stay in cache (at least 256 rows once the points no longer fit in cache); the keys
``‖y‖² − 2 x·y`` nominate ``k + margin`` candidates per row (group minima and a bisected
threshold, no sort of the row); candidates are re-ranked by the
exact float64 formula, and a row is certified only when the best non-candidate lies further than
a proven rounding bound of the keys (float32 product error ``(d+2)·u·(‖x‖² + ‖y‖²)``, taken 4×
over). An uncertified row (near-ties at the k-th place, duplicates) ranks exactly every point
whose key is within the bound; when many rows of a block need that (near-equidistant data), the
remaining blocks use float64 keys. Data whose centred magnitude lies outside 2^±400 uses float64
keys throughout. The result is therefore the same as a brute-force exact search.
"""

from __future__ import annotations

import numpy as np

from layerflow.ricci import threads

__all__ = ["MARGIN_MIN", "ScaledPoints", "blas_knn", "block_rows", "candidate_margin"]

# BLAS blocks of at most this many entries (rows of the block stay in cache for the selection)
_BLOCK_ENTRIES = 256 * 1024
# ... but at least this many rows once the transposed points exceed _CACHE_BYTES (see
# block_rows), and at most _MAX_BLOCK_BYTES of keys
_MIN_BLOCK_ROWS = 256
_CACHE_BYTES = 4 * 1024 * 1024
_MAX_BLOCK_BYTES = 64 * 1024 * 1024
# candidate keys from float32 BLAS (certified, then exact float64 re-ranking); tests switch it off
_USE_FLOAT32 = True
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
        self.single = _USE_FLOAT32 and -_MAX_SCALE_EXP <= e <= _MAX_SCALE_EXP
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


def block_rows(n: int, d: int) -> int:
    """Rows per BLAS key block: enough that a block's keys stay in cache for the selection
    (:data:`_BLOCK_ENTRIES`), and at least :data:`_MIN_BLOCK_ROWS` once the transposed points
    no longer fit in cache (a skinny product re-reads all of them per block: at 20,000 × 768 a
    13-row block took 3× the CPU time of a 256-row one), within :data:`_MAX_BLOCK_BYTES`."""
    rows = _BLOCK_ENTRIES // max(n, 1)
    if n * d * 4 > _CACHE_BYTES:
        rows = max(rows, min(_MIN_BLOCK_ROWS, _MAX_BLOCK_BYTES // (4 * n)))
    return max(1, min(n, rows))


def blas_knn(
    arr: np.ndarray,
    k: int,
    rows: np.ndarray | None = None,
    points: ScaledPoints | None = None,
    single: bool | None = None,
    symmetric: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The exact k nearest neighbours of the points ``rows`` (default: all, in order) by BLAS
    keys, certified and re-ranked (see the module docstring). ``single`` forces float32 (True)
    or float64 (False) keys; by default float32 where the scale allows, switching to float64
    for the remaining blocks when many rows need the exact second pass. ``symmetric``: the
    candidates of all rows from half the Gram matrix (:func:`~layerflow.ricci.knn.use_symmetric`)."""
    from layerflow.ricci import knn_kernels

    n, d = arr.shape
    sp = ScaledPoints(arr) if points is None else points
    single = sp.single if single is None else (single and sp.single)
    q = n if rows is None else int(rows.shape[0])
    m = min(n - 1, k + candidate_margin(k))
    Xs, sqs, sc, raw_abs = sp.Xs, sp.sqs, sp.sc, sp.raw_abs
    Xg = Xs.astype(np.float32) if single else Xs
    bound_s = sp.bound(single)
    block = min(q, block_rows(n, d))
    if symmetric and rows is None and m + 1 < n - 1:
        return _symmetric_knn(arr, k, m, sp, Xg, bound_s, block)
    out_idx = np.empty((q, k), dtype=np.int64)
    out_d = np.empty((q, k), dtype=np.float64)
    work = knn_kernels.knn_work(n, m)
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
        if n < threads.BLAS_MIN_N:
            knn_kernels.small_gram(Xq, XgT, Gb)
        else:
            np.matmul(Xq, XgT, out=Gb)
        fallbacks += knn_kernels.knn_select(
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
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`blas_knn` of every row with candidates from half the Gram matrix
    (:mod:`layerflow.ricci.knn_symmetric`); rows that are not certified are redone with float64 keys."""
    from layerflow.ricci import knn_kernels
    from layerflow.ricci.knn_symmetric import symmetric_candidates

    n = arr.shape[0]
    cand, threshold = symmetric_candidates(Xg, sp.sqs, m, block)
    limit = (threshold + sp.sqs) * sp.sc - (bound_s * sp.sc + sp.raw_abs)
    rows = np.arange(n, dtype=np.int64)
    idx, sqd, ok = knn_kernels.rerank_candidates(arr, rows, cand, k, limit)
    bad = np.flatnonzero(~ok).astype(np.int64)
    if bad.size:
        idx[bad], sqd[bad] = blas_knn(arr, k, rows=bad, points=sp, single=False)
    return idx, sqd
