"""Hop distances on unweighted graphs: Numba kernels, and the Python that calls them.

* here: graph structure (the union graph of kNN arcs, connected components, a breadth-first
  numbering of the nodes) and bit operations on uint64 words (LLVM's ``ctpop``, ``cttz`` and
  ``ctlz`` intrinsics, each one machine instruction where the CPU has it);
* :mod:`~layerflow.ricci._shortest_paths.bfs`: bit-parallel breadth-first search (sampled geodesic
  mass, neighbour distances of the local coefficients);
* :mod:`~layerflow.ricci._shortest_paths.mass`: the exact geodesic mass ``Σ_{i<j} d(i, j)``;
* :mod:`~layerflow.ricci._shortest_paths.nested`: the kNN graphs of every swept k of one state, stored
  once, with Forman's closed form and the geodesic mass at every k.

Graphs are CSR ``(indptr, indices)`` int64 arrays (or row spans ``indices[starts[v]:ends[v]]``).
Kernels are compiled on first use and cached on disk (``cache=True``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = [
    "bfs_order",
    "leading_zeros",
    "n_components",
    "popcount",
    "renumber",
    "span_components",
    "trailing_zeros",
    "union_csr",
]


@njit(cache=True, nogil=True)
def union_csr(ptr: np.ndarray, arcs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr, indices)`` of the union graph of the arcs ``i → arcs[p]``,
    ``ptr[i] ≤ p < ptr[i+1]`` (self-arcs dropped), rows sorted.

    No sorting: the union graph is symmetric, so writing i into the row of each of its
    neighbours j while i runs upwards fills every row in increasing order (a counting
    transpose)."""
    n = ptr.shape[0] - 1
    indeg = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        for p in range(ptr[i], ptr[i + 1]):
            indeg[arcs[p] + 1] += 1
    inptr = np.cumsum(indeg)
    fill = inptr[:-1].copy()
    inlist = np.empty(ptr[n], dtype=np.int64)
    for i in range(n):
        for q in range(ptr[i], ptr[i + 1]):
            j = arcs[q]
            inlist[fill[j]] = i
            fill[j] += 1
    # each node's arcs out, then in, as one list
    both_ptr = ptr + inptr
    both = np.empty(both_ptr[n], dtype=np.int64)
    for i in range(n):
        b = both_ptr[i]
        for q in range(ptr[i], ptr[i + 1]):
            both[b] = arcs[q]
            b += 1
        for p in range(inptr[i], inptr[i + 1]):
            both[b] = inlist[p]
            b += 1
    mark = np.full(n, -1, dtype=np.int64)
    deg = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        mark[i] = i  # no self-loops
        d = 0
        for q in range(both_ptr[i], both_ptr[i + 1]):
            j = both[q]
            if mark[j] != i:
                mark[j] = i
                d += 1
        deg[i + 1] = d
    indptr = np.cumsum(deg)
    indices = np.empty(indptr[n], dtype=np.int64)
    pos = indptr[:-1].copy()
    mark[:] = -1
    for i in range(n):
        mark[i] = i
        for q in range(both_ptr[i], both_ptr[i + 1]):
            j = both[q]
            if mark[j] != i:
                mark[j] = i
                indices[pos[j]] = i
                pos[j] += 1
    return indptr, indices


@njit(cache=True, nogil=True, inline="always")
def _bfs_mark(starts: np.ndarray, ends: np.ndarray, indices: np.ndarray, s: int,
              mark: np.ndarray, old: int, new: int, queue: np.ndarray, head: int) -> int:
    """Breadth-first from s over the nodes marked ``old``: each is marked ``new`` and appended to
    ``queue`` from position ``head`` on, s first. Returns the end of the queue."""
    mark[s] = new
    queue[head] = s
    tail = head + 1
    while head < tail:
        v = queue[head]
        head += 1
        for p in range(starts[v], ends[v]):
            u = indices[p]
            if mark[u] == old:
                mark[u] = new
                queue[tail] = u
                tail += 1
    return tail


