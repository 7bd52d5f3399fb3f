"""Numba kernels of the nested kNN graphs of one state (internal; used by
:mod:`layerflow.ricci.nested`).

Every arc i → j of the kNN relation at the largest swept k gets a **birth**: the index c of the
smallest swept ``k_c`` whose graph holds it (``C`` = never). The union graph at ``k_c`` is then
the set of pairs {i, j} whose earlier arc has birth ≤ c, and the union graphs of all ks are
stored once, each row ordered by birth: the graph at ``k_c`` is the row prefixes
``indices[starts[v]:ends[c, v]]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

__all__ = ["arc_births", "nested_union"]


@njit(cache=True, nogil=True)
def arc_births(sqd: np.ndarray, kcols: np.ndarray, keep: bool) -> np.ndarray:
    """Birth of every entry of a sorted neighbour table, shape (N, K) int16.

    ``sqd`` (N, K): exact squared distances, each row nondecreasing; ``kcols`` (C,): the swept
    ks, increasing, ``k_C−1 ≤ K``. ``keep=False`` (``ties="by_index"``): entry p is in the graph
    at k iff p < k, so its birth is ``min{c : k_c > p}``. ``keep=True`` (``ties="keep"``): entry
    p is in the graph at k iff ``sqd[p] ≤ sqd[k−1]``, i.e. iff the run of distances equal to
    ``sqd[p]`` starts before k, so its birth is that of the run's first entry."""
    n, K = sqd.shape
    C = kcols.shape[0]
    bcol = np.empty(K, dtype=np.int16)
    c = 0
    for p in range(K):
        while c < C and kcols[c] <= p:
            c += 1
        bcol[p] = c
    births = np.empty((n, K), dtype=np.int16)
    for i in range(n):
        start = 0
        for p in range(K):
            if keep and p > 0 and sqd[i, p] != sqd[i, p - 1]:
                start = p
            births[i, p] = bcol[start] if keep else bcol[p]
    return births


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
    """The union graphs of every swept k, numbered by ``order``, and their Forman sums.

    Arcs: ``i → idx[i, p]`` with birth ``births[i, p] < C``, and ``i → x_idx[q]`` for
    ``x_ptr[i] ≤ q < x_ptr[i+1]`` with birth ``x_birth[i]`` (points tied beyond the table).
    Row ``r`` of the result is the node ``order[r]``; an edge {i, j} is born at the smaller
    birth of its two arcs. Returns ``(starts (N,), ends (C, N), indices (int32), forman_union
    (C,), forman_directed (C,))``: row r of the union graph at ``k_c`` is
    ``indices[starts[r]:ends[c, r]]`` (new numbers), ``forman_union[c] = Σ_edges (4 − deg_i −
    deg_j) = 2·nnz − Σ deg²`` and ``forman_directed[c] = Σ_arcs (4 − D_i − D_j) = 4·arcs − Σ D²``
    with ``D = in + out`` (integers, exact)."""
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
    forman_union = 2 * nnz - usq
    forman_directed = 4 * arcs - dsq
    return base[:n].copy(), ends, indices, forman_union, forman_directed
