from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from layerflow.ricci import edge_curvature, knn_graph

from .reference import assert_same_pattern, nx_csr, ref_graph, ref_ollivier


@pytest.mark.parametrize(("n", "k", "seed"), [(30, 3, 0), (80, 6, 1)])
def test_ollivier_matches_per_edge_pot(n: int, k: int, seed: int) -> None:
    X = np.random.default_rng(seed).normal(size=(n, 3))
    G = knn_graph(X, k)
    K = edge_curvature(G, "ollivier")
    assert_same_pattern(K, G)
    for (u, v), kap in ref_ollivier(ref_graph(X, k)).items():
        np.testing.assert_allclose(K[u, v], kap, rtol=0, atol=1e-9)
        np.testing.assert_allclose(K[v, u], kap, rtol=0, atol=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.9])
def test_ollivier_other_alpha_matches_pot(alpha: float) -> None:
    X = np.random.default_rng(9).normal(size=(40, 2))
    G = knn_graph(X, 4)
    K = edge_curvature(G, "ollivier", alpha=alpha)
    for (u, v), kap in ref_ollivier(ref_graph(X, 4), alpha).items():
        np.testing.assert_allclose(K[u, v], kap, rtol=0, atol=1e-9)


def test_path_ollivier_matches_pot_on_a_tree() -> None:
    g = nx.balanced_tree(2, 3)
    K = edge_curvature(nx_csr(g), "ollivier")
    for (u, v), kap in ref_ollivier(g).items():
        np.testing.assert_allclose(K[u, v], kap, atol=1e-12)


def test_fast_emd_path_is_used_and_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    import ot

    from layerflow.ricci._curvature import _emd_solver

    rng = np.random.default_rng(0)
    a = rng.random(7)
    a /= a.sum()
    b = rng.random(5)
    b /= b.sum()
    M = rng.integers(1, 4, size=(7, 5)).astype(np.float64)
    expected = float(ot.emd2(a, b, M))

    def boom(*args: object, **kwargs: object) -> float:
        raise AssertionError("slow path used")

    monkeypatch.setattr(ot, "emd2", boom)
    np.testing.assert_allclose(_emd_solver()(a, b, M), expected, rtol=0, atol=1e-12)


def test_ollivier_in_small_chunks_is_identical() -> None:
    import layerflow.ricci._curvature as oll

    G = knn_graph(np.random.default_rng(2).normal(size=(60, 3)), 5)
    U = sp.csr_matrix(((G + G.T) != 0).astype(np.float64))
    U.sort_indices()
    rows = np.repeat(np.arange(60), np.diff(U.indptr))
    ei, ej = rows[rows < U.indices], U.indices[rows < U.indices]
    full = oll.ollivier_edges(U, ei, ej)
    one_by_one = oll.ollivier_edges(U, ei, ej, chunk_bytes=50)  # one edge per chunk
    np.testing.assert_array_equal(one_by_one, full)
    K = edge_curvature(G, "ollivier")  # the public function gives the same κ per edge
    np.testing.assert_array_equal(np.asarray(K[ei, ej]).ravel(), full)
