"""The exact geodesic mass kernels against closed forms and scipy's shortest paths."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, shortest_path

from layerflow.ricci import _shortest_paths as graph_kernels
from layerflow.ricci._shortest_paths import mass as mass_kernels


def _csr(n: int, edges: list[tuple[int, int]] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    A = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    A = ((A + A.T) > 0).astype(np.int8).tocsr()
    A.setdiag(0)
    A.eliminate_zeros()
    A.sort_indices()
    return A.indptr.astype(np.int64), A.indices.astype(np.int64)


def _total(indptr: np.ndarray, indices: np.ndarray) -> int:
    return mass_kernels.mass_total(indptr[:-1].copy(), indptr[1:].copy(), indices)


def _ref_total(indptr: np.ndarray, indices: np.ndarray) -> int:
    n = indptr.shape[0] - 1
    A = sp.csr_matrix((np.ones(indices.shape[0]), indices, indptr), shape=(n, n))
    D = shortest_path(A, unweighted=True, directed=False)
    assert np.isfinite(D).all()
    return int(D.sum())


def path(n: int) -> tuple[np.ndarray, np.ndarray]:
    return _csr(n, [(i, i + 1) for i in range(n - 1)])


@pytest.mark.parametrize("n", [1, 2, 3, 63, 64, 65, 129, 200])
def test_closed_forms(n: int) -> None:
    # ordered pairs: path n(n²−1)/3, complete n(n−1), cycle n·Σ_j min(j, n−j), star 2(n−1)²
    assert _total(*path(n)) == n * (n * n - 1) // 3
    full = [(i, j) for i in range(n) for j in range(i + 1, n)]
    assert _total(*_csr(n, full)) == n * (n - 1)
    if n >= 3:
        cyc = [(i, (i + 1) % n) for i in range(n)]
        assert _total(*_csr(n, cyc)) == n * sum(min(j, n - j) for j in range(1, n))
    star = [(0, i) for i in range(1, n)]
    assert _total(*_csr(n, star)) == 2 * (n - 1) ** 2


@pytest.mark.parametrize(("a", "b"), [(7, 9), (40, 30), (3, 100)])
def test_grid_closed_form(a: int, b: int) -> None:
    # Manhattan distances: Σ_{unordered} |Δx| + |Δy| = b²(a³ − a)/6 + a²(b³ − b)/6
    node = np.arange(a * b).reshape(a, b)
    edges = [(node[x, y], node[x + 1, y]) for x in range(a - 1) for y in range(b)]
    edges += [(node[x, y], node[x, y + 1]) for x in range(a) for y in range(b - 1)]
    assert _total(*_csr(a * b, edges)) == 2 * (b * b * (a**3 - a) // 6 + a * a * (b**3 - b) // 6)


def _random_connected(n: int, seed: int, extra: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tree = [(i, int(rng.integers(0, i))) for i in range(1, n)]  # a random spanning tree
    more = rng.integers(0, n, size=(extra, 2))
    return _csr(n, np.concatenate([np.array(tree).reshape(-1, 2), more]))


@pytest.mark.parametrize(("n", "extra"), [(150, 30), (300, 2000), (500, 40_000), (1100, 300)])
def test_random_graphs_equal_scipy(n: int, extra: int) -> None:
    ip, ix = _random_connected(n, n + extra, extra)
    assert _total(ip, ix) == _ref_total(ip, ix)
    # any numbering: the breadth-first one the callers use gives the same sum
    order = graph_kernels.bfs_order(ip[:-1], ip[1:], ix)
    rp, rx = graph_kernels.renumber(ip, ix, order)
    assert _total(rp, rx) == _ref_total(ip, ix)


def test_row_spans_with_gaps_and_any_order() -> None:
    # rows stored anywhere, with room between them, entries in any order (the nested layout)
    ip, ix = _random_connected(260, 3, 900)
    rng = np.random.default_rng(1)
    n = ip.shape[0] - 1
    gap = rng.integers(0, 5, size=n)
    starts = np.cumsum(np.concatenate([[0], np.diff(ip) + gap]))[:-1]
    big = np.full(int(starts[-1] + np.diff(ip)[-1] + gap[-1]), -7, dtype=np.int32)
    for v in range(n):
        row = rng.permutation(ix[ip[v] : ip[v + 1]])
        big[starts[v] : starts[v] + row.size] = row
    ends = starts + np.diff(ip)
    assert mass_kernels.mass_total(starts, ends, big) == _ref_total(ip, ix)


def test_batched_and_parallel_paths() -> None:
    # graphs above ONE_BATCH_MAX_N run in batches of sources (in parallel for large graphs);
    # chosen here by argument on small graphs
    import numba

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    ip_ix = _random_connected(700, 5, 3000)
    ref = _ref_total(*ip_ix)
    for parallel in (False, True):
        for (p, x), want in ((ip_ix, ref), (path(300), 300 * (300 * 300 - 1) // 3)):
            got = mass_kernels.mass_total(p[:-1].copy(), p[1:].copy(), x, batched=True,
                                          batch_words=2, parallel=parallel)
            assert got == want


def test_long_path_above_one_batch() -> None:
    n = 5000  # 3 batches of 2,048 sources, 5,000 levels
    assert _total(*path(n)) == n * (n * n - 1) // 3


def test_bfs_order_is_a_breadth_first_numbering() -> None:
    ip, ix = _random_connected(400, 9, 100)
    # a second component, and an isolated node
    ip2, ix2 = _random_connected(50, 2, 10)
    n = 400 + 50 + 1
    A = sp.block_diag([
        sp.csr_matrix((np.ones(ix.size), ix, ip)),
        sp.csr_matrix((np.ones(ix2.size), ix2, ip2)),
        sp.csr_matrix((1, 1)),
    ]).tocsr()
    order = graph_kernels.bfs_order(A.indptr[:-1].astype(np.int64), A.indptr[1:].astype(np.int64),
                                    A.indices.astype(np.int64))
    assert sorted(order.tolist()) == list(range(n))
    _, labels = connected_components(A, directed=False)
    comp = labels[order]
    assert (np.diff(comp) != 0).sum() == 2  # each component is one contiguous run
    # within a component, BFS levels from its first node never decrease along the order
    for c in np.unique(comp):
        nodes = order[comp == c]
        lev = shortest_path(A, unweighted=True, directed=False, indices=int(nodes[0]))[nodes]
        assert (np.diff(lev) >= 0).all()
    assert graph_kernels.span_components(A.indptr[:-1], A.indptr[1:], A.indices) == 3
