"""Geodesic mass of a graph: the sum of all hop distances (Baptista et al. 2024).

``g = Σ_{i<j} d(i, j)`` with d the hop (shortest-path) distance of the unweighted graph; arc
directions are ignored (igraph's ``distances(mode="all")``), so a directed kNN graph has the
geodesic mass of its union graph. A disconnected graph has ``g = ∞``; the result then carries
the number of connected components.

Exact: bit-parallel breadth-first search from every node (one bit per source; one pass over the
triangle s < v up to 4,096 nodes, batches of 2,048 sources above, in parallel with Numba from
:data:`~layerflow.ricci._threads.PARALLEL_MIN_N` nodes on; :mod:`layerflow.ricci._shortest_paths.mass`),
summing ``level × popcount`` of each level's new bits on a breadth-first numbering of the nodes —
no N×N matrix is ever formed; memory is O(N·W) words. Time is O(N/64 · E · diameter) in the worst
case, far less where a node's frontier sits in few words.

Sampled: s sources drawn uniformly without replacement, ``D_s = Σ_j d(s, j)``;
``ĝ = N/(2s) Σ_sources D_s`` is unbiased, with standard error
``(N/2)·sqrt((1 − s/N)·S²/s)`` (S² the sample variance of D_s; finite-population correction).

``method="auto"`` is exact for N ≤ :data:`AUTO_EXACT_MAX_N` (20,000) nodes and sampled (with
:data:`DEFAULT_N_SOURCES` = 1,024 sources) above.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError
from layerflow.ricci._graphs import as_graph, check_choice, union_graph

AUTO_EXACT_MAX_N = 20_000
DEFAULT_N_SOURCES = 1024
PATH_MASS_METHODS = ("auto", "exact", "sampled")


class PathMass(float, ResultDisplay, headline=("value", "stderr", "n_sources", "exact",
                                                  "n_components", "n_nodes")):
    """Result of :func:`path_mass`: the geodesic mass itself, as a ``float``.

    It *is* ``Σ_{i<j} d(i, j)`` (exact) or its unbiased estimate, ``inf`` if disconnected
    (``path_mass(G)`` is the sum), so ``float(g)``, arithmetic and comparisons work as on
    a number; the diagnostics ride along as read-only attributes:

    Attributes
    ----------
    value
        The same number as a plain ``float``.
    stderr
        Standard error of the estimate (0 when exact or disconnected).
    n_sources
        BFS sources used (N when exact, 0 when disconnected).
    exact
        Whether ``value`` is exact.
    n_components
        Connected components of the (undirected) graph.
    n_nodes
        N.
    """

    __slots__ = ("exact", "n_components", "n_nodes", "n_sources", "stderr")

    stderr: float
    n_sources: int
    exact: bool
    n_components: int
    n_nodes: int

    def __new__(cls, value: float, stderr: float, n_sources: int, exact: bool,
                n_components: int, n_nodes: int) -> PathMass:
        obj = super().__new__(cls, value)
        for name, val in (("stderr", float(stderr)), ("n_sources", int(n_sources)),
                          ("exact", bool(exact)), ("n_components", int(n_components)),
                          ("n_nodes", int(n_nodes))):
            object.__setattr__(obj, name, val)
        return obj

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"PathMass is read-only; cannot set {name!r}")

    def __repr__(self) -> str:
        return (f"PathMass(value={float(self)!r}, stderr={self.stderr!r}, "
                f"n_sources={self.n_sources}, exact={self.exact}, "
                f"n_components={self.n_components}, n_nodes={self.n_nodes})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (PathMass, (float(self), self.stderr, self.n_sources, self.exact,
                               self.n_components, self.n_nodes))

    @property
    def value(self) -> float:
        return float(self)

    @property
    def connected(self) -> bool:
        return self.n_components == 1


def _csr_arrays(G: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Undirected CSR arrays (int64) of an adjacency matrix; direction is ignored."""
    A = as_graph(G, "directed")
    if (A != A.T).nnz:
        A = union_graph(A)
    return A.indptr.astype(np.int64), A.indices.astype(np.int64), int(A.shape[0])


