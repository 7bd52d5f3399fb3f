"""The two protocols of the global coefficient: what each records, and where they must agree."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import shortest_path
from scipy.stats import pearsonr

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.ricci import PROTOCOLS, knn_graph, ricci_coefficient, ricci_k_scan

from .reference import random_relu_states, ref_nng


def quantised_states(n: int, seed: int, depth: int = 5) -> list[np.ndarray]:
    """Integer-valued states (a small integer input, rounded ReLU layers): many exact ties."""
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 5, size=(n, 2)).astype(float)
    states = [h]
    for _ in range(depth):
        W = rng.integers(-2, 3, size=(h.shape[1], 4))
        h = np.maximum(h @ W + rng.integers(0, 3, size=4), 0.0)
        states.append(h)
    return states


def smooth_states(n: int, seed: int, depth: int = 6) -> list[np.ndarray]:
    """A tanh network on Gaussian points: continuous states, no two distances equal."""
    rng = np.random.default_rng(seed)
    h = rng.normal(size=(n, 3))
    states = [h]
    for _ in range(depth):
        h = np.tanh(h @ rng.normal(size=(h.shape[1], 6)) + 0.1 * rng.normal(size=6))
        states.append(h)
    return states


def test_registry() -> None:
    assert sorted(PROTOCOLS) == ["baptista", "layerflow"]
    b, lf_ = PROTOCOLS["baptista"], PROTOCOLS["layerflow"]
    assert (b.degrees, b.ties, b.first_pair) == (("directed",), "keep", 1)
    assert (lf_.degrees, lf_.ties, lf_.first_pair) == (("union", "directed"), "by_index", 0)


def test_results_record_their_protocol() -> None:
    states = random_relu_states(80, 1)
    d = ricci_coefficient(states, k=6)
    b = ricci_coefficient(states, k=6, protocol="baptista")
    assert (d.protocol, d.degree, d.ties, d.first_pair) == ("layerflow", "union", "by_index", 0)
    assert (b.protocol, b.degree, b.ties, b.first_pair) == ("baptista", "directed", "keep", 1)
    np.testing.assert_array_equal(b.pair_layers, [1, 2, 3, 4])
    np.testing.assert_array_equal(d.pair_layers, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(b.pair_eta, b.eta[1:])
    np.testing.assert_array_equal(b.pair_curvature, b.scalar_curvature[1:5])


def test_without_ties_the_protocols_share_graphs_and_quantities() -> None:
    # continuous data: no ties, so "keep" builds R's graph with exactly k arcs per point; the
    # baptista result has the directed layerflow result's Ric, g and η, and its coefficient is
    # the Pearson correlation of the pairs l = 1 … L−1 — the layerflow coefficient of the
    # trajectory without its input
    states = smooth_states(150, 2)
    for X in states:
        a = knn_graph(X, 7, degree="directed", ties="keep")
        assert (a != knn_graph(X, 7, degree="directed")).nnz == 0
    b = ricci_coefficient(states, k=7, protocol="baptista")
    d = ricci_coefficient(states, k=7, degree="directed")
    np.testing.assert_array_equal(b.scalar_curvature, d.scalar_curvature)
    np.testing.assert_array_equal(b.geodesic_mass, d.geodesic_mass)
    np.testing.assert_array_equal(b.eta, d.eta)
    expected = pearsonr(d.eta[1:], d.scalar_curvature[1:-1]).statistic
    np.testing.assert_allclose(b.coefficient, expected, rtol=0, atol=1e-12)
    assert b.coefficient == ricci_coefficient(states[1:], k=7, degree="directed").coefficient
    assert b.coefficient != d.coefficient


def test_with_ties_baptista_graphs_are_nng() -> None:
    # quantised states tie at the k-th distance; every quantity is recomputed here from
    # cccd's rule (brute force), igraph-style degrees (in + out) and undirected hop distances
    states = quantised_states(60, 3)
    k = 6
    b = ricci_coefficient(states, k=k, protocol="baptista")
    n_extra = 0
    for layer, X in enumerate(states):
        A = ref_nng(X, k)
        n_extra += int(A.sum()) - k * len(X)
        D = A.sum(axis=0) + A.sum(axis=1)
        ric = float(((4 - D[:, None] - D[None, :]) * A).sum())
        assert b.scalar_curvature[layer] == ric
        dist = shortest_path(A, unweighted=True, directed=False)
        assert b.geodesic_mass[layer] == dist.sum() / 2
    assert n_extra > 0  # the data really has ties beyond the k-th neighbour


def test_sweep_with_a_protocol_equals_separate_calls() -> None:
    states = quantised_states(70, 4)
    sw = ricci_k_scan(states, ks=(3, 5, 8), protocol="baptista", local=True)
    for k in (3, 5, 8):
        one = ricci_coefficient(states, k=k, protocol="baptista")
        res = sw.global_[k]
        assert res.protocol == "baptista" and res.degree == "directed"
        np.testing.assert_array_equal(res.scalar_curvature, one.scalar_curvature)
        np.testing.assert_array_equal(res.geodesic_mass, one.geodesic_mass)
        assert res.coefficient == one.coefficient or np.isnan(one.coefficient)
        # local quantities on the union graphs of the kept arcs
        from layerflow.ricci._curvature import edge_curvature

        U0 = knn_graph(states[0], k, ties="keep")
        c0 = np.asarray(edge_curvature(U0).sum(axis=1)).ravel() / np.diff(U0.indptr)
        np.testing.assert_allclose(sw.layer[k].curvature[0], c0, rtol=0, atol=1e-12)


def test_too_few_pairs_under_baptista() -> None:
    # L = 3 gives 3 pairs under layerflow but only l = 1, 2 under baptista
    states = random_relu_states(50, 0, depth=3)
    assert np.isfinite(ricci_coefficient(states, k=5).coefficient)
    res = ricci_coefficient(states, k=5, protocol="baptista")
    assert np.isnan(res.coefficient)
    assert res.reason == (
        "2 layer pairs l = 1…L−1 (L+1=4 states; protocol 'baptista' leaves the input pair "
        "out); the coefficient needs at least 3"
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"protocol": "R"}, r"protocol='R': expected one of \['layerflow', 'baptista'\]"),
        (
            {"protocol": "baptista", "degree": "union"},
            r"degree='union' does not go with protocol='baptista', which uses "
            r"degree='directed'",
        ),
        ({"protocol": "layerflow", "degree": "both"}, r"degree='both': expected one of"),
    ],
)
def test_protocol_errors(kwargs: dict[str, object], match: str) -> None:
    states = random_relu_states(30, 0)
    with pytest.raises(ConfigError, match=match):
        ricci_coefficient(states, k=3, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=match):
        ricci_k_scan(states, ks=(3,), **kwargs)  # type: ignore[arg-type]


def test_trajectory_states_are_all_used() -> None:
    # the protocol never drops a state: the user captures input + hidden layers
    states = random_relu_states(40, 5, depth=4)
    traj = lf.Trajectory(states)
    res = ricci_coefficient(traj, k=4, protocol="baptista")
    assert res.scalar_curvature.shape == (5,) and res.layer_names == traj.layer_names
    short = ricci_coefficient(traj.select(0, 3), k=4, protocol="baptista")
    np.testing.assert_array_equal(short.geodesic_mass, res.geodesic_mass[:4])
