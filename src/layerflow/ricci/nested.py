"""The kNN graphs of one state for every swept k at once (internal; SPEC §3, "k sweep").

The graph at k is a subgraph of the graph at any larger k (under either tie rule), so the union
graphs of all swept ks are stored once: each arc of the largest graph carries the index of the
first swept k that holds it, every row is ordered by that index, and the graph at ``k_c`` is the
row prefixes ``indices[starts[v]:ends[c, v]]`` (:mod:`layerflow.ricci.nested_kernels`). From
that one structure come, per k, without building a graph:

* Forman's scalar curvature in closed form, ``2·nnz − Σ deg²`` on the union graph and
  ``4·arcs − Σ D²`` with ``D = in + out`` on the directed one (integers; exactly the per-edge
  sums of :func:`~layerflow.ricci.curvature.scalar_curvature`);
* the connected components, counted only up to the first connected k (a supergraph of a
  connected graph is connected);
* the exact geodesic mass (:mod:`layerflow.ricci.mass_kernels`).

Nodes are renumbered in breadth-first order of the graph at ``min(k_0, 10)`` (none of these
quantities depends on the numbering; the BFS runs faster on it). The two tie rules give the same
graph at k unless some point has a tie across its k-th distance; :func:`boundary_ties` says
where, so that a quantity is computed once for both protocols wherever their graphs agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from layerflow.ricci.geodesics import GeodesicMass

__all__ = [
    "ORDER_K",
    "NestedGraphs",
    "boundary_ties",
    "locality_order",
    "nested_from_births",
    "nested_graphs",
]

# the breadth-first numbering is taken on the graph at min(k_0, ORDER_K)
ORDER_K = 10


@dataclass(frozen=True)
class NestedGraphs:
    """The union graphs of one state at the swept ``ks`` under one tie rule (see the module
    docstring). ``forman_union[c]`` and ``forman_directed[c]`` are Forman's scalar curvature at
    ``ks[c]`` (union edges once; arcs once, degree in + out)."""

    ks: tuple[int, ...]
    ties: str
    starts: np.ndarray
    ends: np.ndarray
    indices: np.ndarray
    forman_union: np.ndarray
    forman_directed: np.ndarray

    @property
    def n(self) -> int:
        return int(self.starts.shape[0])

    def scalar_forman(self, c: int, degree: str) -> float:
        """Forman's scalar curvature at ``ks[c]`` in the ``degree`` convention."""
        return float(self.forman_union[c] if degree == "union" else self.forman_directed[c])

    def components(self, c: int) -> int:
        """Connected components of the graph at ``ks[c]``."""
        from layerflow.ricci import graph_kernels

        return int(graph_kernels.span_components(self.starts, self.ends[c], self.indices))

    def geodesic_masses(
        self, reuse: Sequence[GeodesicMass] | None = None, same: np.ndarray | None = None
    ) -> list[GeodesicMass]:
        """The exact geodesic mass at every swept k (``inf`` with the component count where
        disconnected, as :func:`~layerflow.ricci.geodesics.geodesic_mass`). With ``reuse``,
        ``reuse[c]`` is taken wherever ``same[c]`` says that graph is this one's at ``ks[c]``
        (the other tie rule's, :func:`boundary_ties`)."""
        from layerflow.ricci import mass_kernels

        n = self.n
        out: list[GeodesicMass] = []
        connected = False  # at the previous k, hence at this one (a supergraph)
        for c in range(len(self.ks)):
            if reuse is not None and same is not None and same[c]:
                g = reuse[c]
            elif not connected and (ncomp := self.components(c)) > 1:
                g = GeodesicMass(np.inf, 0.0, 0, True, ncomp, n)
            else:
                total = mass_kernels.mass_total(self.starts, self.ends[c], self.indices)
                g = GeodesicMass(total / 2.0, 0.0, n, True, 1, n)
            connected = g.n_components == 1
            out.append(g)
        return out


