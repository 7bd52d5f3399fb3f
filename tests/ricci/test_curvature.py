from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from layerflow._errors import ConfigError
from layerflow.ricci import CURVATURES, edge_curvature, knn_graph, scalar_curvature

from .reference import (
    assert_same_pattern,
    nx_csr,
    ref_forman,
    ref_graph,
    ref_ollivier,
    ref_triangles,
)


@pytest.mark.parametrize(("n", "k", "seed"), [(40, 3, 0), (150, 8, 1), (300, 15, 2)])
def test_forman_and_augmented_match_networkx(n: int, k: int, seed: int) -> None:
    X = np.random.default_rng(seed).normal(size=(n, 4))
    G = knn_graph(X, k)
    g = ref_graph(X, k)
    F = edge_curvature(G, "forman")
    A = edge_curvature(G, "augmented")
    assert_same_pattern(F, G)
    assert_same_pattern(A, G)
    tri = ref_triangles(g)
    for (u, v), f in ref_forman(g).items():
        assert F[u, v] == f and F[v, u] == f
        assert A[u, v] == f + 3 * tri[(u, v)] and A[v, u] == A[u, v]
    # total triangles agree with networkx's per-node count
    t_edges = sum(tri.values())
    assert t_edges == sum(nx.triangles(g).values())  # each triangle: 3 edges, 3 nodes
    np.testing.assert_allclose(
        scalar_curvature(G, "forman"), sum(ref_forman(g).values()), rtol=0, atol=1e-9
    )


def test_directed_forman_is_in_plus_out_degree_per_arc() -> None:
    X = np.random.default_rng(5).normal(size=(70, 3))
    G = knn_graph(X, 5, degree="directed")
    g = ref_graph(X, 5, directed=True)  # DiGraph: degree = in + out
    F = edge_curvature(G, "forman", degree="directed")
    assert_same_pattern(F, G)
    ref = {(u, v): 4.0 - g.degree(u) - g.degree(v) for u, v in g.edges()}
    for (u, v), f in ref.items():
        assert F[u, v] == f
    assert scalar_curvature(G, "forman", degree="directed") == sum(ref.values())
    # augmented and Ollivier per arc use the union graph's triangles / measures
    A = edge_curvature(G, "augmented", degree="directed")
    gu = g.to_undirected()
    tri = ref_triangles(gu)
    for (u, v), f in ref.items():
        t = tri.get((u, v), tri.get((v, u)))
        assert A[u, v] == f + 3 * t
    Kd = edge_curvature(G, "ollivier", degree="directed")
    assert_same_pattern(Kd, G)
    ref_o = ref_ollivier(gu)
    for u, v in g.edges():
        np.testing.assert_allclose(Kd[u, v], ref_o.get((u, v), ref_o.get((v, u))), atol=1e-9)


@pytest.mark.parametrize("n", [4, 5, 6, 9, 20])
def test_cycle(n: int) -> None:
    G = nx_csr(nx.cycle_graph(n))
    np.testing.assert_array_equal(edge_curvature(G, "forman").data, 0.0)
    np.testing.assert_array_equal(edge_curvature(G, "augmented").data, 0.0)
    # Ollivier, α = 1/2, edge (i, i+1): m_i − m_{i+1} = +¼ at i−1, i and −¼ at i+1, i+2.
    # n ≥ 6: cheapest plan moves ¼ two steps twice (or 3 + 1 steps) -> W1 = 1, κ = 0.
    # n = 5: d(i−1, i+2) = 2, so ¼·(2 + 1) -> κ = ¼.  n = 4: d(i−1, i+2) = 1 -> κ = ½.
    expected = {4: 0.5, 5: 0.25}.get(n, 0.0)
    np.testing.assert_allclose(edge_curvature(G, "ollivier").data, expected, atol=1e-12)


def test_triangle_graph() -> None:
    G = nx_csr(nx.cycle_graph(3))
    np.testing.assert_array_equal(edge_curvature(G, "augmented").data, 3.0)


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_complete_graph(n: int) -> None:
    G = nx_csr(nx.complete_graph(n))
    np.testing.assert_array_equal(edge_curvature(G, "forman").data, 4.0 - 2 * (n - 1))
    # augmented: 4 − 2(n−1) + 3(n−2) = n
    np.testing.assert_array_equal(edge_curvature(G, "augmented").data, float(n))
    # Ollivier: move ½ − ½/(n−1) from i to j -> κ = n / (2(n−1))
    np.testing.assert_allclose(edge_curvature(G, "ollivier").data, n / (2 * (n - 1)), atol=1e-12)
    assert scalar_curvature(G) == n * (n - 1) / 2 * (4 - 2 * (n - 1))


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_star(n: int) -> None:
    # centre 0, leaves 1..n. Edge (0, ℓ): m_0 − m_ℓ = −½(1 − 1/n) at ℓ and +½/n at each other
    # leaf (distance 2 from ℓ): W1 = (n−1)/n, κ = 1/n. Forman: 4 − n − 1 = 3 − n.
    G = nx_csr(nx.star_graph(n))
    np.testing.assert_allclose(edge_curvature(G, "ollivier").data, 1.0 / n, atol=1e-12)
    np.testing.assert_array_equal(edge_curvature(G, "forman").data, 3.0 - n)
    np.testing.assert_array_equal(edge_curvature(G, "augmented").data, 3.0 - n)


def test_dense_input_and_weights_are_ignored() -> None:
    A = nx.to_numpy_array(nx.cycle_graph(5)) * 7.0
    np.testing.assert_array_equal(edge_curvature(A, "forman").data, 0.0)


@pytest.mark.parametrize(
    ("G", "kwargs", "match"),
    [
        (np.eye(3), {}, r"3 self-loops"),
        (np.zeros((2, 3)), {}, r"shape \(2, 3\); expected a square"),
        (np.array([[0, 1], [0, 0]]), {}, r"not symmetric \(1 entries \(i, j\) without \(j, i\)\)"),
        (np.array([[0, np.nan], [np.nan, 0]]), {}, r"non-finite entries"),
        (np.array(["a", "b"]), {}, r"expected a square adjacency matrix"),
        (
            np.zeros((2, 2)),
            {"kind": "gauss"},
            r"unknown curvature kind 'gauss'; available kinds: \['augmented', 'forman', 'ollivier'\]",
        ),
        (np.zeros((2, 2)), {"degree": "in"}, r"degree='in'"),
        (np.array([[0, 1], [1, 0]]), {"kind": "ollivier", "alpha": 1.5}, r"alpha=1.5"),
    ],
)
def test_curvature_errors(G: np.ndarray, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        edge_curvature(G, **kwargs)  # type: ignore[arg-type]


def test_registry_lists_the_three_kinds() -> None:
    assert sorted(CURVATURES) == ["augmented", "forman", "ollivier"]
