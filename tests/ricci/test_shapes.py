"""SPEC §7 shapes of the Ricci entry points: geodesic_mass is the sum, coefficients are arrays."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

import layerflow as lf


def _traj(n: int = 60, layers: int = 5, seed: int = 0) -> lf.Trajectory:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    states = [X]
    for _ in range(layers):
        W = rng.normal(size=(3, 3))
        states.append(np.tanh(states[-1] @ W))
    return lf.Trajectory(states)


def test_geodesic_mass_is_the_sum_of_hop_distances() -> None:
    X = np.random.default_rng(1).normal(size=(80, 4))
    G = lf.ricci.knn_graph(X, k=6)
    g = lf.ricci.path_mass(G)
    lengths = dict(nx.all_pairs_shortest_path_length(nx.from_scipy_sparse_array(G)))
    expected = sum(d for i, row in lengths.items() for j, d in row.items() if i < j)
    assert isinstance(g, float)
    assert g == expected
    assert float(g) + 1.0 == expected + 1.0
    assert g.exact and g.stderr == 0.0 and g.n_nodes == 80
    with pytest.raises(AttributeError, match="read-only"):
        g.stderr = 1.0  # type: ignore[misc]


def test_geodesic_mass_of_a_disconnected_graph_is_inf() -> None:
    X = np.vstack([np.zeros((10, 2)), np.full((10, 2), 100.0)])
    X += np.random.default_rng(2).normal(scale=0.01, size=X.shape)
    g = lf.ricci.path_mass(lf.ricci.knn_graph(X, k=3))
    assert math.isinf(g) and g.n_components == 2 and not g.connected


def test_local_and_layer_coefficients_are_arrays_of_the_documented_shape() -> None:
    traj = _traj()
    local = lf.ricci.local_coefficients(traj, k=8)
    layer = lf.ricci.layer_coefficients(traj, k=8)
    assert np.asarray(local).shape == (traj.n_samples,) == local.shape
    assert len(local) == traj.n_samples
    np.testing.assert_array_equal(np.asarray(local), local.values)
    assert np.asarray(layer).shape == (traj.n_layers,)
    assert layer[0] == layer.values[0] or (math.isnan(layer[0]) and math.isnan(layer.values[0]))