def locality_order(idx: np.ndarray, k: int) -> np.ndarray:
    """Breadth-first numbering (:func:`~layerflow.ricci.graph_kernels.bfs_order`) of the union
    graph of the first k columns of a neighbour table."""
    from layerflow.ricci import graph_kernels

    n = idx.shape[0]
    ptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    indptr, indices = graph_kernels.union_csr(ptr, np.ascontiguousarray(idx[:, :k]).reshape(-1))
    order: np.ndarray = graph_kernels.bfs_order(indptr[:-1], indptr[1:], indices)
    return order


def boundary_ties(sqd: np.ndarray, ks: tuple[int, ...]) -> np.ndarray:
    """``out[c]``: some point's k-th and (k+1)-th exact distances tie at ``k = ks[c]``, the only
    case in which ``ties="keep"`` and ``ties="by_index"`` give different graphs at that k.
    ``sqd`` (N, K) is a sorted table with K > max(ks), or K = N − 1 (no point beyond)."""
    K = sqd.shape[1]
    return np.array([k < K and bool((sqd[:, k - 1] == sqd[:, k]).any()) for k in ks], dtype=bool)


def _tied_beyond(
    points: np.ndarray, sqd: np.ndarray, births: np.ndarray, C: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arcs of ``ties="keep"`` beyond the table: rows whose run of distances tied with a swept
    k-th distance reaches the table's end are scanned against all N points
    (:func:`~layerflow.ricci.knn_kernels.scan_within`). Returns ``(x_ptr, x_idx, x_birth)``."""
    n, K = sqd.shape
    x_birth = births[:, K - 1].copy()
    rows = np.flatnonzero(x_birth < C) if K < n - 1 else np.zeros(0, dtype=np.int64)
    x_ptr = np.zeros(n + 1, dtype=np.int64)
    if rows.size == 0:
        return x_ptr, np.zeros(0, dtype=np.int64), x_birth
    from layerflow.ricci import knn_kernels

    s_ptr, s_idx, _ = knn_kernels.scan_within(
        points, rows.astype(np.int64), np.ascontiguousarray(sqd[rows, K - 1])
    )
    sizes = np.diff(s_ptr) - K  # the scan lists the table's K first, then the rest
    x_ptr[rows + 1] = sizes
    np.cumsum(x_ptr, out=x_ptr)
    keep = np.ones(s_idx.shape[0], dtype=bool)
    for r in range(rows.size):
        keep[s_ptr[r] : s_ptr[r] + K] = False
    return x_ptr, s_idx[keep], x_birth


def nested_graphs(
    points: np.ndarray,
    idx: np.ndarray,
    sqd: np.ndarray,
    ks: tuple[int, ...],
    ties: str,
    order: np.ndarray,
) -> NestedGraphs:
    """The :class:`NestedGraphs` of one state from its sorted exact neighbour table ``idx``,
    ``sqd`` (N, K) of the checked ``points``: ``ks`` increasing with ``ks[-1] ≤ K`` (``< K``
    for ``ties="keep"`` unless K = N − 1); ``order`` the numbering (:func:`locality_order`)."""
    from layerflow.ricci import nested_kernels

    C = len(ks)
    births = nested_kernels.arc_births(sqd, np.array(ks, dtype=np.int64), ties == "keep")
    if ties == "keep":
        extras = _tied_beyond(points, sqd, births, C)
    else:
        n = idx.shape[0]
        extras = (np.zeros(n + 1, dtype=np.int64), np.zeros(0, dtype=np.int64),
                  np.zeros(n, dtype=np.int16))
    return nested_from_births(idx, births, ks, ties, extras, order)


def nested_from_births(
    idx: np.ndarray,
    births: np.ndarray,
    ks: tuple[int, ...],
    ties: str,
    extras: tuple[np.ndarray, np.ndarray, np.ndarray],
    order: np.ndarray,
) -> NestedGraphs:
    """The :class:`NestedGraphs` of the arcs ``i → idx[i, p]`` born at ``births[i, p]``
    (``len(ks)`` = never; distinct in a row) and ``extras = (x_ptr, x_idx, x_birth)`` (arcs
    beyond the table, all born at ``x_birth[i]``), numbered by ``order``."""
    from layerflow.ricci import nested_kernels

    starts, ends, indices, f_union, f_directed = nested_kernels.nested_union(
        idx, births, len(ks), *extras, order
    )
    return NestedGraphs(ks, ties, starts, ends, indices, f_union, f_directed)
