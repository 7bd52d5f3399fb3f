"""k-nearest-neighbour graphs of point clouds (Baptista et al. 2024, "Deep Learning as Ricci Flow").

For each state ``X_l`` of a trajectory the Ricci view builds the graph ``G_l`` that joins every
point to its k nearest neighbours (Euclidean distance, the point itself excluded).

Two conventions (SPEC §3):

* ``degree="union"`` (default): the undirected, unweighted graph with an edge {i, j} whenever j is
  among the k nearest neighbours of i *or* i among those of j. Returned as a symmetric 0/1 CSR
  matrix with zero diagonal; ``deg(i)`` = row sum, between k and N−1.
* ``degree="directed"``: the authors' R code (``cccd::nng`` + ``igraph::degree``): the directed
  graph with an arc i→j whenever j is among the k nearest neighbours of i. Returned as a 0/1 CSR
  matrix that is generally *not* symmetric (``A[i, j] = 1`` for the arc i→j); every row has
  exactly k ones. Degrees are ``deg(i) = out(i) + in(i) = k + in(i)``, a mutual pair i↔j is two
  arcs, and hop distances ignore the direction (igraph's ``distances(mode="all")``), i.e. they are
  the distances of the union graph.

Ties and duplicates
-------------------
Neighbours are ranked by the exact squared distance ``Σ_t (x_i[t] − x_j[t])²`` computed in float64,
ties broken by the smaller index j. This rule is deterministic and makes duplicate points
well-defined: a duplicate of x_i is at distance 0 and therefore among its nearest neighbours
(lowest index first); the point itself is excluded by index, never by distance.

Speed: the centred points, scaled by a power of two (exact), go through a float32 BLAS product
in row blocks that stay in cache; the keys ``‖y‖² − 2 x·y`` nominate ``k + margin`` candidates per
row (group minima and a bisected threshold, no sort of the row); candidates are re-ranked by the
exact float64 formula, and a row is certified only when the best non-candidate lies further than
a proven rounding bound of the keys (float32 product error ``(d+2)·u·(‖x‖² + ‖y‖²)``, taken 4×
over). An uncertified row (near-ties at the k-th place, duplicates) ranks exactly every point
whose key is within the bound; when many rows of a block need that (near-equidistant data), the
remaining blocks use float64 keys. Data whose centred magnitude lies outside 2^±400 uses float64
keys throughout. The result is therefore the same as a brute-force exact search.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from layerflow.errors import LayerflowError
from layerflow.trajectory import nonfinite_rows

__all__ = ["DEGREE_MODES", "RicciInputError", "check_points", "knn_graph", "knn_indices"]

DEGREE_MODES = ("union", "directed")
DegreeMode = Literal["union", "directed"]

# BLAS blocks of at most this many entries (rows of the block stay in cache for the selection)
_BLOCK_ENTRIES = 256 * 1024
# candidate keys from float32 BLAS (certified, then exact float64 re-ranking); tests switch it off
_USE_FLOAT32 = True
# float32 keys only for data whose centred magnitude is within 2^±this (no overflow/underflow)
_MAX_SCALE_EXP = 400
# at least this many candidates beyond k per row (see _margin)
MARGIN_MIN = 4
# BLAS products (else a Numba Gram block) from this many points on
BLAS_MIN_N = 1024
# parallel Numba BFS (one launch per call; public geodesic functions) from this many points on
PARALLEL_MIN_N = 8192
# layers of a network spread over threads from this many points on (see layer_threads)
LAYER_THREADS_MIN_N = 1024


class RicciInputError(LayerflowError):
    """Bad input to the Ricci view (k out of range, NaN in a state, unknown option, …)."""


def _where(layer: str | None) -> str:
    return f" ({layer})" if layer else ""


def check_points(X: Any, *, layer: str | None = None) -> np.ndarray:
    """Validate a point cloud and return it as a C-contiguous float64 array of shape ``(N, d)``.

    A 1-D array is one feature per point. Raises :class:`RicciInputError` for non-numeric data,
    NaN or infinite values (naming the first bad row), or no points.
    """
    if hasattr(X, "detach") and hasattr(X, "cpu"):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:
        raise RicciInputError(
            f"points{_where(layer)} could not be read as an array: {exc}"
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise RicciInputError(
            f"points{_where(layer)} have dtype {arr.dtype}; expected a real numeric array (N, d)"
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2:
        raise RicciInputError(
            f"points{_where(layer)} have shape {arr.shape}; expected a 2-D array (N, d)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise RicciInputError(f"points{_where(layer)} have shape {arr.shape}; expected N, d >= 1")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = nonfinite_rows(arr)
    if bad:
        raise RicciInputError(
            f"points{_where(layer)} have {bad}; the Ricci view needs finite coordinates"
        )
    return arr


def check_k(k: Any, n: int, *, layer: str | None = None) -> int:
    """Validate k against the number of points N (1 ≤ k ≤ N−1)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise RicciInputError(f"k={k!r}: expected an int >= 1")
    k = int(k)
    if k < 1:
        raise RicciInputError(f"k={k}: expected k >= 1 neighbours")
    if k >= n:
        raise RicciInputError(
            f"k={k} needs more than {k} points; {layer or 'the point cloud'} has {n}"
        )
    return k


