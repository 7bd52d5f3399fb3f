"""The Ricci study from a store: the pooled coefficient from stored rows equals the library's
pooled_coefficient on the same networks; the network bootstrap equals a plain loop."""

from __future__ import annotations

import numpy as np
import pandas as pd

import layerflow as lf
from layerflow.ricci._view import measure_ricci
from layerflow.stats._ricci import _network_bootstrap, pooled_from_layers, protocol_table


def _states(seed: int, n: int = 80, scale: float = 1.5) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    out = [X]
    for _ in range(5):
        out.append(np.tanh(out[-1] @ rng.normal(size=(3, 3)) * scale))
    return out


def test_pooled_from_stored_rows_equals_pooled_coefficient() -> None:
    rows, results = [], {}
    for m in range(6):
        traj = lf.Trajectory(_states(m))
        res = measure_ricci(traj, k=8, ks=[8], protocols=["layerflow", "baptista"])
        rows += [{"run_id": f"r{m}", **row} for row in res.layers]
        results[f"r{m}"] = lf.ricci.ricci_coefficient(traj, k=8, protocol="baptista")
    layers = pd.DataFrame(rows)
    want = lf.ricci.pooled_coefficient(results)
    got = pooled_from_layers(layers, list(results), "baptista", 8, first=1)
    np.testing.assert_allclose(got.interval.mean, want.coefficient, rtol=1e-12)
    assert got.n_pairs == want.n_pairs and got.n_networks == want.n_networks
    assert set(got.excluded) == set(want.excluded)
    assert -1 <= got.interval.low <= got.interval.high <= 1


def test_network_bootstrap_equals_a_plain_loop() -> None:
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=4) * 1e5 for _ in range(7)]
    ys = [x * 0.3 + rng.normal(size=4) * 1e5 for x in xs]
    mx, my = np.concatenate(xs).mean(), np.concatenate(ys).mean()
    lo, hi = np.quantile(_network_bootstrap(xs, ys, mx, my, 300, seed=2), [0.025, 0.975])
    g = np.random.default_rng(2)
    draws = g.integers(0, 7, 300 * 7).reshape(300, 7)
    rs = [np.corrcoef(np.concatenate([xs[i] for i in d]), np.concatenate([ys[i] for i in d]))[0, 1]
          for d in draws]
    np.testing.assert_allclose([lo, hi], np.quantile(rs, [0.025, 0.975]), rtol=1e-9)


def test_protocol_table_counts_excluded_networks() -> None:
    runs, rows, coef = [], [], []
    for m in range(8):
        states = _states(m, 60, scale=0.5)
        if m == 0:  # two far-apart clusters: a disconnected kNN graph in every state
            states = [np.vstack([s[:30], s[30:] + 100.0]) for s in states]
        res = measure_ricci(lf.Trajectory(states), k=12, ks=[12], protocols=["layerflow",
                                                                               "baptista"])
        runs.append({"run_id": f"r{m}", "trained": True, "status": "ok", "test_acc": 0.99,
                     **res.scalars})
        rows += [{"run_id": f"r{m}", **row} for row in res.layers]
        coef += [{"run_id": f"r{m}", **row} for row in res.coefficients]
    tab = protocol_table(pd.DataFrame(runs), pd.DataFrame(rows), pd.DataFrame(coef))
    assert list(tab["protocol"].unique()) == ["layerflow", "baptista"]  # the primary first
    for _, r in tab.iterrows():
        assert r["n"] + r["n_excluded"] == 8 and 1 <= r["n_excluded"] < 8
        assert "components" in r["excluded_why"]
        assert 0 <= r["share_low"] <= r["share_negative"] <= r["share_high"] <= 1


def test_a_network_with_inf_minus_inf_eta_is_left_out() -> None:
    """Two consecutive disconnected layers give η = inf − inf = NaN: the network is excluded
    (R would keep it, SPEC §3 says to leave every infinite-mass network out), never shortened."""
    rows = []
    etas = {"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, np.nan, np.inf, 1.0], "c": [0.5, 1.5, 1.0, 3.0]}
    rics = {"a": [4.0, 3.0, 1.0, 0.0, 2.0], "b": [1.0, 1.0, 1.0, 1.0, 1.0],
            "c": [1.0, 2.0, 0.5, 2.5, 0.0]}
    for rid in etas:
        rows += [{"run_id": rid, "layer": i, "metric": "eta", "k": 5, "protocol": "baptista",
                  "value": v} for i, v in enumerate(etas[rid])]
        rows += [{"run_id": rid, "layer": i, "metric": "scalar_curvature", "k": 5,
                  "protocol": "baptista", "value": v} for i, v in enumerate(rics[rid])]
        # the other protocol's rows at the same k are not read
        rows += [{"run_id": rid, "layer": i, "metric": m, "k": 5, "protocol": "layerflow",
                  "value": 7.0 * i} for i in range(4) for m in ("eta", "scalar_curvature")]
    got = pooled_from_layers(pd.DataFrame(rows), ["a", "b", "c"], "baptista", 5, first=1)
    assert got.excluded == ("b",) and got.n_networks == 2 and got.n_pairs == 6
    x = np.array([2.0, 3.0, 4.0, 1.5, 1.0, 3.0])
    y = np.array([3.0, 1.0, 0.0, 2.0, 0.5, 2.5])
    np.testing.assert_allclose(got.interval.mean, np.corrcoef(x, y)[0, 1], rtol=1e-12)


def test_coefficient_table_reads_the_long_table() -> None:
    """The accessor keeps the rows of the given runs; without a coefficients table, the runs
    table's own primary coefficients (never an empty answer for a table with Ricci results)."""
    import pytest

    from layerflow._errors import ConfigError
    from layerflow.stats._ricci import coefficient_table

    runs = pd.DataFrame({"run_id": ["a", "b"], "ricci_rho": [0.5, np.nan], "k": [5, 5],
                         "ricci_protocol": ["baptista"] * 2, "ricci_connected": [True, False],
                         "status": ["ok", "ok"]})
    coef = pd.DataFrame({"run_id": ["c", "b", "a"], "protocol": ["layerflow"] * 3,
                         "k": [5, 5, 5], "rho": [0.1, np.nan, 0.5], "first_pair": [0, 0, 0],
                         "reason": ["", "disconnected", ""]})
    got = coefficient_table(runs, coef)
    assert list(got["run_id"]) == ["a", "b"] and list(got["reason"]) == ["", "disconnected"]
    own = coefficient_table(runs)
    assert own[["run_id", "protocol", "k", "first_pair", "reason"]].to_dict("list") == {
        "run_id": ["a", "b"], "protocol": ["baptista"] * 2, "k": [5, 5], "first_pair": [1, 1],
        "reason": ["", "disconnected"]}
    assert own["rho"].iloc[0] == 0.5 and np.isnan(own["rho"].iloc[1])
    with pytest.raises(ConfigError, match=r"lacks columns \['reason'\]"):
        coefficient_table(runs, coef.drop(columns="reason"))
    assert coefficient_table(runs.drop(columns="ricci_rho")).empty  # no Ricci results
