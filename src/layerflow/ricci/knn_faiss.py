"""Exact kNN from faiss candidates (internal; optional dependency ``faiss-cpu``, the ``faiss`` extra).

Used where measured faster than the BLAS keys: large, narrower states (see
:func:`~layerflow.ricci.knn.use_faiss`; at 20,000 × 50 1.0 s against 1.2 s on one thread).

faiss's exhaustive ``IndexFlatL2`` (Johnson, Douze & Jégou 2019, "Billion-scale similarity search
with GPUs"; the CPU index) returns, for every point, the ``c`` smallest float32 squared distances.
They only nominate candidates; the answer stays the exact one of :mod:`layerflow.ricci.knn`:

1. faiss searches the centred points scaled by a power of two (exact), in float32, for
   ``c = K + margin + 1`` candidates (the point itself among them);
2. the candidates are re-ranked by the exact float64 squared distance, ties to the smaller index
   (:func:`~layerflow.ricci.knn_kernels.rerank_candidates`);
3. a row is certified when its K-th exact distance lies below
   ``(D̃_c − bound_i)·sc − raw_abs``, ``D̃_c`` the largest returned float32 distance and
   ``bound_i`` the rounding bound of a float32 distance (:meth:`layerflow.ricci.knn_blas.ScaledPoints.bound`, the
   same bound as the BLAS keys): every other point is then provably further than the K kept;
4. rows that are not certified (near-ties at the K-th place, duplicates) are done again by the
   BLAS path with float64 keys (:func:`~layerflow.ricci.knn_blas.blas_knn`), which is exact.

faiss runs on one OpenMP thread per call (set for the calling thread and restored; OpenMP's
thread count is per thread): the layers of a network are the parallel jobs, as for BLAS.
"""

from __future__ import annotations

import numpy as np

from layerflow.ricci.knn_blas import ScaledPoints, blas_knn, candidate_margin

__all__ = ["faiss_knn"]


def faiss_knn(arr: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact (idx, sqd) of the K nearest neighbours of every point of the checked ``arr``
    (N, d), nearest first, ties to the smaller index; candidates from faiss."""
    import faiss

    from layerflow.ricci import knn_kernels

    n, d = arr.shape
    sp = ScaledPoints(arr)
    if not sp.single:  # magnitudes float32 cannot hold: float64 keys throughout
        return blas_knn(arr, K, points=sp)
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
    idx, sqd, ok = knn_kernels.rerank_candidates(arr, rows, cand.astype(np.int64), K, limit)
    bad = np.flatnonzero(~ok)
    if bad.size:
        idx[bad], sqd[bad] = blas_knn(arr, K, rows=bad.astype(np.int64), points=sp, single=False)
    return idx, sqd