def _check_degree(degree: Any) -> str:
    if degree not in DEGREE_MODES:
        raise RicciInputError(f"degree={degree!r}: expected one of {list(DEGREE_MODES)}")
    return str(degree)


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
    with _blas_one_thread(n):
        return _knn_checked(arr, k)


_local = threading.local()


@contextlib.contextmanager
def _serial_kernels() -> Iterator[None]:
    """Within this block (a layer job on a worker thread) every kernel runs on one thread."""
    _local.serial = True
    try:
        yield
    finally:
        _local.serial = False


_BLAS_CONTROLLER: Any = None


def _blas_one_thread(n: int) -> Any:
    """Context: BLAS on one thread for the kNN products of N points (N >= :data:`BLAS_MIN_N`;
    smaller ones use no BLAS). The layers themselves are the parallel jobs; BLAS threads on top
    oversubscribe the cores and spin-wait, which on a loaded machine cost several times the
    product. Uses threadpoolctl (a dependency of scikit-learn; without it, a no-op).
    Process-wide while it lasts, restored afterwards; a no-op inside a layer job."""
    global _BLAS_CONTROLLER
    if n < BLAS_MIN_N or getattr(_local, "serial", False):
        return contextlib.nullcontext()
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - scikit-learn requires it
        return contextlib.nullcontext()
    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def _threads_for(n: int) -> int:
    """Threads for one parallel Numba kernel launch on N points: 1 below
    :data:`PARALLEL_MIN_N` or inside a layer job. A launch waits at a barrier for every
    thread; on a loaded machine that wait (a descheduled thread, spinning waiters) costs far
    more than the work of a small launch."""
    import numba

    if n < PARALLEL_MIN_N or getattr(_local, "serial", False):
        return 1
    return max(1, int(numba.get_num_threads()))


def layer_threads(n: int) -> int:
    """Threads over which the layers of one network are spread (each layer one job): the Numba
    thread count (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``) from
    :data:`LAYER_THREADS_MIN_N` points on, else 1."""
    import numba

    if n < LAYER_THREADS_MIN_N or getattr(_local, "serial", False):
        return 1
    return max(1, int(numba.get_num_threads()))


def _margin(k: int) -> int:
    """Candidates beyond k per row: more cost exact re-ranking, fewer leave rows uncertified."""
    return max(MARGIN_MIN, k // 8)


def _knn_checked(arr: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`knn_indices` on a checked float64 (N, d) array and a checked k."""
    from layerflow.ricci import _kernels

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
    work = _kernels.knn_work(n, m)
    block = max(1, min(n, _BLOCK_ENTRIES // max(n, 1)))
    XgT = np.ascontiguousarray(Xg.T)
    G = np.empty((block, n), dtype=Xg.dtype)
    fallbacks = 0
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        Gb = G[: r1 - r0]
        if n < BLAS_MIN_N:
            _kernels.small_gram(Xg[r0:r1], XgT, Gb)
        else:
            np.matmul(Xg[r0:r1], XgT, out=Gb)
        fallbacks += _kernels.knn_select(
            arr,
            Gb,
            sqs,
            r0,
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


def graph_from_indices(nbrs: np.ndarray, degree: str = "union") -> sp.csr_matrix:
    """The kNN graph (CSR, 0/1 int8) from a neighbour table of shape ``(N, k)``.

    ``degree="union"``: symmetric, the union of the arcs i→nbrs[i]; ``"directed"``: the arcs.
    """
    from layerflow.ricci import _kernels

    degree = _check_degree(degree)
    n, k = nbrs.shape
    nb = np.ascontiguousarray(nbrs, dtype=np.int64)
    if degree == "union":
        indptr, cols = _kernels.union_csr(nb)
    else:
        order = np.argsort(nb, axis=1, kind="stable")
        cols = np.take_along_axis(nb, order, axis=1).reshape(-1)
        indptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    data = np.ones(cols.shape[0], dtype=np.int8)
    G = sp.csr_matrix((data, cols, indptr), shape=(n, n))
    G.has_sorted_indices = True
    return G


def knn_graph(
    X: Any, k: int = 30, degree: DegreeMode = "union", *, layer: str | None = None
) -> sp.csr_matrix:
    """k-nearest-neighbour graph of a point cloud (SPEC §3; Baptista et al. 2024).

    Parameters
    ----------
    X
        Points, array of shape ``(N, d)``; must be finite.
    k
        Neighbours per point (Euclidean, self excluded), ``1 ≤ k ≤ N − 1``. Default 30.
    degree
        ``"union"`` (default): undirected union of the kNN relations, symmetric 0/1 CSR with zero
        diagonal. ``"directed"``: the authors' directed kNN graph, ``A[i, j] = 1`` for the arc
        i→j (exactly k per row); degree = in + out (see the module docstring).
    layer
        Optional description for error messages.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(N, N)``, dtype int8, sorted indices.

    Raises
    ------
    RicciInputError
        k < 1 or k ≥ N, NaN/Inf in X, unknown ``degree``.
    """
    mode = _check_degree(degree)
    nbrs, _ = knn_indices(X, k, layer=layer)
    return graph_from_indices(nbrs, mode)
