"""Bit-parallel breadth-first search (used by :mod:`layerflow.ricci._path_mass` and the local
coefficients).

One bit per source, 64·W sources per pass: at level t a node's new bits are the OR of its
neighbours' frontier bits minus the bits it has already seen, so ``t · popcount(new bits)`` adds to
the distance sum. No N×N matrix is ever formed; memory is O(N·W) per batch. The kernel over
batches is written once (:func:`_bfs_sources`) and compiled twice: with ``parallel=True`` (batches
spread over the Numba threads) and without (``prange`` is then ``range``), each under its own
name, since Numba's on-disk cache key does not include the ``parallel`` flag.
"""

from __future__ import annotations

import types as pytypes
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange

from layerflow.ricci import _threads
from layerflow.ricci._shortest_paths import popcount


@njit(cache=True, nogil=True)
def _bfs_batch(
    indptr: np.ndarray,
    indices: np.ndarray,
    srcs: np.ndarray,
    W: int,
    tgt_ptr: np.ndarray,
    tgt: np.ndarray,
    tgt_dist: np.ndarray,
    full: bool,
    per_source: bool,
    dist_sum: np.ndarray,
    reached: np.ndarray,
    total: np.ndarray,
) -> None:
    """Breadth-first search from up to ``64·W`` sources at once (one bit per source).

    Pull formulation: at level t a node's new bits are the OR of its neighbours' frontier bits
    minus the bits it has already seen, so ``t · popcount(new bits)`` adds to the distance sum.
    Nodes that every source has reached are skipped from then on. With ``per_source`` the new
    bits are attributed to their sources (``dist_sum[b]``, ``reached[b]``). With ``full=False``
    the search stops as soon as every requested target (``tgt[tgt_ptr[b]:tgt_ptr[b+1]]`` for
    source b) has its distance in ``tgt_dist`` (−1 = unreachable).
    """
    n = indptr.shape[0] - 1
    S = srcs.shape[0]
    visited = np.zeros((n, W), dtype=np.uint64)
    frontier = np.zeros((n, W), dtype=np.uint64)
    nxt = np.zeros((n, W), dtype=np.uint64)
    fullmask = np.zeros(W, dtype=np.uint64)
    for b in range(S):
        w = b >> 6
        bit = np.uint64(1) << np.uint64(b & 63)
        fullmask[w] |= bit
        visited[srcs[b], w] |= bit
        frontier[srcs[b], w] |= bit
    done_age = np.zeros(n, dtype=np.int8)
    # live[v]: v has frontier bits this level (lets the pull loop skip empty rows cheaply)
    live = np.zeros(n, dtype=np.bool_)
    live_next = np.zeros(n, dtype=np.bool_)
    for b in range(S):
        live[srcs[b]] = True
    acc = np.zeros(W, dtype=np.uint64)
    t0 = tgt_ptr[0]
    n_tgt_left = tgt_ptr[S] - t0
    for b in range(S):
        if per_source:
            reached[b] += 1
        for p in range(tgt_ptr[b], tgt_ptr[b + 1]):
            if tgt[p] == srcs[b]:
                tgt_dist[p] = 0
                n_tgt_left -= 1
    level = 0
    tot = 0
    while True:
        if not full and n_tgt_left == 0:
            break
        level += 1
        any_new = False
        for v in range(n):
            live_next[v] = False
            if done_age[v] > 0:
                # a finished node's rows in both buffers must read as "no new bits"
                if done_age[v] < 3:
                    for w in range(W):
                        nxt[v, w] = 0
                    done_age[v] += 1
                continue
            for w in range(W):
                acc[w] = 0
            any_in = False
            for p in range(indptr[v], indptr[v + 1]):
                u = indices[p]
                if live[u]:
                    any_in = True
                    for w in range(W):
                        acc[w] |= frontier[u, w]
            if not any_in:
                for w in range(W):
                    nxt[v, w] = 0
                continue
            all_full = True
            for w in range(W):
                new = acc[w] & ~visited[v, w]
                nxt[v, w] = new
                if new != 0:
                    any_new = True
                    live_next[v] = True
                    visited[v, w] |= new
                    tot += level * int(popcount(new))
                    if per_source:
                        x = new
                        while x != 0:
                            low = x & (~x + np.uint64(1))
                            b = w * 64 + int(popcount(low - np.uint64(1)))
                            dist_sum[b] += level
                            reached[b] += 1
                            x ^= low
                if visited[v, w] != fullmask[w]:
                    all_full = False
            if all_full:
                done_age[v] = 1
        if not any_new:
            break
        if n_tgt_left > 0:
            for b in range(S):
                w = b >> 6
                bit = np.uint64(1) << np.uint64(b & 63)
                for p in range(tgt_ptr[b], tgt_ptr[b + 1]):
                    if tgt_dist[p] < 0 and (nxt[tgt[p], w] & bit) != 0:
                        tgt_dist[p] = level
                        n_tgt_left -= 1
        frontier, nxt = nxt, frontier
        live, live_next = live_next, live
    total[0] += tot


