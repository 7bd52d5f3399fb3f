from __future__ import annotations

import numpy as np
import pytest
from ricci_reference import random_relu_states, ref_local, ref_ricci
from scipy.stats import pearsonr

import layerflow as lf
from layerflow.ricci import (
    DisconnectedGraphError,
    RicciInputError,
    layer_coefficients,
    local_coefficients,
    ricci_coefficient,
    ricci_sweep,
    summary,
)


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


def _two_clusters(n: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 2))
    far = X.copy()
    far[: n // 2] += 100.0  # layer 2 splits into two far clusters
    return [X, X * 2, far, far * 3, X]


def test_disconnected_layers_are_named_and_coefficient_is_nan() -> None:
    traj = lf.Trajectory(_two_clusters(), layer_names=["in", "a", "b", "c", "d"])
    res = ricci_coefficient(traj, k=5)
    assert np.isnan(res.coefficient)
    assert not res.connected
    assert res.disconnected_layers == ((2, "b", 2), (3, "c", 2))
    assert "layer 2 ('b'): 2 components" in res.reason
    assert np.isinf(res.geodesic_mass[2]) and np.isinf(res.geodesic_mass[3])
    # nothing dropped: all L pairs still reported
    assert res.eta.shape == (4,)
    with pytest.raises(DisconnectedGraphError, match=r"layer 2 \('b'\): 2 components; layer 3"):
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


@pytest.mark.parametrize(("n", "k", "seed"), [(50, 4, 0), (120, 7, 1)])
def test_local_and_layer_coefficients_match_reference(n: int, k: int, seed: int) -> None:
    states = random_relu_states(n, seed)
    curv, delta = ref_local(states, k)
    lc = local_coefficients(states, k=k)
    np.testing.assert_allclose(lc.curvature, curv, atol=1e-12)
    np.testing.assert_allclose(lc.delta, delta, atol=1e-12)
    for x in range(n):
        a, b = curv[:, x], delta[:, x]
        if np.ptp(a) == 0 or np.ptp(b) == 0 or not np.isfinite(b).all():
            assert np.isnan(lc.values[x])
        else:
            np.testing.assert_allclose(lc.values[x], pearsonr(a, b).statistic, atol=1e-9)
    assert lc.n_undefined == int(np.isnan(lc.values).sum())
    yc = layer_coefficients(states, k=k)
    assert yc.values.shape == (len(states) - 1,)
    for layer in range(len(states) - 1):
        np.testing.assert_allclose(
            yc.values[layer], pearsonr(curv[layer], delta[layer]).statistic, atol=1e-9
        )


def test_local_nan_cases() -> None:
    # the same cloud in every layer: δ = 0 everywhere -> zero variance -> NaN everywhere
    X = np.random.default_rng(0).normal(size=(30, 2))
    lc = local_coefficients([X, X, X, X], k=4)
    assert np.isnan(lc.values).all() and lc.n_undefined == 30
    assert np.isnan(lc.mean)
    np.testing.assert_array_equal(lc.delta, 0.0)
    assert np.isnan(layer_coefficients([X, X], k=4).values).all()
    # unreachable neighbours in a disconnected next layer
    lc2 = local_coefficients(_two_clusters(), k=5)
    assert lc2.n_unreachable > 0
    assert np.isinf(lc2.delta[1]).any()


def test_sweep_equals_separate_runs() -> None:
    states = random_relu_states(100, 6)
    sw = ricci_sweep(states, ks=(4, 9, 6))
    assert sw.ks == (4, 9, 6)
    for k in (4, 6, 9):
        one = ricci_coefficient(states, k=k)
        np.testing.assert_array_equal(sw.global_[k].geodesic_mass, one.geodesic_mass)
        np.testing.assert_array_equal(sw.global_[k].scalar_curvature, one.scalar_curvature)
        assert sw.global_[k].coefficient == one.coefficient or np.isnan(one.coefficient)
        np.testing.assert_array_equal(sw.local[k].values, local_coefficients(states, k=k).values)
        np.testing.assert_array_equal(sw.layer[k].values, layer_coefficients(states, k=k).values)
    sw_d = ricci_sweep(states, ks=(5,), degree="directed", local=False)
    assert sw_d.local == {} and sw_d.layer == {}
    assert sw_d.global_[5].degree == "directed"


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
    from layerflow.analyze import analyze

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
        (lambda s: ricci_sweep(s, ks=()), r"ks is empty"),
        (lambda s: ricci_sweep(s, ks=(3, 50)), r"k=50 needs more than 50 points"),
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
    with pytest.raises(RicciInputError, match=match):
        call(states)


def test_nan_in_raw_state_names_the_layer() -> None:
    states = random_relu_states(30, 0)
    states[2] = states[2].copy()
    states[2][4, 1] = np.nan
    with pytest.raises(
        RicciInputError,
        match=r"points \(state 2 \('layer2'\)\) have NaN values in 1 of 30 rows \(first bad row: 4\)",
    ):
        ricci_coefficient(states, k=3)
    with pytest.raises(ValueError, match="NaN"):
        lf.Trajectory(states)  # the Trajectory refuses at construction


def test_single_array_is_one_state() -> None:
    X = np.random.default_rng(0).normal(size=(20, 2))
    res = ricci_coefficient(X, k=3)
    assert res.eta.shape == (0,) and np.isnan(res.coefficient)


@pytest.mark.parametrize(
    ("blas", "parallel", "layers"), [(2, 10**9, 2), (2, 2, 10**9), (10**9, 10**9, 2)]
)
def test_parallel_and_blas_paths_equal_the_reference(
    blas: int, parallel: int, layers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # large N uses BLAS products, layer jobs on threads, or parallel Numba kernels; force each
    # on a small case (size thresholds lowered)
    import numba

    from layerflow.ricci import graphs

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    states = random_relu_states(160, seed=11, depth=4)
    serial = ricci_coefficient(states, k=7, geodesics="exact")
    monkeypatch.setattr(graphs, "BLAS_MIN_N", blas)
    monkeypatch.setattr(graphs, "PARALLEL_MIN_N", parallel)
    monkeypatch.setattr(graphs, "LAYER_THREADS_MIN_N", layers)
    par = ricci_coefficient(states, k=7, geodesics="exact")
    sw = ricci_sweep(states, ks=(5, 7), local=True)
    ref = ref_ricci(states, 7)
    for res in (serial, par, sw.global_[7]):
        np.testing.assert_array_equal(res.scalar_curvature, ref["ric"])
        np.testing.assert_array_equal(res.geodesic_mass, ref["g"])
        np.testing.assert_allclose(res.coefficient, ref["rho"], rtol=0, atol=1e-12)
    curv, delta = ref_local(states, 7)
    for lay in (layer_coefficients(states, k=7), sw.layer[7]):
        np.testing.assert_allclose(lay.curvature, curv, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lay.delta, delta, rtol=0, atol=1e-12)
