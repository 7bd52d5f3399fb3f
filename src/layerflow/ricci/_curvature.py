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
    ``d(i, j) = 1`` for an edge. W1 is solved exactly per edge: each problem is first reduced
    (exactly) to moving the positive part of ``m_i − m_j`` onto its negative part
    (:func:`ollivier_problems`), then solved in closed form (one source or sink) or by POT's
    network simplex (:func:`ollivier_edges`).

Directed graphs (``degree="directed"``, the authors' R code): the graph is the directed kNN
graph; ``deg(i) = in(i) + out(i)`` and the curvature is given per arc i→j (a mutual pair is two
arcs, as in igraph). Triangles ``t`` and the Ollivier measures use the underlying undirected
(union) graph, whose hop distances are what igraph's ``distances(mode="all")`` returns.

The kernels (triangles per edge, the Ollivier problems) take symmetric CSR ``(indptr, indices)``
int64 arrays with sorted rows; they are compiled on first use and cached on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from numba import njit

from layerflow._errors import ConfigError
from layerflow._suggest import did_you_mean
from layerflow.ricci._graphs import as_graph, edge_rows, union_graph

_OLLIVIER_CHUNK_BYTES = 64 * 1024 * 1024


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


def _emd_solver() -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
    """POT's exact network-simplex solver for one small problem: the compiled ``emd_c`` (less
    overhead per call than ``ot.emd2``), falling back to ``ot.emd2`` if POT's private
    API changes or the solver does not report an optimal solution."""
    import ot

    def slow(a: np.ndarray, b: np.ndarray, M: np.ndarray) -> float:
        return float(ot.emd2(a, b, M))

    try:
        from ot.lp.emd_wrap import emd_c
    except ImportError:  # pragma: no cover - depends on the POT version
        return slow

    def fast(a: np.ndarray, b: np.ndarray, M: np.ndarray) -> float:
        try:
            out = emd_c(a, b, M, 100_000, 1)
        except TypeError:  # pragma: no cover - depends on the POT version
            return slow(a, b, M)
        if int(out[-1]) != 1:  # pragma: no cover - not optimal: let POT report it
            return slow(a, b, M)
        return float(out[1])

    return fast


def ollivier_edges(
    U: sp.csr_matrix, ei: np.ndarray, ej: np.ndarray, alpha: float = 0.5,
    chunk_bytes: int = _OLLIVIER_CHUNK_BYTES,
) -> np.ndarray:
    """Ollivier–Ricci curvature ``κ = 1 − W1(m_i, m_j)`` of the edges (ei[e], ej[e]) of the
    symmetric graph U (exact W1 per edge by POT's network simplex).

    Each problem is reduced, exactly, to transporting the positive part of ``m_i − m_j`` onto
    its negative part (Kantorovich–Rubinstein; the hop distance is a metric); problems with a
    single source or sink are solved in closed form. The edges are taken in chunks whose cost
    blocks stay within ``chunk_bytes`` (the answer is the same for any chunking).
    """
    indptr = U.indptr.astype(np.int64)
    indices = U.indices.astype(np.int64)
    ei = np.ascontiguousarray(ei, dtype=np.int64)
    ej = np.ascontiguousarray(ej, dtype=np.int64)
    emd = _emd_solver()
    kappa = np.empty(ei.shape[0], dtype=np.float64)
    # chunks of edges keep the cost blocks (≤ (deg+1)² bytes per edge) bounded in memory
    chunk = max(1, int(chunk_bytes) // max(1, int(np.diff(indptr).max(initial=0) + 1) ** 2))
    for c0 in range(0, ei.shape[0], chunk):
        c1 = min(ei.shape[0], c0 + chunk)
        pos_ptr, pos_w, neg_ptr, neg_w, cost_ptr, cost, _ = ollivier_problems(
            indptr, indices, ei[c0:c1], ej[c0:c1], float(alpha)
        )
        for e in range(c1 - c0):
            a = pos_w[pos_ptr[e] : pos_ptr[e + 1]]
            b = neg_w[neg_ptr[e] : neg_ptr[e + 1]]
            if a.size == 0 or b.size == 0:
                kappa[c0 + e] = 1.0  # m_i == m_j
                continue
            M = cost[cost_ptr[e] : cost_ptr[e + 1]].reshape(a.size, b.size).astype(np.float64)
            if a.size == 1 or b.size == 1:
                w1 = float((M * (b if a.size == 1 else a[:, None])).sum())
            else:
                ma, mb = a.sum(), b.sum()
                w1 = 0.5 * (ma + mb) * emd(a / ma, b / mb, M)
            kappa[c0 + e] = 1.0 - w1
    return kappa


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
