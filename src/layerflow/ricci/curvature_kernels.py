"""Numba kernels of edge curvature (internal; used by :mod:`layerflow.ricci.curvature` and
:mod:`layerflow.ricci.ollivier`): triangles per edge, and the reduced transport problems of
Ollivier–Ricci curvature. Graphs are symmetric CSR ``(indptr, indices)`` int64 arrays with sorted
rows. Compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

__all__ = ["edge_triangles", "ollivier_problems"]


@njit(cache=True, nogil=True)
def edge_triangles(indptr: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Common neighbours ``|N(i) ∩ N(j)|`` for every stored entry (i, j) of a symmetric CSR
    graph with sorted rows, by merging the two sorted neighbour lists."""
    n = indptr.shape[0] - 1
    out = np.zeros(indices.shape[0], dtype=np.int64)
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            if j < i:
                continue
            a, ae = indptr[i], indptr[i + 1]
            b, be = indptr[j], indptr[j + 1]
            c = 0
            while a < ae and b < be:
                x = indices[a]
                y = indices[b]
                if x == y:
                    c += 1
                    a += 1
                    b += 1
                elif x < y:
                    a += 1
                else:
                    b += 1
            out[p] = c
    # mirror to the (j, i) entries
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            if j < i:
                # find i in row j
                lo, hi = indptr[j], indptr[j + 1]
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if indices[mid] < i:
                        lo = mid + 1
                    else:
                        hi = mid
                out[p] = out[lo]
    return out


@njit(cache=True, nogil=True, inline="always")
def _edge_measure_difference(
    indptr: np.ndarray,
    indices: np.ndarray,
    i: int,
    j: int,
    alpha: float,
    mass: np.ndarray,
    touched: np.ndarray,
) -> int:
    """Accumulate ``m_i − m_j`` into the zeroed ``mass`` and list its support in ``touched``.

    Returns how many nodes were touched; the caller reads and re-zeroes ``mass`` at them.
    """
    nt = 0
    di = indptr[i + 1] - indptr[i]
    dj = indptr[j + 1] - indptr[j]
    mass[i] += alpha
    touched[nt] = i
    nt += 1
    for p in range(indptr[i], indptr[i + 1]):
        u = indices[p]
        if mass[u] == 0.0:
            touched[nt] = u
            nt += 1
        mass[u] += (1.0 - alpha) / di
    if mass[j] == 0.0:
        touched[nt] = j
        nt += 1
    mass[j] -= alpha
    for p in range(indptr[j], indptr[j + 1]):
        v = indices[p]
        if mass[v] == 0.0:
            touched[nt] = v
            nt += 1
        mass[v] -= (1.0 - alpha) / dj
    return nt


@njit(cache=True, nogil=True, inline="always")
def _split_parts(mass: np.ndarray, touched: np.ndarray, nt: int, pos_nodes: np.ndarray,
                 pos_w: np.ndarray, neg_nodes: np.ndarray, neg_w: np.ndarray) -> tuple[int, int]:
    """The positive and negative parts of the signed measure ``mass`` on the nodes
    ``touched[:nt]``: nodes and weights (``|mass|``) in order; ``mass`` is zeroed there. Returns
    the two sizes."""
    cp = 0
    cn = 0
    for t in range(nt):
        x = touched[t]
        if mass[x] > 0.0:
            pos_nodes[cp] = x
            pos_w[cp] = mass[x]
            cp += 1
        elif mass[x] < 0.0:
            neg_nodes[cn] = x
            neg_w[cn] = -mass[x]
            cn += 1
        mass[x] = 0.0
    return cp, cn


