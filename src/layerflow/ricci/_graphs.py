"""k-nearest-neighbour graphs of point clouds (Baptista et al. 2024, "Deep Learning as Ricci Flow").

For each state ``X_l`` of a trajectory the Ricci view builds the graph ``G_l`` that joins every
point to its k nearest neighbours (Euclidean distance, the point itself excluded; the ranks are
exact, whichever back-end nominates the candidates: :data:`KNN_METHODS`, the ``knn=`` argument;
see :mod:`layerflow.ricci._knn`).

Two conventions:

* ``degree="union"`` (default): the undirected, unweighted graph with an edge {i, j} whenever j is
  among the k nearest neighbours of i *or* i among those of j. Returned as a symmetric 0/1 CSR
  matrix with zero diagonal; ``deg(i)`` = row sum, between k and N−1.
* ``degree="directed"``: the authors' R code (``cccd::nng`` + ``igraph::degree``): the directed
  graph with an arc i→j whenever j is among the k nearest neighbours of i. Returned as a 0/1 CSR
  matrix that is generally *not* symmetric (``A[i, j] = 1`` for the arc i→j); every row has
  exactly k ones. Degrees are ``deg(i) = out(i) + in(i) = k + in(i)``, a mutual pair i↔j is two
  arcs, and hop distances ignore the direction (igraph's ``distances(mode="all")``), i.e. they are
  the distances of the union graph.

Ties at the k-th distance (``ties``, :data:`TIE_RULES`): ``"by_index"``
(default) keeps exactly k neighbours, ties to the smaller index; ``"keep"`` keeps every point tied
at the k-th distance, the rule of ``cccd::nng`` (an out-degree may then exceed k). The authors'
graph is ``knn_graph(X, k, degree="directed", ties="keep")``: on the same points it has exactly
the arcs of ``cccd::nng(X, k=k, method="Euclidean")`` (see :mod:`layerflow.ricci._knn` for the
one case, distances one rounding unit apart, where cccd's square roots could merge two of them).

Inputs are validated here, once, at the public edge (:func:`check_points`, :func:`check_k`, …):
the rest of the package gets C-contiguous float64 ``(N, d)`` arrays, ints ``1 ≤ k ≤ N − 1`` and
option strings from their lists; errors repeat the bad value and say what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

import numpy as np
import scipy.sparse as sp

from layerflow._errors import ConfigError
from layerflow._trajectory import nonfinite_rows
from layerflow.ricci import _threads
from layerflow.ricci._knn import (
    KNN_METHODS as KNN_METHODS,
)
from layerflow.ricci._knn import (
    TIE_RULES as TIE_RULES,
)
from layerflow.ricci._knn import (
    exact_knn,
    faiss_installed,
    neighbour_arcs,
    table_width,
)
from layerflow.ricci._options import DEFAULT_K as DEFAULT_K

DEGREE_MODES = ("union", "directed")
DegreeMode = Literal["union", "directed"]
TieRule = Literal["by_index", "keep"]


def _where(layer: str | None) -> str:
    return f" ({layer})" if layer else ""


def check_points(X: Any, *, layer: str | None = None) -> np.ndarray:
    """Validate a point cloud and return it as a C-contiguous float64 array of shape ``(N, d)``.

    A 1-D array is one feature per point. Raises :class:`ConfigError` for non-numeric data,
    NaN or infinite values (naming the first bad row), or no points.
    """
    if hasattr(X, "detach") and hasattr(X, "cpu"):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:
        raise ConfigError(
            f"points{_where(layer)} could not be read as an array: {exc}"
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise ConfigError(
            f"points{_where(layer)} have dtype {arr.dtype}; expected a real numeric array (N, d)"
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2:
        raise ConfigError(
            f"points{_where(layer)} have shape {arr.shape}; expected a 2-D array (N, d)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ConfigError(f"points{_where(layer)} have shape {arr.shape}; expected N, d >= 1")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = nonfinite_rows(arr)
    if bad:
        raise ConfigError(
            f"points{_where(layer)} have {bad}; the Ricci view needs finite coordinates"
        )
    return arr


def check_k_type(k: Any) -> int:
    """k is an int ≥ 1 (not a bool)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k={k!r}: expected an int >= 1")
    return int(k)