def path_mass_from_arrays(
    indptr: np.ndarray,
    indices: np.ndarray,
    method: str,
    n_sources: int | None,
    seed: int | None,
) -> PathMass:
    """:func:`path_mass` of a checked symmetric CSR graph (int64 arrays, N >= 1)."""
    from layerflow.ricci._shortest_paths import bfs, bfs_order, n_components, renumber

    n = int(indptr.shape[0] - 1)
    ncomp = int(n_components(indptr, indices))
    if ncomp > 1:
        return PathMass(np.inf, 0.0, 0, True, ncomp, n)
    if exact_path_mass(method, n, n_sources):
        from layerflow.ricci._shortest_paths.mass import mass_total

        order = bfs_order(indptr[:-1], indptr[1:], indices)
        ip, ix = renumber(indptr, indices, order)
        total = mass_total(ip[:-1], ip[1:], ix)
        return PathMass(total / 2.0, 0.0, n, True, 1, n)
    s = DEFAULT_N_SOURCES if n_sources is None else int(n_sources)
    rng = np.random.default_rng(seed)
    sources = np.sort(rng.choice(n, size=s, replace=False))
    dsum, _ = bfs.bfs_sums(indptr, indices, sources, True)
    D = dsum.astype(np.float64)
    value = n / (2.0 * s) * float(D.sum())
    var = float(D.var(ddof=1)) if s > 1 else 0.0
    stderr = 0.5 * n * float(np.sqrt(max(0.0, (1.0 - s / n) * var / s)))
    return PathMass(value, stderr, s, False, 1, n)


def exact_path_mass(method: str, n: int, n_sources: int | None) -> bool:
    """Whether :func:`path_mass` is exact for a connected graph of N nodes: ``"exact"``,
    ``"auto"`` up to :data:`AUTO_EXACT_MAX_N` nodes, or as many sources as nodes (``n_sources``,
    default :data:`DEFAULT_N_SOURCES`)."""
    if method == "auto":
        method = "exact" if n <= AUTO_EXACT_MAX_N else "sampled"
    s = DEFAULT_N_SOURCES if n_sources is None else int(n_sources)
    return method == "exact" or s >= n


def check_path_mass_options(method: Any, n_sources: Any, name: str = "method") -> None:
    """The geodesic-mass options, checked once at the public edge (``name``: what the caller
    calls the method)."""
    check_choice(name, method, PATH_MASS_METHODS)
    if n_sources is not None and (
        isinstance(n_sources, bool) or not isinstance(n_sources, int | np.integer) or n_sources < 2
    ):
        raise ConfigError(f"n_sources={n_sources!r}: expected an int >= 2")


def path_mass(
    G: Any,
    method: str = "auto",
    n_sources: int | None = None,
    seed: int | None = 0,
) -> PathMass:
    """Geodesic mass ``g = Σ_{i<j} d(i, j)`` of an unweighted graph (hop distances).

    Parameters
    ----------
    G
        Adjacency matrix of shape ``(N, N)`` (scipy.sparse or dense; arc directions ignored).
    method
        ``"exact"`` (bit-parallel BFS from every node), ``"sampled"`` (unbiased estimate from
        ``n_sources`` uniformly sampled sources, with its standard error), or ``"auto"``: exact
        for N ≤ 20,000, sampled above.
    n_sources
        Sources for ``"sampled"`` (default 1,024); if ≥ N the computation is exact.
    seed
        Seed of the source sample.

    Returns
    -------
    PathMass
        ``value`` (``inf`` if the graph is disconnected), ``stderr``, ``n_sources``, ``exact``,
        ``n_components``, ``n_nodes``.
    """
    check_path_mass_options(method, n_sources)
    indptr, indices, n = _csr_arrays(G)
    if n == 0:
        raise ConfigError("G has no nodes; expected an (N, N) adjacency matrix with N >= 1")
    return path_mass_from_arrays(indptr, indices, method, n_sources, seed)


def bfs_pair_distances(G: Any, sources: np.ndarray, targets: list[np.ndarray] | Any) -> np.ndarray:
    """Hop distances ``d(sources[b], t)`` for the targets ``t`` of each source, by bit-parallel
    BFS that stops once every target is found (−1 marks an unreachable target).

    ``targets`` is either a list of index arrays (one per source) or a CSR-like pair
    ``(ptr, idx)``. Returns the distances flattened in the same order (int64).
    """
    from layerflow.ricci._shortest_paths import bfs

    indptr, indices, _ = _csr_arrays(G)
    return bfs.pair_distances(indptr, indices, sources, targets)
