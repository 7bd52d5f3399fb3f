"""Property tests: random small clouds never crash with anything but our own errors."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerflow._errors import ConfigError
from layerflow.ricci import (
    edge_curvature,
    knn_graph,
    knn_indices,
    layer_coefficients,
    local_coefficients,
    path_mass,
    ricci_coefficient,
    ricci_k_scan,
    summary,
)

from .reference import ref_knn, ref_nng

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def clouds(draw: st.DrawFn) -> tuple[list[np.ndarray], int]:
    n = draw(st.integers(1, 14))
    n_states = draw(st.integers(1, 5))
    grid = draw(st.booleans())  # integer grids give ties and duplicates
    states = []
    for _ in range(n_states):
        d = draw(st.integers(1, 3))
        if grid:
            vals = draw(st.lists(st.integers(-2, 2), min_size=n * d, max_size=n * d))
        else:
            vals = draw(
                st.lists(
                    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
                    min_size=n * d,
                    max_size=n * d,
                )
            )
        states.append(np.asarray(vals, dtype=np.float64).reshape(n, d))
    k = draw(st.integers(-1, n + 1))
    return states, k


@SETTINGS
@given(clouds())
def test_entry_points_only_raise_our_errors(case: tuple[list[np.ndarray], int]) -> None:
    states, k = case
    calls = [
        lambda: ricci_coefficient(states, k=k),
        lambda: ricci_coefficient(states, k=k, curvature="augmented", degree="directed"),
        lambda: ricci_coefficient(states, k=k, curvature="ollivier", geodesics="sampled"),
        lambda: ricci_coefficient(states, k=k, protocol="baptista"),
        lambda: ricci_k_scan(states, ks=(max(1, k - 1), k), protocol="baptista"),
        lambda: local_coefficients(states, k=k),
        lambda: layer_coefficients(states, k=k),
        lambda: ricci_k_scan(states, ks=(max(1, k - 1), k)),
        lambda: summary(states, k=k),
    ]
    for call in calls:
        try:
            res = call()
        except ConfigError:
            continue
        coef = getattr(res, "coefficient", None)
        if coef is not None:
            assert np.isnan(coef) or -1.0 <= coef <= 1.0


@SETTINGS
@given(clouds())
def test_graph_invariants_and_tie_rule(case: tuple[list[np.ndarray], int]) -> None:
    states, k = case
    X = states[0]
    n = X.shape[0]
    if not 1 <= k < n:
        return
    idx, _ = knn_indices(X, k)
    np.testing.assert_array_equal(idx, ref_knn(X, k))
    G = knn_graph(X, k)
    assert (G != G.T).nnz == 0 and G.diagonal().sum() == 0
    assert np.diff(G.indptr).min() >= k
    F = edge_curvature(G)
    np.testing.assert_array_equal(F.indices, G.indices)
    g = path_mass(G)
    assert g.value >= n * (n - 1) / 2 or np.isinf(g.value)


@SETTINGS
@given(clouds())
def test_kept_ties_are_cccd_nng(case: tuple[list[np.ndarray], int]) -> None:
    states, k = case
    X = states[0]
    if not 1 <= k < X.shape[0]:
        return
    G = knn_graph(X, k, degree="directed", ties="keep")
    ref = ref_nng(X, k, sqrt=False)
    np.testing.assert_array_equal(G.toarray(), ref)
    assert np.diff(G.indptr).min() >= k
    assert (G.toarray() >= knn_graph(X, k, degree="directed").toarray()).all()
