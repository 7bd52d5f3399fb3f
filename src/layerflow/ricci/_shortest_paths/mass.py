"""The exact geodesic mass of a connected graph, ``Σ_{i<j} d(i, j)`` (Numba kernels).

Bit-parallel breadth-first search from every node at once, one bit per source, pulled level by
level: at level t a node's new bits are the OR of its neighbours' frontier bits minus those it
has seen, and ``t · popcount(new)`` adds to the sum of distances. What keeps the work near what
the frontier needs (``benchmarks/bench_paper_ricci.py``; figures in ``benchmarks/README.md``):

* **word lists.** Every node keeps a mask of the words in which its frontier is fresh and of
  the words it has not yet filled. A node pulls only the words that it misses *and* in which some
  neighbour has fresh bits; when those are few (at most :data:`DENSE_WORDS`) it gathers just
  them, otherwise it ORs every word up to the last one it needs (contiguous, vectorised). Long,
  thin graphs (a trained network's last layers: 100+ levels) then cost a few words per neighbour
  per level instead of all of them;
* **one triangle** (:func:`_mass_lower`, up to :data:`ONE_BATCH_MAX_N` nodes). Distances are
  symmetric, so the frontier bit matrix of a level is too: node v computes only its bits s < v
  (each unordered pair once, half the words on average), and the other half of every row is the
  transpose of that triangle, 64×64 bit blocks at a time, only where a block holds new bits;
* **locality.** Callers number the nodes in breadth-first order (:func:`~layerflow.ricci._shortest_paths.bfs_order`), so the sources a node meets at one level sit in few words, and
  level 1 is read off the adjacency directly.

A frontier word that a level does not rewrite keeps bits of an earlier level. That is harmless:
a bit s fresh at u at level t' ≤ t − 2 has ``d(s, v) ≤ t − 1`` for every neighbour v of u, so v
has already seen it and the ``& ~visited`` drops it.

Graphs are given as row spans ``indices[starts[v]:ends[v]]`` (symmetric: v ∈ row u iff u ∈ row v;
rows in any order, gaps between rows allowed), so that a nested family of graphs shares one
``indices`` array (:mod:`layerflow.ricci._shortest_paths.nested`). Larger graphs run in batches of sources
(:func:`_mass_batch`, the whole rows), compiled twice, with and without ``parallel`` (batches
spread over the Numba threads), as in :mod:`layerflow.ricci._shortest_paths.bfs`.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from layerflow.ricci import _threads
from layerflow.ricci._shortest_paths import leading_zeros, popcount, trailing_zeros
from layerflow.ricci._shortest_paths.bfs import compiled_variant

# a node pulls its words one by one when at most this many are needed, else the whole span
DENSE_WORDS = 6
# graphs up to this many nodes run as one triangle of all sources (word masks hold 64 words)
ONE_BATCH_MAX_N = 4096
# words per batch above that (2,048 sources; memory 3·N·W words per batch)
BATCH_WORDS = 32

_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _compact(acc: np.ndarray, wl: np.ndarray, m: np.uint64, cnt: int) -> None:
    """``wl[j]``: the j-th set bit of m; ``acc[j] = acc[wl[j]]`` (in place: j ≤ wl[j])."""
    x = m
    for j in range(cnt):
        w = int(trailing_zeros(x))
        x &= x - _ONE
        wl[j] = w
        acc[j] = acc[w]


@njit(cache=True, nogil=True, inline="always")
def _fresh_words(fm: np.ndarray, starts: np.ndarray, ends: np.ndarray, indices: np.ndarray,
                 v: int) -> np.uint64:
    """The words in which some neighbour of v has fresh frontier bits (OR of their masks)."""
    m = np.uint64(0)
    for p in range(starts[v], ends[v]):
        m |= fm[indices[p]]
    return m


@njit(cache=True, nogil=True, inline="always")
def _gather(acc: np.ndarray, wl: np.ndarray, fr: np.ndarray, starts: np.ndarray,
            ends: np.ndarray, indices: np.ndarray, v: int, m: np.uint64, cnt: int) -> None:
    """``wl[j]``: the j-th set bit of m; ``acc[j]``: the OR of word ``wl[j]`` of the frontier
    rows of v's neighbours (the listed words only)."""
    x = m
    for j in range(cnt):
        wl[j] = int(trailing_zeros(x))
        x &= x - _ONE
        acc[j] = 0
    for p in range(starts[v], ends[v]):
        u = indices[p]
        for j in range(cnt):
            acc[j] |= fr[u, wl[j]]


