"""The kNN graphs of one state for every swept k at once (the k family).

The graph at k is a subgraph of the graph at any larger k (under either tie rule), so the union
graphs of all swept ks are stored once: each arc of the largest graph carries the index of the
first swept k that holds it (its birth, :mod:`layerflow.ricci._knn.buckets`), every row is
ordered by that index, and the graph at ``k_c`` is the row prefixes
``indices[starts[v]:ends[c, v]]`` (:func:`nested_union`). From that one structure come, per k,
without building a graph:

* the degree sums from which Forman's scalar curvature comes in closed form
  (:meth:`~layerflow.ricci._curvature.Forman.scalar_from_degrees`): stored entries and ``Σ deg²``
  of the union graph, arcs and ``Σ D²`` (``D = in + out``) of the directed one;
* the connected components, counted only up to the first connected k (a supergraph of a
  connected graph is connected);
* the exact geodesic mass (:mod:`layerflow.ricci._shortest_paths.mass`).

Nodes are renumbered in breadth-first order of the graph at ``min(k_0, 10)`` (none of these
quantities depends on the numbering; the BFS runs faster on it). The two tie rules give the same
graph at k unless some point has a tie across its k-th distance; :func:`boundary_ties` says
where, so that a quantity is computed once for both protocols wherever their graphs agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from layerflow.ricci._knn.buckets import arc_births
from layerflow.ricci._knn.kernels import scan_within
from layerflow.ricci._shortest_paths import bfs_order, span_components, union_csr
from layerflow.ricci._shortest_paths.mass import mass_total

# the breadth-first numbering is taken on the graph at min(k_0, ORDER_K)
ORDER_K = 10


@dataclass(frozen=True)
class NestedGraphs:
    """The union graphs of one state at the swept ``ks`` under one tie rule (see the module
    docstring). ``union_degrees = (nnz, usq)``: stored entries and ``Σ deg²`` of the union
    graph at every ``ks[c]``; ``directed_degrees = (arcs, dsq)``: arcs and ``Σ D²`` (``D = in +
    out``) of the directed one (int64, shape (C,))."""

    ks: tuple[int, ...]
    ties: str
    starts: np.ndarray
    ends: np.ndarray
    indices: np.ndarray
    union_degrees: tuple[np.ndarray, np.ndarray]
    directed_degrees: tuple[np.ndarray, np.ndarray]

    @property
    def n(self) -> int:
        return int(self.starts.shape[0])

    def components(self, c: int) -> int:
        """Connected components of the graph at ``ks[c]``."""
        return int(span_components(self.starts, self.ends[c], self.indices))

    def path_masses(
        self, reuse: Sequence[tuple[float, int]] | None = None, same: np.ndarray | None = None
    ) -> list[tuple[float, int]]:
        """The exact geodesic mass at every swept k and the number of connected components:
        ``(Σ_{i<j} d(i, j), 1)``, or ``(inf, components)`` where disconnected, as
        :func:`~layerflow.ricci._path_mass.path_mass`. With ``reuse``, ``reuse[c]`` is taken
        wherever ``same[c]`` says that graph is this one's at ``ks[c]`` (the other tie rule's,
        :func:`boundary_ties`)."""
        out: list[tuple[float, int]] = []
        connected = False  # at the previous k, hence at this one (a supergraph)
        for c in range(len(self.ks)):
            if reuse is not None and same is not None and same[c]:
                g = reuse[c]
            elif not connected and (ncomp := self.components(c)) > 1:
                g = (np.inf, ncomp)
            else:
                g = (mass_total(self.starts, self.ends[c], self.indices) / 2.0, 1)
            connected = g[1] == 1
            out.append(g)
        return out


def locality_order(idx: np.ndarray, k: int) -> np.ndarray:
    """Breadth-first numbering (:func:`~layerflow.ricci._shortest_paths.bfs_order`) of the union
    graph of the first k columns of a neighbour table."""
    n = idx.shape[0]
    ptr = np.arange(0, n * k + 1, k, dtype=np.int64)
    indptr, indices = union_csr(ptr, np.ascontiguousarray(idx[:, :k]).reshape(-1))
    order: np.ndarray = bfs_order(indptr[:-1], indptr[1:], indices)
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
    (:func:`~layerflow.ricci._knn.kernels.scan_within`). Returns ``(x_ptr, x_idx, x_birth)``."""
    n, K = sqd.shape
    x_birth = births[:, K - 1].copy()
    rows = np.flatnonzero(x_birth < C) if K < n - 1 else np.zeros(0, dtype=np.int64)
    x_ptr = np.zeros(n + 1, dtype=np.int64)
    if rows.size == 0:
        return x_ptr, np.zeros(0, dtype=np.int64), x_birth
    s_ptr, s_idx, _ = scan_within(
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
    C = len(ks)
    births = arc_births(sqd, np.array(ks, dtype=np.int64), ties == "keep")
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
    starts, ends, indices, nnz, usq, arcs, dsq = nested_union(
        idx, births, len(ks), *extras, order
    )
    return NestedGraphs(ks, ties, starts, ends, indices, (nnz, usq), (arcs, dsq))


@njit(cache=True, nogil=True)
def nested_union(
    idx: np.ndarray,
    births: np.ndarray,
    C: int,
    x_ptr: np.ndarray,
    x_idx: np.ndarray,
    x_birth: np.ndarray,
    order: np.ndarray,
) -> tuple[Any, ...]:
    """The union graphs of every swept k, numbered by ``order``, and their degree sums.

    Arcs: ``i → idx[i, p]`` with birth ``births[i, p] < C``, and ``i → x_idx[q]`` for
    ``x_ptr[i] ≤ q < x_ptr[i+1]`` with birth ``x_birth[i]`` (points tied beyond the table).
    Row ``r`` of the result is the node ``order[r]``; an edge {i, j} is born at the smaller
    birth of its two arcs. Returns ``(starts (N,), ends (C, N), indices (int32), nnz, usq, arcs,
    dsq)``: row r of the union graph at ``k_c`` is ``indices[starts[r]:ends[c, r]]`` (new
    numbers); ``nnz[c]`` its stored entries and ``usq[c] = Σ deg²``; ``arcs[c]`` the arcs of the
    directed graph at ``k_c`` and ``dsq[c] = Σ D²`` with ``D = in + out`` (int64, shape (C,))."""
    n, K = idx.shape
    inv = np.empty(n, dtype=np.int64)
    for r in range(n):
        inv[order[r]] = r
    # the transposed arcs (in-lists), by counting
    outdeg = np.zeros(n, dtype=np.int64)
    inptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        for p in range(K):
            if births[i, p] < C:
                inptr[idx[i, p] + 1] += 1
                outdeg[i] += 1
        for q in range(x_ptr[i], x_ptr[i + 1]):
            inptr[x_idx[q] + 1] += 1
            outdeg[i] += 1
    for i in range(n):
        inptr[i + 1] += inptr[i]
    in_arc = np.empty(inptr[n], dtype=np.int64)  # source << 16 | birth
    fill = inptr[:-1].copy()
    for i in range(n):
        for p in range(K):
            b = births[i, p]
            if b < C:
                j = idx[i, p]
                in_arc[fill[j]] = (i << 16) | b
                fill[j] += 1
        xb = x_birth[i]
        for q in range(x_ptr[i], x_ptr[i + 1]):
            j = x_idx[q]
            in_arc[fill[j]] = (i << 16) | xb
            fill[j] += 1
    # rows in the new numbering; each row's room is out + in (a mutual pair uses one slot)
    base = np.zeros(n + 1, dtype=np.int64)
    cap = 0
    for r in range(n):
        i = order[r]
        room = outdeg[i] + inptr[i + 1] - inptr[i]
        base[r + 1] = base[r] + room
        cap = max(cap, room)
    indices = np.empty(base[n], dtype=np.int32)
    ends = np.empty((C, n), dtype=np.int64)
    mark = np.full(n, -1, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    tj = np.empty(cap, dtype=np.int64)
    tb = np.empty(cap, dtype=np.int16)
    # counters in 4 lanes (entry e counts in lane e & 3): consecutive entries of one birth then
    # update different counters, not one in a chain of loads and stores
    dc = np.empty((4, C), dtype=np.int64)  # arcs at i (out + in) by birth
    oc = np.empty((4, C), dtype=np.int64)  # arcs out of i by birth
    cn = np.empty((4, C), dtype=np.int64)  # union entries of the row by birth, then slots
    nnz = np.zeros(C, dtype=np.int64)
    usq = np.zeros(C, dtype=np.int64)
    dsq = np.zeros(C, dtype=np.int64)
    arcs = np.zeros(C, dtype=np.int64)
    for r in range(n):
        i = order[r]
        cnt = 0
        dc[:] = 0
        oc[:] = 0
        mark[i] = i  # no self-loops
        for p in range(K):  # a row's arcs are distinct
            b = births[i, p]
            if b < C:
                oc[p & 3, b] += 1
                j = idx[i, p]
                mark[j] = i
                pos[j] = cnt
                tj[cnt] = j
                tb[cnt] = b
                cnt += 1
        b = x_birth[i]
        for q in range(x_ptr[i], x_ptr[i + 1]):  # beyond the table: new to the row
            oc[q & 3, b] += 1
            j = x_idx[q]
            mark[j] = i
            pos[j] = cnt
            tj[cnt] = j
            tb[cnt] = b
            cnt += 1
        for q in range(inptr[i], inptr[i + 1]):
            # branch-free: a mutual pair lowers its out-arc's birth, a new one takes a slot
            j = in_arc[q] >> 16
            b = in_arc[q] & 0xFFFF
            dc[q & 3, b] += 1
            mutual = mark[j] == i
            slot = pos[j] if mutual else cnt
            tj[slot] = j
            tb[slot] = min(tb[slot], b) if mutual else b
            cnt += not mutual
        # counting sort of the row by birth (slots per birth and lane); degrees at every k
        cn[:] = 0
        for e in range(cnt):
            cn[e & 3, tb[e]] += 1
        deg = 0
        D = 0
        slot = base[r]
        for c in range(C):
            for lane in range(4):
                t = cn[lane, c]
                cn[lane, c] = slot
                slot += t
                deg += t
                o = oc[lane, c]
                arcs[c] += o
                D += o + dc[lane, c]
            ends[c, r] = slot
            nnz[c] += deg
            usq[c] += deg * deg
            dsq[c] += D * D
        for e in range(cnt):
            lane = e & 3
            b = tb[e]
            indices[cn[lane, b]] = inv[tj[e]]
            cn[lane, b] += 1
    for c in range(1, C):
        arcs[c] += arcs[c - 1]
    return base[:n].copy(), ends, indices, nnz, usq, arcs, dsq
