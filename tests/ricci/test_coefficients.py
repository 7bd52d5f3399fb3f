from __future__ import annotations

import numpy as np
import pytest

import layerflow as lf
from layerflow._errors import ConfigError, NotComputableError
from layerflow.ricci import (
    layer_coefficients,
    local_coefficients,
    ricci_coefficient,
    ricci_k_scan,
    summary,
)

from .reference import random_relu_states, ref_ricci, two_clusters


@pytest.mark.parametrize(("n", "k", "seed"), [(60, 5, 0), (150, 8, 1), (300, 12, 2)])
def test_global_coefficient_matches_reference(n: int, k: int, seed: int) -> None:
    states = random_relu_states(n, seed)
    traj = lf.Trajectory(states)
    res = ricci_coefficient(traj, k=k)
    ref = ref_ricci(states, k)
    assert res.connected, res.disconnected_layers
    np.testing.assert_array_equal(res.scalar_curvature, ref["ric"])
    np.testing.assert_array_equal(res.geodesic_mass, ref["g"])
    np.testing.assert_array_equal(res.eta, ref["eta"])
    np.testing.assert_allclose(res.coefficient, ref["rho"], rtol=0, atol=1e-9)
    assert res.exact and res.reason == "" and res.k == k and res.curvature == "forman"
    assert res.scalar_curvature.shape == (6,) and res.eta.shape == (5,)


def test_directed_mode_reproduces_the_r_definition() -> None:
    states = random_relu_states(120, 3)
    res = ricci_coefficient(states, k=6, degree="directed")
    ref = ref_ricci(states, 6, directed=True)
    np.testing.assert_array_equal(res.scalar_curvature, ref["ric"])
    np.testing.assert_array_equal(res.geodesic_mass, ref["g"])
    np.testing.assert_allclose(res.coefficient, ref["rho"], atol=1e-9)


def test_other_curvature_kinds_sum_edge_values() -> None:
    states = random_relu_states(50, 4, depth=3)
    for kind in ("augmented", "ollivier"):
        res = ricci_coefficient(states, k=5, curvature=kind)
        for layer, X in enumerate(states):
            G = lf.ricci.knn_graph(X, 5)
            np.testing.assert_allclose(
                res.scalar_curvature[layer],
                lf.ricci.edge_curvature(G, kind).sum() / 2,
                atol=1e-9,
            )


def test_sampled_geodesics_in_coefficient() -> None:
    states = random_relu_states(200, 5)
    res = ricci_coefficient(states, k=8, geodesics="sampled", n_sources=50, seed=1)
    exact = ricci_coefficient(states, k=8)
    assert not res.exact
    assert (res.geodesic_stderr > 0).all()
    assert (np.abs(res.geodesic_mass - exact.geodesic_mass) <= 4 * res.geodesic_stderr).all()


def test_disconnected_layers_are_named_and_coefficient_is_nan() -> None:
    traj = lf.Trajectory(two_clusters(), layer_names=["in", "a", "b", "c", "d"])
    res = ricci_coefficient(traj, k=5)
    assert np.isnan(res.coefficient)
    assert not res.connected
    assert res.disconnected_layers == ((2, "b", 2), (3, "c", 2))
    assert "layer 2 ('b'): 2 components" in res.reason
    assert np.isinf(res.geodesic_mass[2]) and np.isinf(res.geodesic_mass[3])
    # nothing dropped: all L pairs still reported
    assert res.eta.shape == (4,)
    with pytest.raises(NotComputableError, match=r"layer 2 \('b'\): 2 components; layer 3"):
        ricci_coefficient(traj, k=5, on_disconnected="raise")
    s = summary(traj, k=5)
    assert np.isnan(s["ricci_rho"]) and s["ricci_connected"] is False
    assert s["ricci_disconnected_layers"] == (
        "layer 2 ('b'): 2 components; layer 3 ('c'): 2 components"
    )


