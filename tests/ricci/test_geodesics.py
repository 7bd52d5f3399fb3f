from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from layerflow._errors import ConfigError
from layerflow.ricci import knn_graph, path_mass
from layerflow.ricci._path_mass import AUTO_EXACT_MAX_N

from .reference import nx_csr, ref_geodesic_mass, ref_graph


@pytest.mark.parametrize(("n", "d", "k"), [(30, 2, 3), (200, 2, 5), (500, 6, 10), (130, 1, 2)])
def test_exact_geodesic_mass_matches_networkx(n: int, d: int, k: int) -> None:
    X = np.random.default_rng(n).normal(size=(n, d))
    g = ref_graph(X, k)
    r = path_mass(knn_graph(X, k), method="exact")
    ncomp = nx.number_connected_components(g)
    assert r.exact and r.stderr == 0.0 and r.n_nodes == n
    assert r.n_components == ncomp
    assert r.n_sources == (n if ncomp == 1 else 0)
    assert r.value == ref_geodesic_mass(g)


@pytest.mark.parametrize("n", [1, 2, 5, 64, 65, 300])
def test_closed_forms(n: int) -> None:
    # path: Σ_{i<j} (j − i) = n(n²−1)/6 ; complete: n(n−1)/2 ; cycle: n³/8 (even) or n(n²−1)/8
    assert path_mass(nx_csr(nx.path_graph(n))).value == n * (n * n - 1) / 6
    if n <= 64:
        assert path_mass(nx_csr(nx.complete_graph(n))).value == n * (n - 1) / 2
    if n >= 3:
        c = n**3 / 8 if n % 2 == 0 else n * (n * n - 1) / 8
        assert path_mass(nx_csr(nx.cycle_graph(n))).value == c


def test_directed_graph_distances_ignore_direction() -> None:
    X = np.random.default_rng(2).normal(size=(90, 2))
    G = knn_graph(X, 4, degree="directed")
    assert path_mass(G).value == ref_geodesic_mass(ref_graph(X, 4, directed=True))


def test_disconnected_graph_is_infinite_with_component_count() -> None:
    g = nx.disjoint_union_all([nx.cycle_graph(5), nx.path_graph(3), nx.complete_graph(4)])
    r = path_mass(nx_csr(g))
    assert r.value == np.inf and r.n_components == 3 and not r.connected
    r2 = path_mass(nx_csr(g), method="sampled", n_sources=4)
    assert r2.value == np.inf and r2.n_components == 3


@pytest.mark.parametrize("seed", range(6))
def test_sampled_estimate_within_its_stated_error(seed: int) -> None:
    X = np.random.default_rng(100).normal(size=(1500, 2))
    G = knn_graph(X, 6)
    exact = path_mass(G, method="exact").value
    est = path_mass(G, method="sampled", n_sources=128, seed=seed)
    assert not est.exact and est.n_sources == 128 and est.stderr > 0
    assert abs(est.value - exact) <= 4 * est.stderr
    assert est.stderr / exact < 0.05


def test_sampled_is_unbiased_over_many_seeds() -> None:
    G = knn_graph(np.random.default_rng(7).normal(size=(400, 2)), 5)
    exact = path_mass(G, method="exact").value
    ests = [path_mass(G, method="sampled", n_sources=40, seed=s) for s in range(60)]
    mean = np.mean([e.value for e in ests])
    se_mean = np.sqrt(np.mean([e.stderr**2 for e in ests]) / len(ests))
    assert abs(mean - exact) <= 4 * se_mean


def test_sampled_with_all_sources_is_exact() -> None:
    G = nx_csr(nx.cycle_graph(10))
    r = path_mass(G, method="sampled", n_sources=50)
    assert r.exact and r.value == 125.0


def test_auto_threshold_is_documented_size() -> None:
    assert AUTO_EXACT_MAX_N == 20_000
    assert path_mass(nx_csr(nx.path_graph(20)), method="auto").exact


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "fast"}, r"method='fast': expected one of \['auto', 'exact', 'sampled'\]"),
        ({"method": "sampled", "n_sources": 1}, r"n_sources=1: expected an int >= 2"),
        ({"method": "sampled", "n_sources": 2.5}, r"n_sources=2.5"),
    ],
)
def test_geodesic_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        path_mass(nx_csr(nx.path_graph(4)), **kwargs)  # type: ignore[arg-type]


def test_empty_graph_error() -> None:
    with pytest.raises(ConfigError, match="no nodes"):
        path_mass(sp.csr_matrix((0, 0)))


def test_auto_switches_to_sampled_above_the_threshold() -> None:

    n = AUTO_EXACT_MAX_N + 1  # a path: BFS from 20 sources is cheap even at this size
    G = sp.csr_matrix((np.ones(2 * (n - 1)), (np.r_[np.arange(n - 1), np.arange(1, n)],
                                              np.r_[np.arange(1, n), np.arange(n - 1)])),
                      shape=(n, n))
    r = path_mass(G, n_sources=20, seed=3)
    assert not r.exact and r.n_sources == 20
    assert abs(r.value - n * (n**2 - 1) / 6) <= 4 * r.stderr
    small = path_mass(nx_csr(nx.path_graph(200)), n_sources=20, seed=3)
    assert small.exact and small.value == 200 * (200**2 - 1) / 6  # at or below: exact