def check_k(k: Any, n: int, *, layer: str | None = None) -> int:
    """Validate k against the number of points N (1 ≤ k ≤ N−1)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise ConfigError(f"k={k!r}: expected an int >= 1")
    k = int(k)
    if k < 1:
        raise ConfigError(f"k={k}: expected k >= 1 neighbours")
    if k >= n:
        raise ConfigError(
            f"k={k} needs more than {k} points; {layer or 'the point cloud'} has {n}"
        )
    return cast(int, k)


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` is one of ``allowed`` (``"degree='x': expected one of [...]"`` otherwise)."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r}: expected one of {list(allowed)}")
    return str(value)

def check_knn(knn: Any) -> str:
    """``knn`` is a key of :data:`KNN_METHODS`; ``"faiss"`` needs faiss installed."""
    check_choice("knn", knn, tuple(KNN_METHODS))
    if knn == "faiss" and not faiss_installed():
        raise ConfigError(
            "knn='faiss' needs faiss-cpu (the faiss extra: pip install 'layerflow[faiss]'); "
            f"the other back-ends give the same answer: {[m for m in KNN_METHODS if m != 'faiss']}"
        )
    return str(knn)


def knn_indices(
    X: Any, k: int = DEFAULT_K, *, knn: str = "auto", layer: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of every point, nearest first.

    Parameters
    ----------
    X
        Points, shape ``(N, d)``.
    k
        Number of neighbours, ``1 ≤ k ≤ N − 1``.
    knn
        The back-end that nominates the candidates (:data:`KNN_METHODS`): ``"auto"`` (default),
        ``"blas"``, ``"symmetric"`` or ``"faiss"``; every back-end gives the same exact answer.
    layer
        Optional description used in error messages (e.g. ``"layer 3 ('fc3')"``).

    Returns
    -------
    (indices, sqdist)
        ``indices`` int64 of shape ``(N, k)``: row i lists the neighbours of i by increasing
        exact squared distance, ties to the smaller index, self excluded; ``sqdist`` float64
        ``(N, k)`` the matching squared Euclidean distances.
    """
    method = check_knn(knn)
    arr = check_points(X, layer=layer)
    n = arr.shape[0]
    k = check_k(k, n, layer=layer)
    with _threads.blas_one_thread(n):
        return exact_knn(arr, k, method)


def graph_from_arcs(ptr: np.ndarray, arcs: np.ndarray, degree: str = "union") -> sp.csr_matrix:
    """The kNN graph (CSR, 0/1 int8, sorted indices) of the arcs ``i → arcs[ptr[i]:ptr[i+1]]``
    (no self-arcs, no repeated arc): ``degree="union"`` symmetric, the union of the arcs;
    ``"directed"`` the arcs themselves."""
    from layerflow.ricci._shortest_paths import union_csr

    n = ptr.shape[0] - 1
    if degree == "union":
        indptr, cols = union_csr(ptr, arcs)
    else:
        rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
        cols = arcs[np.lexsort((arcs, rows))]
        indptr = ptr
    data = np.ones(cols.shape[0], dtype=np.int8)
    G = sp.csr_matrix((data, cols, indptr), shape=(n, n))
    G.has_sorted_indices = True
    return G


