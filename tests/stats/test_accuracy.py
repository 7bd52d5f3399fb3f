"""The accuracy study and summary tables, against scipy and a plain loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from layerflow.stats import accuracy_study, bootstrap_pearson, grouped_statistics, pearson


def table(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for ds in ("a", "b"):
        for i in range(40):
            acc = 0.95 + 0.05 * rng.random()
            rho = -2 * (acc - 0.97) + 0.01 * rng.normal()
            rows.append({"dataset": ds, "trained": True, "status": "ok", "test_acc": acc,
                         "ricci_rho": rho, "model_kind": "mlp", "depth": 5 if i % 2 else 11,
                         "width": 25, "seed": i})
        for i in range(10):
            rows.append({"dataset": ds, "trained": False, "status": "ok", "test_acc": 0.5,
                         "ricci_rho": rng.normal(), "model_kind": "mlp", "depth": 5,
                         "width": 25, "seed": i})
    rows.append({"dataset": "a", "trained": True, "status": "diverged", "test_acc": np.nan,
                 "ricci_rho": np.nan, "model_kind": "mlp", "depth": 5, "width": 25, "seed": 99})
    return pd.DataFrame(rows)


def test_accuracy_study_matches_scipy_and_a_loop(rng: np.random.Generator) -> None:
    df = table(rng)
    study = accuracy_study(df, threshold=0.98, n_boot=500, seed=1)
    t = study.table.set_index(["scope", "trained"])
    assert list(t.index) == [("a", True), ("b", True), ("pooled", True),
                             ("a", False), ("b", False), ("pooled", False)]
    for scope in ("a", "b", "pooled"):
        sel = df[(df.trained) & (df.status == "ok")]
        if scope != "pooled":
            sel = sel[sel.dataset == scope]
        well = sel[sel.test_acc >= 0.98]
        row = t.loc[(scope, True)]
        assert row["n"] == len(sel) and row["n_well"] == len(well)
        r_ref = stats.pearsonr(well.ricci_rho, well.test_acc).statistic
        np.testing.assert_allclose(row["r"], r_ref, rtol=1e-10)
        assert row["ci_low"] <= row["r"] <= row["ci_high"]
        np.testing.assert_allclose(row["frac_negative"], np.mean(well.ricci_rho < 0))
        np.testing.assert_allclose(row["mean"], well.ricci_rho.mean())
    base = t.loc[("pooled", False)]
    un = df[~df.trained]
    assert base["n_well"] == len(un) == 20
    np.testing.assert_allclose(base["frac_negative"], np.mean(un.ricci_rho < 0))
    # seeded: the same call gives the same interval
    again = accuracy_study(df, threshold=0.98, n_boot=500, seed=1).table
    pd.testing.assert_frame_equal(again, study.table)


def test_bootstrap_interval_against_a_plain_loop(rng: np.random.Generator) -> None:
    x = rng.normal(size=30)
    y = x + rng.normal(size=30)
    lo, hi = bootstrap_pearson(x, y, n_boot=300, seed=7)
    g = np.random.default_rng(7)
    idx = g.integers(0, 30, size=(300, 30))
    rs = [stats.pearsonr(x[i], y[i]).statistic for i in idx]
    np.testing.assert_allclose([lo, hi], np.quantile(rs, [0.025, 0.975]), rtol=1e-10)
    assert np.isnan(bootstrap_pearson(x[:2], y[:2])).all()
    with pytest.raises(ValueError, match=r"level=1\.5"):
        bootstrap_pearson(x, y, level=1.5)


def test_pearson_edge_cases() -> None:
    assert np.isnan(pearson(np.array([1.0, 2.0]), np.array([1.0, 2.0])))
    assert np.isnan(pearson(np.ones(5), np.arange(5.0)))
    np.testing.assert_allclose(pearson(np.arange(5.0), -np.arange(5.0)), -1.0)
    with pytest.raises(ValueError, match="two 1-D arrays"):
        pearson(np.ones(3), np.ones(4))


def test_accuracy_study_needs_its_columns(rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="no column 'ricci_rho'"):
        accuracy_study(table(rng).drop(columns="ricci_rho"))


def test_summary_tables_match_groupby(rng: np.random.Generator) -> None:
    df = table(rng)
    s = grouped_statistics(df, by=("model_kind", "depth"), metrics=["ricci_rho", "test_acc"])
    ok = df[df.status == "ok"]
    for (kind, depth, trained), g in ok.groupby(["model_kind", "depth", "trained"]):
        row = s[(s.model_kind == kind) & (s.depth == depth) & (s.trained == trained)
                & (s.metric == "ricci_rho")].iloc[0]
        np.testing.assert_allclose(row["mean"], g.ricci_rho.mean())
        np.testing.assert_allclose(row["std"], g.ricci_rho.std())
        assert row["count"] == len(g)
    auto = grouped_statistics(df)
    assert set(auto["metric"]) == {"test_acc", "ricci_rho"}
    with pytest.raises(ValueError, match=r"cannot group by \['nope'\]"):
        grouped_statistics(df, by=("nope",))


def test_accuracy_study_counts_undefined_coefficients_instead_of_dropping_them() -> None:
    import pandas as pd

    from layerflow.stats import accuracy_study

    runs = pd.DataFrame({
        "dataset": ["a"] * 6,
        "trained": [True] * 6,
        "status": ["ok"] * 6,
        "test_acc": [0.99, 0.985, 0.99, 0.995, 0.999, 0.981],
        "ricci_rho": [-0.5, float("nan"), -0.2, float("nan"), 0.1, -0.9],
    })
    table = accuracy_study(runs, n_boot=50).table
    pooled = table[(table["scope"] == "pooled") & table["trained"]].iloc[0]
    assert pooled["n_undefined"] == 2
    assert pooled["n"] == 4
    assert pooled["frac_negative"] == 0.75