@njit(cache=True, nogil=True, inline="always")
def _or_rows(acc: np.ndarray, fr: np.ndarray, fm: np.ndarray, starts: np.ndarray,
             ends: np.ndarray, indices: np.ndarray, v: int, m: np.uint64, top: int) -> None:
    """``acc[w]``, w < top: the OR of word w of the frontier rows of the neighbours of v that
    have fresh words in m (whole rows, contiguous, vectorised)."""
    for w in range(top):
        acc[w] = 0
    for p in range(starts[v], ends[v]):
        u = indices[p]
        if fm[u] & m != 0:
            for w in range(top):
                acc[w] |= fr[u, w]


@njit(cache=True, nogil=True, inline="always")
def _first_level(fr: np.ndarray, vis: np.ndarray, v: int, wv: int,
                 low: np.uint64) -> tuple[int, np.uint64, np.uint64]:
    """Take level 1 (the frontier row ``fr[v]``) into node v: ``vis[v]`` gains its bits up to
    the bits ``low`` of word wv. Returns the count of those bits, the mask of the words of
    ``fr[v]`` with bits and the mask of v's words not yet full."""
    m = np.uint64(0)
    ms = np.uint64(0)
    total = 0
    for w in range(fr.shape[1]):
        f = fr[v, w]
        if f != 0:
            m |= _ONE << np.uint64(w)
        if w <= wv:
            lim = low if w == wv else _ALL
            f &= lim
            vw = vis[v, w] | f
            vis[v, w] = vw
            total += int(popcount(f))
            if vw != lim:
                ms |= _ONE << np.uint64(w)
    return total, m, ms


@njit(cache=True, nogil=True, inline="always")
def _absorb(acc: np.ndarray, wl: np.ndarray, cnt: int, vis: np.ndarray, nx: np.ndarray, v: int,
            wv: int, low: np.uint64, miss: np.ndarray, nm: np.ndarray, ms: np.uint64) -> int:
    """Take the gathered words ``acc[j]`` (word ``wl[j]``) into node v: its new bits (at most
    the bits ``low`` in word wv, every bit below it) go to ``nx[v]`` and ``vis[v]``; ``nm[v]``
    becomes the mask of its words with new bits and ``miss[v]`` the words of ms still not full.
    Returns the count of new bits."""
    nmv = np.uint64(0)
    done = np.uint64(0)
    s = 0
    for j in range(cnt):
        w = wl[j]
        new = acc[j] & ~vis[v, w]
        if w == wv:
            new &= low
        nx[v, w] = new
        if new != 0:
            nmv |= _ONE << np.uint64(w)
            vw = vis[v, w] | new
            vis[v, w] = vw
            s += int(popcount(new))
            if vw == (low if w == wv else _ALL):
                done |= _ONE << np.uint64(w)
    miss[v] = ms & ~done
    nm[v] = nmv
    return s


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
        t, fm[v], miss[v] = _first_level(fr, vis, v, W - 1, full[W - 1])
        total += t
    acc = np.zeros(W, dtype=np.uint64)
    wl = np.empty(W, dtype=np.int64)
    for level in range(2, n + 1):  # a distance is at most n - 1
        any_new = False
        nm[:] = 0
        for v in range(n):
            ms = miss[v]
            if ms == 0:
                continue
            m = _fresh_words(fm, starts, ends, indices, v) & ms
            if m == 0:
                continue
            cnt = int(popcount(m))
            if cnt <= dense:
                _gather(acc, wl, fr, starts, ends, indices, v, m, cnt)
            else:
                _or_rows(acc, fr, fm, starts, ends, indices, v, _ALL, W)
                _compact(acc, wl, m, cnt)
            total += level * _absorb(acc, wl, cnt, vis, nx, v, W - 1, full[W - 1], miss, nm, ms)
            any_new = any_new or nm[v] != 0
        if not any_new:
            break
        fr, nx = nx, fr
        fm, nm = nm, fm
    return total


