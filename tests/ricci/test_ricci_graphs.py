from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from ricci_reference import ref_graph

from layerflow.ricci import RicciInputError, knn_graph


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
        RicciInputError, match=r"degree='both': expected one of \['union', 'directed'\]"
    ):
        knn_graph(np.zeros((5, 1)), 2, degree="both")  # type: ignore[arg-type]