@njit(cache=True, nogil=True)
def span_components(starts: np.ndarray, ends: np.ndarray, indices: np.ndarray) -> int:
    """Connected components of a symmetric graph given as row spans
    ``indices[starts[v]:ends[v]]`` (breadth-first labelling)."""
    n = starts.shape[0]
    seen = np.zeros(n, dtype=np.int8)
    queue = np.empty(n, dtype=np.int64)
    comps = 0
    for s in range(n):
        if seen[s] == 0:
            comps += 1
            _bfs_mark(starts, ends, indices, s, seen, 0, 1, queue, 0)
    return comps


@njit(cache=True, nogil=True)
def n_components(indptr: np.ndarray, indices: np.ndarray) -> int:
    """Connected components of a symmetric CSR graph (breadth-first labelling)."""
    return span_components(indptr[:-1], indptr[1:], indices)


@njit(cache=True, nogil=True)
def bfs_order(starts: np.ndarray, ends: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The nodes of a symmetric graph (row spans ``indices[starts[v]:ends[v]]``) in
    breadth-first order, one component after another, each from a pseudo-peripheral node (the
    last node reached from the component's smallest node). Numbering nodes this way keeps
    neighbours, and the sources one BFS level reaches, close together
    (:mod:`layerflow.ricci._shortest_paths.mass`)."""
    n = starts.shape[0]
    order = np.empty(n, dtype=np.int64)
    mark = np.zeros(n, dtype=np.int8)  # 1: reached by the probe, 2: placed
    queue = np.empty(n, dtype=np.int64)
    placed = 0
    for s in range(n):
        if mark[s] == 2:
            continue
        # probe: breadth-first from s; then the order: breadth-first from the last node reached,
        # over the same component
        tail = _bfs_mark(starts, ends, indices, s, mark, 0, 1, queue, 0)
        placed = _bfs_mark(starts, ends, indices, queue[tail - 1], mark, 1, 2, order, placed)
    return order


@njit(cache=True, nogil=True)
def renumber(
    indptr: np.ndarray, indices: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The CSR graph with node ``order[r]`` renamed r: row r is the old row ``order[r]`` with
    every neighbour renamed (rows keep their old order of entries)."""
    n = indptr.shape[0] - 1
    inv = np.empty(n, dtype=np.int64)
    for r in range(n):
        inv[order[r]] = r
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    for r in range(n):
        o = order[r]
        out_ptr[r + 1] = out_ptr[r] + indptr[o + 1] - indptr[o]
    out = np.empty(indices.shape[0], dtype=np.int32)
    for r in range(n):
        o = order[r]
        q = out_ptr[r]
        for p in range(indptr[o], indptr[o + 1]):
            out[q] = inv[indices[p]]
            q += 1
    return out_ptr, out


def _unary(name: str, *extra: bool) -> Any:
    """An intrinsic uint64 -> uint64 calling ``llvm.<name>`` (with ``extra`` i1 arguments)."""

    @intrinsic
    def fn(typingctx: Any, x: Any) -> Any:  # pragma: no cover - compiled
        if x != types.uint64:
            return None
        sig = types.uint64(types.uint64)

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            tys = [ir.IntType(64)] + [ir.IntType(1)] * len(extra)
            f = builder.module.declare_intrinsic(f"llvm.{name}", tys)
            flags = [ir.Constant(ir.IntType(1), int(b)) for b in extra]
            return builder.call(f, [args[0], *flags])

        return sig, codegen

    return fn


popcount = _unary("ctpop")
popcount.__doc__ = "Number of set bits of a uint64."
# is_zero_poison = False: a zero word gives 64
trailing_zeros = _unary("cttz", False)
trailing_zeros.__doc__ = "Index of the lowest set bit of a uint64 (64 for 0)."
leading_zeros = _unary("ctlz", False)
leading_zeros.__doc__ = "Number of zero bits above the highest set bit of a uint64 (64 for 0)."