def knn_graph(
    X: Any,
    k: int = DEFAULT_K,
    degree: DegreeMode = "union",
    *,
    ties: TieRule = "by_index",
    knn: str = "auto",
    layer: str | None = None,
) -> sp.csr_matrix:
    """k-nearest-neighbour graph of a point cloud (Baptista et al. 2024).

    Parameters
    ----------
    X
        Points, array of shape ``(N, d)``; must be finite.
    k
        Neighbours per point (Euclidean, self excluded), ``1 ≤ k ≤ N − 1``. Default 30.
    degree
        ``"union"`` (default): undirected union of the kNN relations, symmetric 0/1 CSR with zero
        diagonal. ``"directed"``: the authors' directed kNN graph, ``A[i, j] = 1`` for the arc
        i→j (k per row, more with ``ties="keep"``); degree = in + out (see the module docstring).
    ties
        ``"by_index"`` (default, layerflow's rule): exactly k neighbours, ties at the k-th
        distance to the smaller index. ``"keep"``: every j with ``d(i, j) ≤ τ_i`` (τ_i the k-th
        smallest distance from i), cccd's ``nng`` rule used by the authors' R code. Ties are
        decided on exact float64 squared distances.
    knn
        The kNN back-end (:data:`KNN_METHODS`; ``"auto"`` by default): the same graph either way.
    layer
        Optional description for error messages.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(N, N)``, dtype int8, sorted indices.

    Raises
    ------
    ConfigError
        k < 1 or k ≥ N, NaN/Inf in X, unknown ``degree``, ``ties`` or ``knn``.
    """
    mode = check_choice("degree", degree, DEGREE_MODES)
    rule = check_choice("ties", ties, TIE_RULES)
    method = check_knn(knn)
    arr = check_points(X, layer=layer)
    n = arr.shape[0]
    k = check_k(k, n, layer=layer)
    with _threads.blas_one_thread(n):
        idx, sqd = exact_knn(arr, table_width(k, n, rule), method)
    return graph_from_arcs(*neighbour_arcs(arr, idx, sqd, k, rule), mode)


def as_graph(G: Any, degree: str = "union", *, what: str = "G") -> sp.csr_matrix:
    """Validate an adjacency matrix and return it as int8 CSR with sorted indices.

    Any stored nonzero is an edge (weights are ignored: the graphs are unweighted). Raises
    :class:`ConfigError` if it is not square, has self-loops, or (``degree="union"``) is not
    symmetric.
    """
    check_choice("degree", degree, DEGREE_MODES)
    if sp.issparse(G):
        A = sp.csr_matrix(G)
    else:
        arr = np.asarray(G)
        if arr.ndim != 2 or arr.dtype.kind not in "biuf":
            raise ConfigError(
                f"{what} has shape {arr.shape} and dtype {arr.dtype}; expected a square "
                "adjacency matrix (scipy.sparse or 2-D array)"
            )
        A = sp.csr_matrix(arr)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ConfigError(f"{what} has shape {A.shape}; expected a square adjacency matrix")
    A.eliminate_zeros()
    if A.data.size and not np.isfinite(A.data).all():
        raise ConfigError(f"{what} has non-finite entries; expected a 0/1 adjacency matrix")
    A = sp.csr_matrix((np.ones(A.nnz, dtype=np.int8), A.indices, A.indptr), shape=A.shape)
    A.sort_indices()
    loops = int(np.count_nonzero(A.diagonal()))
    if loops:
        raise ConfigError(f"{what} has {loops} self-loops; expected a zero diagonal")
    if degree == "union" and (A != A.T).nnz:
        lone = int((A > A.T).nnz)
        raise ConfigError(
            f"{what} is not symmetric ({lone} entries (i, j) without (j, i)); pass "
            "degree='directed' for a directed kNN graph"
        )
    return A


def union_graph(A: sp.csr_matrix) -> sp.csr_matrix:
    """The undirected graph underlying a (possibly directed) 0/1 CSR graph."""
    U = ((A + A.T) > 0).astype(np.int8).tocsr()
    U.sort_indices()
    return U


def edge_rows(A: sp.csr_matrix) -> np.ndarray:
    """Row index of every stored entry of a CSR matrix (aligned with ``A.indices``)."""
    return np.repeat(np.arange(A.shape[0], dtype=np.int64), np.diff(A.indptr))