@njit(cache=True, nogil=True, inline="always")
def _transpose64(a: np.ndarray) -> None:
    """Transpose a 64×64 bit matrix in place: bit c of ``a[r]`` becomes bit r of ``a[c]``
    (Hacker's Delight, §7-3: six rounds of masked block swaps)."""
    j = 32
    m = np.uint64(0x00000000FFFFFFFF)
    while j != 0:
        k = 0
        while k < 64:
            t = ((a[k] >> np.uint64(j)) ^ a[k + j]) & m
            a[k] ^= t << np.uint64(j)
            a[k + j] ^= t
            k = (k + j + 1) & ~j
        j >>= 1
        m ^= m << np.uint64(j)

@njit(cache=True, nogil=True)
def _mass_lower(
    starts: np.ndarray, ends: np.ndarray, indices: np.ndarray, dense: int
) -> int:
    """``Σ_{s<v} d(s, v)`` over a connected graph of at most 4,096 nodes (row spans): every node
    v computes only its bits s < v; the rest of each frontier row is the transpose of that
    triangle (see the module docstring)."""
    n = starts.shape[0]
    W = (n + 63) // 64
    NB = W  # 64x64 blocks per side
    vis = np.zeros((n, W), dtype=np.uint64)   # lower part only (s < v)
    fr = np.zeros((n, W), dtype=np.uint64)    # full frontier rows (fresh or stale)
    nx = np.zeros((n, W), dtype=np.uint64)    # lower part of the next frontier
    fm = np.zeros(n, dtype=np.uint64)         # words of fr[v] with fresh bits
    nm = np.zeros(n, dtype=np.uint64)         # words of nx[v] with new bits
    miss = np.zeros(n, dtype=np.uint64)       # lower words of v not yet full
    lastw = np.empty(n, dtype=np.int64)
    lowm = np.empty(n, dtype=np.uint64)       # mask of the bits s < v in v's own word
    wide = np.zeros(n, dtype=np.bool_)        # v needed more than `dense` words last level
    for v in range(n):
        lastw[v] = v >> 6
        lowm[v] = (_ONE << np.uint64(v & 63)) - _ONE
    total = 0
    # level 1 from the adjacency: full rows
    for v in range(n):
        for p in range(starts[v], ends[v]):
            b = indices[p]
            fr[v, b >> 6] |= _ONE << np.uint64(b & 63)
        t, fm[v], miss[v] = _first_level(fr, vis, v, lastw[v], lowm[v])
        total += t
    acc = np.zeros(max(W, 4), dtype=np.uint64)  # the register paths write four entries
    wl = np.empty(max(W, 4), dtype=np.int64)
    blk = np.empty(64, dtype=np.uint64)
    bmask = np.zeros(NB, dtype=np.uint64)
    level = 1
    while True:
        level += 1
        any_new = False
        for v in range(n):
            ms = miss[v]
            nm[v] = 0
            if ms == 0:
                continue
            if wide[v]:
                # wide last level: OR every word up to the last missing one while reading the
                # neighbours' masks (one pass instead of two)
                top = 64 - int(leading_zeros(ms))
                for w in range(top):
                    acc[w] = 0
                m = np.uint64(0)
                for p in range(starts[v], ends[v]):
                    u = indices[p]
                    f = fm[u] & ms
                    m |= f
                    if f != 0:
                        for w in range(top):
                            acc[w] |= fr[u, w]
                m &= ms
                cnt = int(popcount(m))
                wide[v] = cnt > dense
                if cnt == 0:
                    continue
                _compact(acc, wl, m, cnt)
            else:
                m = _fresh_words(fm, starts, ends, indices, v) & ms
                cnt = int(popcount(m))
                if cnt == 0:
                    continue
                # up to four words accumulate in registers, up to `dense` are gathered one by
                # one; more: whole rows up to the last word needed (contiguous), then compacted
                if cnt == 1:
                    w0 = int(trailing_zeros(m))
                    a0 = np.uint64(0)
                    for p in range(starts[v], ends[v]):
                        a0 |= fr[indices[p], w0]
                    wl[0] = w0
                    acc[0] = a0
                elif cnt <= 4:
                    # fewer than four words: the last one again (its loads hit the cache)
                    x = m
                    w0 = int(trailing_zeros(x))
                    x &= x - _ONE
                    w1 = int(trailing_zeros(x)) if x != 0 else w0
                    x &= x - _ONE
                    w2 = int(trailing_zeros(x)) if x != 0 else w1
                    x &= x - _ONE
                    w3 = int(trailing_zeros(x)) if x != 0 else w2
                    a0 = np.uint64(0)
                    a1 = np.uint64(0)
                    a2 = np.uint64(0)
                    a3 = np.uint64(0)
                    for p in range(starts[v], ends[v]):
                        u = indices[p]
                        a0 |= fr[u, w0]
                        a1 |= fr[u, w1]
                        a2 |= fr[u, w2]
                        a3 |= fr[u, w3]
                    wl[0] = w0
                    wl[1] = w1
                    wl[2] = w2
                    wl[3] = w3
                    acc[0] = a0
                    acc[1] = a1
                    acc[2] = a2
                    acc[3] = a3
                elif cnt <= dense:
                    _gather(acc, wl, fr, starts, ends, indices, v, m, cnt)
                else:
                    _or_rows(acc, fr, fm, starts, ends, indices, v, m,
                             64 - int(leading_zeros(m)))
                    _compact(acc, wl, m, cnt)
                wide[v] = cnt > dense
            total += level * _absorb(acc, wl, cnt, vis, nx, v, lastw[v], lowm[v], miss, nm, ms)
            any_new = any_new or nm[v] != 0
        if not any_new:
            break
        # the next frontier in full: nx (lower, words in nm) plus its transpose (upper)
        for bi in range(NB):
            bm = np.uint64(0)
            for r in range(64 * bi, min(n, 64 * bi + 64)):
                bm |= nm[r]
            bmask[bi] = bm
        for v in range(n):
            fm[v] = nm[v]
        for bi in range(NB):
            x = bmask[bi]
            while x != 0:
                bj = int(trailing_zeros(x))
                x &= x - _ONE
                # block (rows of bi, word bj) -> rows of bj, word bi
                for r in range(64):
                    v = 64 * bi + r
                    blk[r] = nx[v, bj] if v < n and (nm[v] >> np.uint64(bj)) & _ONE else np.uint64(0)
                _transpose64(blk)
                for c in range(64):
                    u = 64 * bj + c
                    if u >= n:
                        break
                    t = blk[c]
                    if bi == bj:
                        # the same word: lower bits of u's own word come from nx[u, bi] (fresh
                        # where nm says so), upper bits from the transpose
                        lo = nx[u, bi] if (nm[u] >> np.uint64(bi)) & _ONE else np.uint64(0)
                        t |= lo
                    if t != 0:
                        nx[u, bi] = t
                        fm[u] |= _ONE << np.uint64(bi)
        fr, nx = nx, fr
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


def mass_total(starts: np.ndarray, ends: np.ndarray, indices: np.ndarray, *,
               batched: bool | None = None, batch_words: int = BATCH_WORDS,
               parallel: bool | None = None) -> int:
    """``Σ_{i≠j} d(i, j)`` (ordered pairs; twice the geodesic mass) of a **connected** graph
    given as row spans ``indices[starts[v]:ends[v]]`` (int arrays, symmetric). One triangle
    (:func:`_mass_lower`), by default up to :data:`ONE_BATCH_MAX_N` nodes; else (or with
    ``batched=True``) batches of 64·``batch_words`` sources, by default in parallel for large
    graphs outside a layer job (:func:`~layerflow.ricci._threads.kernel_threads`; ``parallel``
    says so explicitly). Every path gives the same integer."""
    n = int(starts.shape[0])
    if n == 0:
        return 0
    if not (n > ONE_BATCH_MAX_N if batched is None else batched):
        return 2 * int(_mass_lower(starts, ends, indices, DENSE_WORDS))
    if parallel is None:
        parallel = _threads.kernel_threads(n) > 1
    fn = _mass_parallel if parallel else _mass_serial
    return int(fn(starts, ends, indices, 64 * batch_words, DENSE_WORDS))
