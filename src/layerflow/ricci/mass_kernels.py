"""The exact geodesic mass of a connected graph, ``Σ_{i<j} d(i, j)`` (internal; Numba kernels).

Bit-parallel breadth-first search from every node at once, one bit per source (64·W sources per
batch), pulled level by level: at level t a node's new bits are the OR of its neighbours'
frontier bits minus those it has seen, and ``t · popcount(new)`` adds to the sum of distances
over ordered pairs (half of it is the mass). Three things keep the work near what the frontier
needs (measured on kNN graphs of N = 2,000 points, ``benchmarks/bench_paper_ricci.py``):

* **word lists.** Every node keeps a mask of the words in which its frontier is nonzero and of
  the words it has not yet filled. A node pulls only the words that it misses *and* in which some
  neighbour has frontier bits; when those are few (at most :data:`DENSE_WORDS`), it gathers just
  them, otherwise it ORs all W words of every neighbour with a frontier (contiguous, vectorised:
  faster than any selection once several words are needed). Long, thin graphs (a
  trained network's last layers: 100+ levels) then cost a few words per neighbour per level
  instead of all W;
* **locality.** Callers number the nodes in breadth-first order (:func:`~layerflow.ricci.
  graph_kernels.bfs_order`), so the sources a node meets at one level sit in few words;
* **level 1** is read off the adjacency directly.

A node's frontier words outside its word list are not rewritten, so they may hold bits of an
earlier level. That is harmless: a bit s found at u at level t' ≤ t − 2 has ``d(s, v) ≤ t − 1`` for
every neighbour v of u, so v has already seen it and the ``& ~visited`` drops it.

Graphs are given as row spans ``indices[starts[v]:ends[v]]`` (symmetric: v ∈ row u iff u ∈ row v;
rows in any order, gaps between rows allowed), so that a nested family of graphs shares one
``indices`` array (:mod:`layerflow.ricci.nested`). The kernel over batches is compiled twice,
with and without ``parallel`` (batches spread over the Numba threads), as in
:mod:`layerflow.ricci.bfs`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from layerflow.ricci import threads
from layerflow.ricci.bfs import compiled_variant
from layerflow.ricci.bits import popcount, trailing_zeros

__all__ = ["BATCH_WORDS", "DENSE_WORDS", "ONE_BATCH_MAX_N", "mass_total"]

# a node pulls its words one by one when at most this many are needed, else the whole span
DENSE_WORDS = 6
# graphs up to this many nodes run as one batch of all sources (word masks hold 64 words)
ONE_BATCH_MAX_N = 4096
# words per batch above that (2,048 sources; memory 3·N·W words per batch)
BATCH_WORDS = 32

_ONE = np.uint64(1)


@njit(cache=True, nogil=True)
def _mass_batch(
    starts: np.ndarray, ends: np.ndarray, indices: np.ndarray, a0: int, S: int, dense: int
) -> int:
    """Sum of ``d(s, v)`` over the sources s = a0 … a0+S−1 (S ≤ 4,096) and all nodes v of a
    connected graph (the rows ``indices[starts[v]:ends[v]]``)."""
    n = starts.shape[0]
    W = (S + 63) // 64
    vis = np.zeros((n, W), dtype=np.uint64)
    fr = np.zeros((n, W), dtype=np.uint64)
    nx = np.zeros((n, W), dtype=np.uint64)
    fm = np.zeros(n, dtype=np.uint64)  # words of fr[v] written last level with new bits
    nm = np.zeros(n, dtype=np.uint64)
    miss = np.zeros(n, dtype=np.uint64)  # words of v not yet full
    full = np.zeros(W, dtype=np.uint64)
    for b in range(S):
        full[b >> 6] |= _ONE << np.uint64(b & 63)
    total = 0
    # level 1: the new bits of v are its neighbours among the sources
    for v in range(n):
        if a0 <= v < a0 + S:
            b = v - a0
            vis[v, b >> 6] |= _ONE << np.uint64(b & 63)
        for p in range(starts[v], ends[v]):
            b = indices[p] - a0
            if 0 <= b < S:
                fr[v, b >> 6] |= _ONE << np.uint64(b & 63)
        m = np.uint64(0)
        ms = np.uint64(0)
        for w in range(W):
            f = fr[v, w]
            vis[v, w] |= f
            total += int(popcount(f))
            if f != 0:
                m |= _ONE << np.uint64(w)
            if vis[v, w] != full[w]:
                ms |= _ONE << np.uint64(w)
        fm[v] = m
        miss[v] = ms
    acc = np.zeros(W, dtype=np.uint64)
    wl = np.empty(W, dtype=np.int64)
    level = 1
    while True:
        level += 1
        any_new = False
        for v in range(n):
            ms = miss[v]
            nm[v] = 0
            if ms == 0:
                continue
            m = np.uint64(0)
            for p in range(starts[v], ends[v]):
                m |= fm[indices[p]]
            m &= ms
            if m == 0:
                continue
            cnt = int(popcount(m))
            if cnt <= dense:
                # gather the listed words only
                x = m
                for j in range(cnt):
                    wl[j] = int(trailing_zeros(x))
                    x &= x - _ONE
                    acc[j] = 0
                for p in range(starts[v], ends[v]):
                    u = indices[p]
                    for j in range(cnt):
                        acc[j] |= fr[u, wl[j]]
            else:
                # every word (contiguous, vectorised) of the neighbours with a frontier
                for w in range(W):
                    acc[w] = 0
                for p in range(starts[v], ends[v]):
                    u = indices[p]
                    if fm[u] != 0:
                        for w in range(W):
                            acc[w] |= fr[u, w]
                cnt = 0
                x = m
                while x != 0:
                    w = int(trailing_zeros(x))
                    x &= x - _ONE
                    wl[cnt] = w
                    acc[cnt] = acc[w]  # cnt <= w: compact in place, in increasing order
                    cnt += 1
            nmv = np.uint64(0)
            s = 0
            for j in range(cnt):
                w = wl[j]
                new = acc[j] & ~vis[v, w]
                nx[v, w] = new
                if new != 0:
                    nmv |= _ONE << np.uint64(w)
                    vw = vis[v, w] | new
                    vis[v, w] = vw
                    s += int(popcount(new))
                    if vw == full[w]:
                        ms &= ~(_ONE << np.uint64(w))
            total += level * s
            miss[v] = ms
            nm[v] = nmv
            if nmv != 0:
                any_new = True
        if not any_new:
            break
        fr, nx = nx, fr
        fm, nm = nm, fm
    return total


def _mass_batches(
    starts: np.ndarray, ends: np.ndarray, indices: np.ndarray, B: int, dense: int
) -> int:
    """:func:`_mass_batch` over batches of B sources covering every node (in parallel in
    ``_mass_parallel``, one after another in ``_mass_serial``)."""
    n = starts.shape[0]
    nb = (n + B - 1) // B
    totals = np.zeros(nb, dtype=np.int64)
    for bi in prange(nb):
        a = bi * B
        totals[bi] = _mass_batch(starts, ends, indices, a, min(B, n - a), dense)
    return int(totals.sum())


_mass_parallel = compiled_variant(_mass_batches, parallel=True)
_mass_serial = compiled_variant(_mass_batches, parallel=False)


def mass_total(starts: np.ndarray, ends: np.ndarray, indices: np.ndarray) -> int:
    """``Σ_{i≠j} d(i, j)`` (ordered pairs; twice the geodesic mass) of a **connected** graph
    given as row spans ``indices[starts[v]:ends[v]]`` (int arrays, symmetric). One batch of
    all sources up to :data:`ONE_BATCH_MAX_N` nodes, else batches of 64·:data:`BATCH_WORDS`
    sources, in parallel for large graphs outside a layer job
    (:func:`~layerflow.ricci.threads.kernel_threads`)."""
    n = int(starts.shape[0])
    if n == 0:
        return 0
    B = n if n <= ONE_BATCH_MAX_N else 64 * BATCH_WORDS
    fn = _mass_parallel if threads.kernel_threads(n) > 1 else _mass_serial
    return int(fn(starts, ends, indices, B, DENSE_WORDS))