@njit(cache=True, nogil=True)
def ollivier_problems(
    indptr: np.ndarray,
    indices: np.ndarray,
    ei: np.ndarray,
    ej: np.ndarray,
    alpha: float,
) -> tuple[Any, ...]:
    """Transport problems of Ollivier–Ricci curvature for the edges ``(ei[e], ej[e])``.

    ``m_i = α δ_i + (1 − α)/deg(i) Σ_{u ~ i} δ_u``. Since the ground cost (hop distance) is a
    metric, ``W1(m_i, m_j)`` equals the optimal transport cost between the positive and negative
    parts of ``m_i − m_j`` (Kantorovich–Rubinstein), which have disjoint, smaller supports. Every
    cost is 1 (adjacent), 2 (a common neighbour) or 3 (the path u–i–j–v).

    Returns ragged arrays: ``pos_ptr, pos_w`` and ``neg_ptr, neg_w`` (the two parts per edge),
    and ``cost_ptr, cost`` (row-major ``(n_pos, n_neg)`` int8 blocks), and ``n_words``.
    """
    n = indptr.shape[0] - 1
    E = ei.shape[0]
    maxdeg = 0
    for v in range(n):
        d = indptr[v + 1] - indptr[v]
        if d > maxdeg:
            maxdeg = d
    W = (maxdeg + 1 + 63) // 64
    mass = np.zeros(n, dtype=np.float64)
    touched = np.empty(2 * maxdeg + 2, dtype=np.int64)
    # first pass: sizes
    pos_n = np.zeros(E, dtype=np.int64)
    neg_n = np.zeros(E, dtype=np.int64)
    pos_nodes = np.empty(2 * maxdeg + 2, dtype=np.int64)
    neg_nodes = np.empty(2 * maxdeg + 2, dtype=np.int64)
    scratch = np.empty(2 * maxdeg + 2, dtype=np.float64)
    for e in range(E):
        nt = _edge_measure_difference(indptr, indices, ei[e], ej[e], alpha, mass, touched)
        pos_n[e], neg_n[e] = _split_parts(mass, touched, nt, pos_nodes, scratch, neg_nodes,
                                          scratch)
    pos_ptr = np.zeros(E + 1, dtype=np.int64)
    neg_ptr = np.zeros(E + 1, dtype=np.int64)
    cost_ptr = np.zeros(E + 1, dtype=np.int64)
    for e in range(E):
        pos_ptr[e + 1] = pos_ptr[e] + pos_n[e]
        neg_ptr[e + 1] = neg_ptr[e] + neg_n[e]
        cost_ptr[e + 1] = cost_ptr[e] + pos_n[e] * neg_n[e]
    pos_w = np.empty(pos_ptr[E], dtype=np.float64)
    neg_w = np.empty(neg_ptr[E], dtype=np.float64)
    cost = np.empty(cost_ptr[E], dtype=np.int8)
    bits = np.zeros((n, W), dtype=np.uint64)  # bits[w]: neg-local v with w ~ v
    isneg = np.full(n, -1, dtype=np.int64)  # neg-local index of a node, -1 if none
    row1 = np.zeros(W, dtype=np.uint64)
    row2 = np.zeros(W, dtype=np.uint64)
    for e in range(E):
        nt = _edge_measure_difference(indptr, indices, ei[e], ej[e], alpha, mass, touched)
        cp, cn = _split_parts(mass, touched, nt, pos_nodes, pos_w[pos_ptr[e]:], neg_nodes,
                              neg_w[neg_ptr[e]:])
        for b in range(cn):
            v = neg_nodes[b]
            isneg[v] = b
            bit = np.uint64(1) << np.uint64(b & 63)
            for p in range(indptr[v], indptr[v + 1]):
                bits[indices[p], b >> 6] |= bit
        base = cost_ptr[e]
        for a in range(cp):
            u = pos_nodes[a]
            for w in range(W):
                row1[w] = 0
                row2[w] = 0
            for p in range(indptr[u], indptr[u + 1]):
                x = indices[p]
                b = isneg[x]
                if b >= 0:
                    row1[b >> 6] |= np.uint64(1) << np.uint64(b & 63)
                for w in range(W):
                    row2[w] |= bits[x, w]
            for b in range(cn):
                bit = np.uint64(1) << np.uint64(b & 63)
                if (row1[b >> 6] & bit) != 0:
                    c = 1
                elif (row2[b >> 6] & bit) != 0:
                    c = 2
                else:
                    c = 3
                cost[base + a * cn + b] = c
        for b in range(cn):
            v = neg_nodes[b]
            isneg[v] = -1
            for p in range(indptr[v], indptr[v + 1]):
                for w in range(W):
                    bits[indices[p], w] = 0
    return pos_ptr, pos_w, neg_ptr, neg_w, cost_ptr, cost, np.int64(W)