def test_fewer_than_three_pairs_is_nan_with_reason() -> None:
    states = random_relu_states(40, 0, depth=2)
    res = ricci_coefficient(states, k=4)
    assert np.isnan(res.coefficient)
    assert "2 layer pairs" in res.reason and "at least 3" in res.reason


def test_summary_keys_and_json_types() -> None:
    import json

    traj = lf.Trajectory(random_relu_states(80, 2))
    s = summary(traj, k=6, local=True)
    for key in ("ricci_rho", "ricci_connected", "ricci_disconnected_layers", "k"):
        assert key in s
    assert s["k"] == 6 and s["ricci_n"] == 80 and s["ricci_layers"] == 5
    json.dumps(s)
    np.testing.assert_allclose(s["ricci_rho"], ricci_coefficient(traj, k=6).coefficient)
    assert np.isfinite(s["ricci_local_mean"])


def test_analyze_section_uses_summary() -> None:
    from layerflow._analyze import analyze

    out = analyze(lf.Trajectory(random_relu_states(60, 1)), sections=["ricci"], k=5)
    assert out["ricci"]["k"] == 5
    out = analyze(lf.Trajectory(random_relu_states(5, 1)), sections=["ricci"], k=5)
    assert "k=5 needs more than 5 points; layer 0 ('input') has 5" in out["ricci"]["error"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda s: ricci_coefficient(s, k=40),
            r"k=40 needs more than 40 points; layer 0 \('input'\) has 40",
        ),
        (lambda s: ricci_coefficient(s, k=0), r"k=0: expected an int >= 1"),
        (
            lambda s: ricci_coefficient(s, k=3, curvature="x"),
            r"unknown curvature kind 'x'; available kinds",
        ),
        (lambda s: ricci_coefficient(s, k=3, degree="x"), r"degree='x'"),
        (lambda s: ricci_coefficient(s, k=3, on_disconnected="drop"), r"on_disconnected='drop'"),
        (lambda s: ricci_coefficient(s, k=3, geodesics="x"), r"geodesics='x'"),
        (
            lambda s: local_coefficients(s[:3], k=3),
            r"local coefficients need at least 3 layer pairs \(4 states\); got 3 states",
        ),
        (
            lambda s: layer_coefficients(s[:1], k=3),
            r"layer coefficients need at least 1 layer pairs",
        ),
        (lambda s: ricci_k_scan(s, ks=()), r"ks is empty"),
        (lambda s: ricci_k_scan(s, ks=(3, 50)), r"k=50 needs more than 50 points"),
        (
            lambda s: ricci_coefficient([s[0], s[1][:10]], k=3),
            r"state 1 \('layer1'\) has 10 rows but state 0 has 40",
        ),
        (lambda s: ricci_coefficient([], k=3), r"no states given"),
        (lambda s: ricci_coefficient("abc", k=3), r"dtype <U1|expected a Trajectory"),
        (
            lambda s: ricci_coefficient(5, k=3),
            r"expected a Trajectory or a sequence of \(N, d\) arrays, got int",
        ),
    ],
)
def test_coefficient_errors(call, match: str) -> None:  # type: ignore[no-untyped-def]
    states = random_relu_states(40, 0)
    with pytest.raises(ConfigError, match=match):
        call(states)


def test_nan_in_raw_state_names_the_layer() -> None:
    states = random_relu_states(30, 0)
    states[2] = states[2].copy()
    states[2][4, 1] = np.nan
    with pytest.raises(
        ConfigError,
        match=r"points \(state 2 \('layer2'\)\) have NaN values in 1 of 30 rows \(first bad row: 4\)",
    ):
        ricci_coefficient(states, k=3)
    with pytest.raises(ValueError, match="NaN"):
        lf.Trajectory(states)  # the Trajectory refuses at construction


def test_single_array_is_one_state() -> None:
    X = np.random.default_rng(0).normal(size=(20, 2))
    res = ricci_coefficient(X, k=3)
    assert res.eta.shape == (0,) and np.isnan(res.coefficient)
