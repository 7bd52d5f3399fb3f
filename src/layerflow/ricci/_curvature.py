"""Discrete Ricci curvature of the edges of a graph (Baptista et al. 2024).

Kinds (a registry, :data:`CURVATURES`: kind -> function of the validated adjacency matrix and the
degree mode, returning one value per stored entry, in the order of ``A.data``):

``"forman"``
    Forman–Ricci curvature of an unweighted edge, ``F(i, j) = 4 − deg(i) − deg(j)``. Its scalar
    curvature has a closed form in the degrees (:meth:`Forman.scalar_from_degrees`), which the
    Ricci coefficients use wherever the graph's degrees are known without building it.
``"augmented"``
    Augmented Forman curvature ``F(i, j) + 3·t(i, j)``, t = number of triangles on the edge
    (common neighbours of i and j).
``"ollivier"``
    Ollivier–Ricci curvature ``κ(i, j) = 1 − W1(m_i, m_j) / d(i, j)`` with
    ``m_i = α δ_i + (1 − α)/deg(i) Σ_{u ~ i} δ_u`` (α = 0.5), ground cost = hop distance,
    ``d(i, j) = 1`` for an edge. W1 is solved exactly (POT's network simplex) per edge
    (:mod:`layerflow.ricci._curvature_kernels`).

Directed graphs (``degree="directed"``, the authors' R code): the graph is the directed kNN
graph; ``deg(i) = in(i) + out(i)`` and the curvature is given per arc i→j (a mutual pair is two
arcs, as in igraph). Triangles ``t`` and the Ollivier measures use the underlying undirected
(union) graph, whose hop distances are what igraph's ``distances(mode="all")`` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import scipy.sparse as sp

from layerflow._errors import ConfigError
from layerflow._suggest import did_you_mean
from layerflow.ricci._graphs import as_graph, edge_rows, union_graph


def _degrees(A: sp.csr_matrix, degree: str) -> np.ndarray:
    out = np.diff(A.indptr).astype(np.int64)
    if degree == "directed":
        out = out + np.bincount(A.indices, minlength=A.shape[0]).astype(np.int64)
    return cast(np.ndarray, out)


class Forman:
    """Forman–Ricci curvature of an unweighted edge, ``F(i, j) = 4 − deg(i) − deg(j)``
    (``deg = in + out`` for ``degree="directed"``): called on a validated graph, the value of
    every stored entry; :meth:`scalar_from_degrees`, the scalar curvature in closed form."""

    def __call__(self, A: sp.csr_matrix, degree: str, **_: Any) -> np.ndarray:
        deg = _degrees(A, degree)
        return cast(np.ndarray, (4 - deg[edge_rows(A)] - deg[A.indices]).astype(np.float64))

    @staticmethod
    def scalar_from_degrees(entries: Any, sum_sq: Any, degree: str) -> Any:
        """``Ric = Σ_e F(e)`` from the number of stored entries and ``Σ_i deg_i²``: each node i
        is an end of ``deg_i`` entries, so ``Σ_entries (deg_i + deg_j) = 2·Σ deg²``, and
        ``Ric = 2·nnz − Σ deg²`` (union: each edge once, nnz = 2·edges) or ``4·arcs − Σ D²``
        (directed: each arc once, ``D = in + out``). Integers, so exactly the per-edge sum."""
        return 2 * entries - sum_sq if degree == "union" else 4 * entries - sum_sq


_forman = Forman()


def _triangles(A: sp.csr_matrix, degree: str) -> np.ndarray:
    """t(i, j) for each stored entry of A (computed on the union graph)."""
    from layerflow.ricci._curvature_kernels import edge_triangles

    U = A if degree == "union" else union_graph(A)
    t = edge_triangles(U.indptr.astype(np.int64), U.indices.astype(np.int64))
    if degree == "union":
        return t
    T = sp.csr_matrix((t.astype(np.float64), U.indices, U.indptr), shape=U.shape)
    return np.asarray(T[edge_rows(A), A.indices]).ravel().astype(np.int64)


def _augmented(A: sp.csr_matrix, degree: str, **_: Any) -> np.ndarray:
    return _forman(A, degree) + 3.0 * _triangles(A, degree)


def ollivier_curvature(
    A: sp.csr_matrix, degree: str, alpha: float = 0.5, **_: Any
) -> np.ndarray:
    """κ of every stored entry of the validated graph A (per arc for ``degree="directed"``, from
    the union graph's measures), aligned with ``A.indices``; the curvature registry's entry."""
    if not (0.0 <= alpha <= 1.0):
        raise ConfigError(f"alpha={alpha!r}: expected 0 <= alpha <= 1")
    U = A if degree == "union" else union_graph(A)
    rows = edge_rows(U)
    upper = rows < U.indices
    ei, ej = rows[upper], U.indices[upper]
    from layerflow.ricci._curvature_kernels import ollivier_edges

    kap = ollivier_edges(U, ei, ej, alpha)
    K = sp.csr_matrix(
        (np.concatenate([kap, kap]), (np.concatenate([ei, ej]), np.concatenate([ej, ei]))),
        shape=U.shape,
    )
    K.sort_indices()
    if degree == "union":
        return cast(np.ndarray, K.data.astype(np.float64))
    return np.asarray(K[edge_rows(A), A.indices]).ravel()


# kind -> function(A (validated CSR), degree, **options) -> values aligned with A.data; a kind
# with a ``scalar_from_degrees`` closed form (Forman's) is summed from the degrees wherever they
# are known without building the graph (the k family of the Ricci coefficients)
CURVATURES: dict[str, Callable[..., np.ndarray]] = {
    "forman": _forman,
    "augmented": _augmented,
    "ollivier": ollivier_curvature,
}


def check_kind(kind: Any) -> str:
    """``kind`` is a key of :data:`CURVATURES` (else :class:`ConfigError` listing them)."""
    if kind not in CURVATURES:
        raise ConfigError(
            f"unknown curvature kind {kind!r}{did_you_mean(kind, CURVATURES)}; available kinds: "
            f"{sorted(CURVATURES)}"
        )
    return str(kind)


def edge_curvature(
    G: Any, kind: str = "forman", degree: str = "union", *, alpha: float = 0.5
) -> sp.csr_matrix:
    """Curvature of every edge of an unweighted graph.

    Parameters
    ----------
    G
        Adjacency matrix, shape ``(N, N)`` (scipy.sparse or dense); nonzeros are edges. Symmetric
        with ``degree="union"``; the directed kNN graph (arcs) with ``degree="directed"``.
    kind
        ``"forman"`` ``F = 4 − deg(i) − deg(j)``; ``"augmented"`` ``F + 3·t(i, j)``;
        ``"ollivier"`` ``κ = 1 − W1(m_i, m_j)/d(i, j)``, α = ``alpha``, hop-distance cost.
    degree
        ``"union"`` or ``"directed"`` (``deg = in + out``, values per arc; see module docs).
    alpha
        Laziness of the Ollivier measures (default 0.5); ignored by the Forman kinds.

    Returns
    -------
    scipy.sparse.csr_matrix
        float64, exactly the sparsity pattern of G (sorted indices); entry (i, j) is the
        curvature of the edge (arc) i–j. Forman kinds are vectorised over the sparse matrix;
        Ollivier solves one small exact transport problem per undirected edge.
    """
    kind = check_kind(kind)
    A = as_graph(G, degree)
    values = CURVATURES[kind](A, degree, alpha=alpha)
    return sp.csr_matrix((values, A.indices.copy(), A.indptr.copy()), shape=A.shape)


def scalar_curvature(
    G: Any, kind: str = "forman", degree: str = "union", *, alpha: float = 0.5
) -> float:
    """``Ric = Σ_{edges e} curvature(e)``: each undirected edge once (``"union"``), each arc once
    (``"directed"``, so a mutual pair counts twice as in the authors' R code)."""
    C = edge_curvature(G, kind, degree, alpha=alpha)
    total = float(C.data.sum())
    return 0.5 * total if degree == "union" else total