def _bfs_sources(
    indptr: np.ndarray,
    indices: np.ndarray,
    sources: np.ndarray,
    W: int,
    tgt_ptr: np.ndarray,
    tgt: np.ndarray,
    full: bool,
    per_source: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Bit-parallel BFS from every source, batches of ``64·W`` sources (in parallel in
    :data:`bfs_sources_parallel`, one after another in :data:`bfs_sources_serial`).

    Returns ``(dist_sum (S,), reached (S,), tgt_dist (T,), total)``: per-source sums of hop
    distances and reached-node counts (only with ``per_source``), the hop distance of each
    requested (source, target) pair (−1 if unreachable or not searched), and the sum of all hop
    distances from all sources (with ``full``).
    """
    S = sources.shape[0]
    B = 64 * W
    nb = (S + B - 1) // B
    dist_sum = np.zeros(S, dtype=np.int64)
    reached = np.zeros(S, dtype=np.int64)
    tgt_dist = np.full(tgt.shape[0], -1, dtype=np.int64)
    totals = np.zeros(nb, dtype=np.int64)
    for bi in prange(nb):
        a = bi * B
        e = min(S, a + B)
        _bfs_batch(
            indptr,
            indices,
            sources[a:e],
            W,
            tgt_ptr[a : e + 1],
            tgt,
            tgt_dist,
            full,
            per_source,
            dist_sum[a:e],
            reached[a:e],
            totals[bi : bi + 1],
        )
    return dist_sum, reached, tgt_dist, int(totals.sum())


def compiled_variant(fn: Callable[..., Any], parallel: bool) -> Any:
    """``fn`` compiled by Numba with ``parallel=parallel``, under a name of its own (``fn``'s name
    plus ``_parallel`` / ``_serial``) so that the two variants' disk caches never collide."""
    suffix = "_parallel" if parallel else "_serial"
    copy = pytypes.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__
    )
    copy.__qualname__ = fn.__qualname__ + suffix
    copy.__doc__ = fn.__doc__
    return njit(cache=True, nogil=True, parallel=parallel)(copy)


bfs_sources_parallel = compiled_variant(_bfs_sources, parallel=True)
bfs_sources_serial = compiled_variant(_bfs_sources, parallel=False)


def _words(n_sources: int, n_threads: int) -> int:
    """Bit-words per BFS batch: one batch per thread where possible (each level's pass over
    the graph then serves the most sources), at most 32 words (2,048 sources) per batch."""
    return int(max(1, min(32, -(-n_sources // (64 * max(1, n_threads))))))


def bfs(
    indptr: np.ndarray,
    indices: np.ndarray,
    sources: np.ndarray,
    tgt_ptr: np.ndarray,
    tgt: np.ndarray,
    full: bool,
    per_source: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Bit-parallel BFS (:func:`_bfs_sources`), in parallel only for large graphs
    (:func:`layerflow.ricci._threads.kernel_threads`)."""
    n = indptr.shape[0] - 1
    n_threads = _threads.kernel_threads(n)
    fn = bfs_sources_parallel if n_threads > 1 else bfs_sources_serial
    out: tuple[np.ndarray, np.ndarray, np.ndarray, int] = fn(
        indptr,
        indices,
        sources,
        _words(sources.shape[0], n_threads),
        tgt_ptr,
        tgt,
        full,
        per_source,
    )
    return out


def bfs_sums(
    indptr: np.ndarray, indices: np.ndarray, sources: np.ndarray, per_source: bool
) -> tuple[np.ndarray, int]:
    """Sum of hop distances from every source (and per source with ``per_source``)."""
    src = np.ascontiguousarray(sources, dtype=np.int64)
    empty_ptr = np.zeros(src.shape[0] + 1, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    dsum, _, _, total = bfs(indptr, indices, src, empty_ptr, empty, True, per_source)
    return dsum, int(total)


def pair_distances(
    indptr: np.ndarray, indices: np.ndarray, sources: np.ndarray, targets: Any
) -> np.ndarray:
    """Hop distances ``d(sources[b], t)`` for the targets of each source, on a symmetric CSR
    graph (int64 arrays), by a BFS that stops once every target is found (−1: unreachable).

    ``targets`` is a list of index arrays (one per source) or a CSR-like pair ``(ptr, idx)``;
    the distances come back flattened in the same order (int64)."""
    if isinstance(targets, tuple):
        ptr, idx = targets
    else:
        sizes = np.array([len(t) for t in targets], dtype=np.int64)
        ptr = np.zeros(sizes.size + 1, dtype=np.int64)
        np.cumsum(sizes, out=ptr[1:])
        idx = (
            np.concatenate([np.asarray(t, dtype=np.int64) for t in targets])
            if len(targets)
            else np.zeros(0, dtype=np.int64)
        )
    src = np.ascontiguousarray(sources, dtype=np.int64)
    _, _, dist, _ = bfs(
        indptr,
        indices,
        src,
        np.ascontiguousarray(ptr, dtype=np.int64),
        np.ascontiguousarray(idx, dtype=np.int64),
        False,
        False,
    )
    return dist
