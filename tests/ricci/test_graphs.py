from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from layerflow._errors import ConfigError
from layerflow.ricci import knn_graph

from .reference import ref_graph, ref_nng


@pytest.mark.parametrize(("n", "k"), [(30, 4), (200, 12)])
def test_knn_graph_equals_networkx_reference(n: int, k: int) -> None:
    X = np.random.default_rng(k).normal(size=(n, 3))
    G = knn_graph(X, k)
    assert sp.isspmatrix_csr(G)
    assert G.dtype == np.int8
    assert (G != G.T).nnz == 0
    assert G.diagonal().sum() == 0
    ref = nx.to_scipy_sparse_array(ref_graph(X, k), nodelist=range(n), dtype=np.int8)
    np.testing.assert_array_equal(G.toarray(), ref.toarray())
    deg = np.asarray(G.sum(axis=1)).ravel()
    g = ref_graph(X, k)
    np.testing.assert_array_equal(deg, [g.degree(i) for i in range(n)])
    assert deg.min() >= k


def test_directed_graph_is_the_arcs() -> None:
    X = np.random.default_rng(3).normal(size=(80, 4))
    G = knn_graph(X, 6, degree="directed")
    np.testing.assert_array_equal(np.diff(G.indptr), np.full(80, 6))
    ref = nx.to_scipy_sparse_array(
        ref_graph(X, 6, directed=True), nodelist=range(80), dtype=np.int8
    )
    np.testing.assert_array_equal(G.toarray(), ref.toarray())


def test_unknown_degree_mode() -> None:
    with pytest.raises(
        ConfigError, match=r"degree='both': expected one of \['union', 'directed'\]"
    ):
        knn_graph(np.zeros((5, 1)), 2, degree="both")  # type: ignore[arg-type]


def _grid(side: int) -> np.ndarray:
    return np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2).astype(float)


def test_keeping_ties_on_an_integer_grid_is_cccd_nng() -> None:
    # issue 12: a 20×20 integer grid at k = 5 has 2,972 arcs with every tie at the 5th distance
    # kept (cccd::nng), 2,000 with exactly 5 per point
    X = _grid(20)
    keep = knn_graph(X, 5, degree="directed", ties="keep")
    by_index = knn_graph(X, 5, degree="directed")
    assert keep.nnz == 2972 and by_index.nnz == 2000
    ref = ref_nng(X, 5)
    np.testing.assert_array_equal(keep.toarray(), ref)
    np.testing.assert_array_equal(keep.toarray(), ref_nng(X, 5, sqrt=False))
    # by hand: an interior point has 4 neighbours at 1 and 4 at √2, so k = 5 keeps all 8; an
    # edge point (not a corner) 3 at 1, 2 at √2 (5: no tie); a corner 2 at 1, 1 at √2, 2 at 2
    out = np.diff(keep.indptr).reshape(20, 20)
    assert (out[1:-1, 1:-1] == 8).all()
    assert (out[0, 1:-1] == 5).all() and (out[1:-1, 0] == 5).all()
    assert out[0, 0] == out[-1, -1] == 5
    assert 18 * 18 * 8 + 4 * 18 * 5 + 4 * 5 == 2972
    # the union graph of the kept arcs, and the union convention keeps ties too
    U = knn_graph(X, 5, ties="keep")
    np.testing.assert_array_equal(U.toarray(), ((ref + ref.T) > 0).astype(np.int8))


def test_ties_longer_than_the_neighbour_table_are_found_by_a_scan() -> None:
    # the origin and the 12 integer points at distance 5 from it; counted by hand at k = 1:
    # the origin is tied with all 12 (12 arcs, more than the k + 4 columns a table holds);
    # (±5, 0), (0, ±5) each have two nearest at √10; the 8 others one nearest at √2
    from layerflow.ricci import _knn

    ring = [(5, 0), (4, 3), (3, 4), (0, 5), (-3, 4), (-4, 3), (-5, 0), (-4, -3), (-3, -4),
            (0, -5), (3, -4), (4, -3)]
    X = np.array([(0, 0), *ring], dtype=float)
    G = knn_graph(X, 1, degree="directed", ties="keep")
    out = np.diff(G.indptr)
    assert out[0] == 12 and G[0].toarray().ravel()[1:].all()
    assert [int(out[1 + i]) for i in (0, 3, 6, 9)] == [2, 2, 2, 2]
    assert sum(out[1:]) == 4 * 2 + 8 * 1 and G.nnz == 28
    np.testing.assert_array_equal(G.toarray(), ref_nng(X, 1))
    # the steps knn_graph takes: a table k + 4 = 5 columns wide, then the tie runs; only the
    # origin's run reaches the end of the table and is scanned
    width = _knn.table_width(1, 13, "keep")
    assert width == 5
    idx, sqd = _knn.exact_knn(X, width)
    scanned: list[np.ndarray] = []
    ptr, arcs = _knn.neighbour_arcs(X, idx, sqd, 1, "keep", scanned=scanned)
    assert [r.tolist() for r in scanned] == [[0]]
    np.testing.assert_array_equal(ptr, G.indptr)
    np.testing.assert_array_equal(np.sort(arcs[: ptr[1]]), G.indices[: G.indptr[1]])
    assert knn_graph(X, 1, degree="directed").nnz == 13


def test_all_points_equal_keep_every_tie() -> None:
    G = knn_graph(np.zeros((6, 2)), 2, degree="directed", ties="keep")
    np.testing.assert_array_equal(G.toarray(), 1 - np.eye(6, dtype=np.int8))


def test_unknown_tie_rule() -> None:
    with pytest.raises(ConfigError, match=r"ties='all': expected one of \['by_index', 'keep'\]"):
        knn_graph(np.zeros((5, 1)), 2, ties="all")  # type: ignore[arg-type]


def test_without_ties_both_rules_give_the_same_graph() -> None:
    X = np.random.default_rng(8).normal(size=(300, 5))
    for degree in ("union", "directed"):
        a = knn_graph(X, 7, degree=degree, ties="keep")  # type: ignore[arg-type]
        b = knn_graph(X, 7, degree=degree)  # type: ignore[arg-type]
        assert (a != b).nnz == 0
