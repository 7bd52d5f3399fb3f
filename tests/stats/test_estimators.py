"""The claims' estimators against independent implementations (scipy's tests, closed forms,
brute force)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from layerflow._errors import ConfigError
from layerflow.stats.claims._estimators import (
    ESTIMATORS,
    cluster_share,
    cluster_t,
    cluster_z_t,
    estimator,
    holm,
    meta_fisher_z,
    tost_p,
    welch_strata,
)


def _obs(groups: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"unit": u, "value": v} for u, vs in groups.items() for v in vs])


def test_cluster_t_is_the_one_sample_t_of_the_unit_means() -> None:
    groups = {"a": [1.0, 2.0, 3.0], "b": [0.5], "c": [2.0, 2.5], "d": [4.0, 0.0, 1.0, 1.0]}
    means = np.array([np.mean(v) for v in groups.values()])
    e = cluster_t(_obs(groups), 0.0, 0.1)
    t = stats.ttest_1samp(means, 0.0)
    ci = t.confidence_interval(0.95)
    assert e.n_units == 4 and e.df == 3
    np.testing.assert_allclose([e.estimate, e.low, e.high, e.p_t], [means.mean(), ci.low,
                                                                   ci.high, t.pvalue], rtol=1e-12)
    # the row's p: the larger of the t-test's and the sign-flip test's (4 units of one sign)
    assert e.p_signflip == 2 / 16 and e.p == max(e.p_t, e.p_signflip)
    # one network more in a unit changes its mean, not the number of units
    assert cluster_t(_obs({**groups, "a": [1.0, 2.0, 3.0, 2.0]}), 0, 0.1).n_units == 4


def test_cluster_t_with_one_unit_or_no_spread_says_why() -> None:
    e = cluster_t(_obs({"a": [1.0, 2.0]}), 0.0, 0.1)
    assert e.estimate == 1.5 and math.isnan(e.low) and "at least 2" in e.reason
    # units that agree exactly: the standard error is floored, so the t-test rejects and the
    # sign-flip test (2 / 2^m) decides
    e = cluster_t(_obs({"a": [1.0], "b": [1.0]}), 0.0, 0.1)
    assert e.p_t < 1e-6 and e.p == e.p_signflip == 0.5 and not e.reason
    np.testing.assert_allclose([e.low, e.high], [1.0, 1.0], atol=1e-6)
    e = cluster_t(_obs({f"u{i}": [1.0] for i in range(6)}), 0.0, 0.1)
    assert e.p == 2 / 64
    e = cluster_t(_obs({f"u{i}": [0.0] for i in range(6)}), 0.0, 0.1)
    assert e.p == 1.0 and e.p_equivalence < 1e-6


def test_tost_is_the_larger_of_two_one_sided_t_tests() -> None:
    x = np.array([0.01, -0.02, 0.015, 0.0, 0.005])
    e = cluster_t(_obs({f"u{i}": [v] for i, v in enumerate(x)}), 0.0, 0.05)
    lo = stats.ttest_1samp(x, -0.05, alternative="greater").pvalue
    hi = stats.ttest_1samp(x, 0.05, alternative="less").pvalue
    np.testing.assert_allclose(e.p_equivalence, max(lo, hi), rtol=1e-10)
    assert math.isnan(tost_p(0.0, 0.0, 3, 0.0, 0.1))


def test_cluster_z_t_averages_fisher_z() -> None:
    r = np.array([-0.5, -0.3, -0.7])
    e = cluster_z_t(_obs({f"c{i}": [v] for i, v in enumerate(r)}), 0.0, 0.1)
    t = stats.ttest_1samp(np.arctanh(r), 0.0)
    ci = t.confidence_interval(0.95)
    np.testing.assert_allclose([e.estimate, e.low, e.high, e.p_t],
                               [np.tanh(np.arctanh(r).mean()), np.tanh(ci.low), np.tanh(ci.high),
                                t.pvalue], rtol=1e-10)
    assert e.p_signflip == 2 / 8 and e.p == e.p_signflip


def _score_roots(p_hat: float, n_eff: float, q: float) -> tuple[float, float]:
    """The shares mu whose score statistic (p_hat - mu) / sqrt(mu (1 - mu) / n_eff) is ±q, by
    root finding (an implementation independent of the closed form)."""
    from scipy.optimize import brentq

    def f(mu: float) -> float:
        return (p_hat - mu) ** 2 - q * q * mu * (1 - mu) / n_eff

    lo = 0.0 if p_hat <= 0 else brentq(f, 1e-12, p_hat - 1e-9 * p_hat, xtol=1e-14)
    hi = 1.0 if p_hat >= 1 else brentq(f, p_hat + 1e-9 * (1 - p_hat), 1 - 1e-12, xtol=1e-14)
    return lo, hi


def test_cluster_share_units_all_at_one() -> None:
    # every unit at 100 % (4 × 5 networks): no spread, so the variance is the binomial floor
    # (each cell's Agresti–Coull share 7/9 over 5 + 4) and the effective n is read at the
    # Agresti–Coull share of all 20 networks, 22/24, between 4 units and 20 networks
    e = cluster_share(_obs({f"c{i}": [1.0] * 5 for i in range(4)}), 0.5, 0.1)
    q = stats.t.ppf(0.975, 3)
    floor = 4 * (7 / 9) * (2 / 9) / 9 / 16
    n_eff = min(max((22 / 24) * (2 / 24) / floor, 4.0), 20.0)
    np.testing.assert_allclose([e.estimate, e.low, e.high],
                               [1.0, _score_roots(1.0, n_eff, q)[0], 1.0])
    assert e.low > 4 / (4 + q * q)  # stronger than reading the 4 units alone
    assert math.isclose(e.p_t, 2 * stats.t.sf(0.5 / math.sqrt(0.25 / n_eff), 3))
    assert e.p_signflip == 2 / 16 and e.p == max(e.p_t, e.p_signflip)


def test_cluster_share_all_agreeing_is_no_weaker_than_all_but_one() -> None:
    def share(n_neg: int):  # type: ignore[no-untyped-def]
        flat = [1.0 if i < n_neg else 0.0 for i in range(60)]
        return cluster_share(_obs({f"c{c}": flat[10 * c:10 * c + 10] for c in range(6)}),
                             0.5, 0.1)

    every, one_less = share(60), share(59)
    assert every.low >= one_less.low and every.p_t <= one_less.p_t


def test_cluster_share_is_the_score_interval_at_the_effective_n() -> None:
    shares = {"a": [1, 1, 1, 0], "b": [0, 0, 0, 0, 1], "c": [1, 1, 1, 1, 1, 1]}
    s = np.array([np.mean(v) for v in shares.values()])
    n = np.array([len(v) for v in shares.values()], dtype=float)
    e = cluster_share(_obs({k: [float(x) for x in v] for k, v in shares.items()}), 0.5, 0.1)
    pt = (s * n + 2) / (n + 4)
    var = max(s.var(ddof=1) / 3, np.sum(pt * (1 - pt) / (n + 4)) / 9)
    n_eff = min(max(s.mean() * (1 - s.mean()) / var, 3.0), n.sum())
    q = stats.t.ppf(0.975, 2)
    np.testing.assert_allclose([e.estimate, e.low, e.high],
                               [s.mean(), *_score_roots(s.mean(), n_eff, q)], rtol=1e-9)
    assert e.df == 2 and e.n_units == 3
    z = (s.mean() - 0.5) / math.sqrt(0.25 / n_eff)
    assert math.isclose(e.p_t, 2 * stats.t.sf(abs(z), 2))


def test_cluster_share_equivalence_is_two_one_sided_score_tests() -> None:
    # 8 units of 40 networks with shares near 0.5: a narrow interval, equivalent within ±0.1
    k = [19, 21, 20, 20, 18, 22, 20, 21]
    e = cluster_share(_obs({f"c{i}": [1.0] * x + [0.0] * (40 - x) for i, x in enumerate(k)}),
                      0.5, 0.1)
    s = np.array(k) / 40
    pt = (s * 40 + 2) / 44
    var = max(s.var(ddof=1) / 8, np.sum(pt * (1 - pt) / 44) / 64)
    n_eff = min(max(s.mean() * (1 - s.mean()) / var, 8.0), 320.0)
    p_low = stats.t.sf((s.mean() - 0.4) / math.sqrt(0.4 * 0.6 / n_eff), 7)
    p_high = stats.t.cdf((s.mean() - 0.6) / math.sqrt(0.6 * 0.4 / n_eff), 7)
    assert math.isclose(e.p_equivalence, max(p_low, p_high), rel_tol=1e-9)
    assert e.p_equivalence < 0.05
    # a bound beyond [0, 1] cannot be crossed: only the other one-sided test counts
    e = cluster_share(_obs({f"c{i}": [1.0] * 39 + [0.0] for i in range(8)}), 0.95, 0.1)
    pt = 41 / 44
    n_eff = 0.975 * 0.025 / (8 * pt * (1 - pt) / 44 / 64)
    assert 8 < n_eff < 320
    assert math.isclose(e.p_equivalence, stats.t.sf((0.975 - 0.85) / math.sqrt(
        0.85 * 0.15 / n_eff), 7), rel_tol=1e-9)


def _meta_obs(rs: list[float], n: int, seed: int = 0) -> pd.DataFrame:
    """Cells whose sample correlation is exactly r (x, y built from orthonormal columns)."""
    rng = np.random.default_rng(seed)
    rows = []
    for c, r in enumerate(rs):
        q, _ = np.linalg.qr(rng.normal(size=(n, 3)))
        a, b = q[:, 1], q[:, 2]
        a, b = a - a.mean(), b - b.mean()
        b = b - a * (a @ b) / (a @ a)
        a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
        y = r * a + math.sqrt(1 - r * r) * b
        rows += [{"unit": f"c{c}", "x": xi + 10 * c, "y": yi - 5 * c}
                 for xi, yi in zip(a, y, strict=True)]
    return pd.DataFrame(rows)


def test_meta_fisher_z_against_the_dersimonian_laird_formulas() -> None:
    rs, n = [-0.6, -0.2, -0.5, 0.1], [12, 20, 8, 15]
    obs = pd.concat([_meta_obs([r], k, seed=i).assign(unit=f"c{i}")
                     for i, (r, k) in enumerate(zip(rs, n, strict=True))])
    e = meta_fisher_z(obs, 0.0, 0.1)
    z, v = np.arctanh(rs), 1.0 / (np.array(n) - 3)
    w = 1 / v
    q = float(np.sum(w * (z - np.sum(w * z) / w.sum()) ** 2))
    tau2 = max(0.0, (q - 3) / (w.sum() - (w**2).sum() / w.sum()))
    wr = 1 / (v + tau2)
    mu = float(np.sum(wr * z) / wr.sum())
    se = math.sqrt(max(1.0, float(np.sum(wr * (z - mu) ** 2)) / 3) / wr.sum())
    half = stats.t.ppf(0.975, 3) * se
    np.testing.assert_allclose([e.estimate, e.low, e.high],
                               np.tanh([mu, mu - half, mu + half]), rtol=1e-9)
    np.testing.assert_allclose([e.heterogeneity["tau2"], e.heterogeneity["Q"],
                                e.heterogeneity["I2"]], [tau2, q, max(0, (q - 3) / q)],
                               rtol=1e-9)
    assert [c.n for c in e.cells] == n and e.n_units == 4


def test_meta_fisher_z_ignores_the_cells_means() -> None:
    """Equal within-cell r: τ² = 0 and the estimate is r, however the cells' means lie."""
    obs = _meta_obs([-0.4] * 5, 10)
    e = meta_fisher_z(obs, 0.0, 0.1)
    assert e.heterogeneity["tau2"] == 0.0
    np.testing.assert_allclose(e.estimate, -0.4, rtol=1e-9)
    few = obs[obs["unit"] == "c0"]
    assert "at least 2" in meta_fisher_z(few, 0.0, 0.1).reason


def test_welch_strata_with_one_cell_is_welchs_statistic_on_hsus_df() -> None:
    a, b = np.array([1.0, 1.4, 0.7, 1.9]), np.array([0.1, 0.2, -0.1])
    obs = pd.DataFrame({"unit": "c", "group": ["a"] * 4 + ["b"] * 3,
                        "value": np.concatenate([a, b])})
    e = welch_strata(obs, 0.0, 0.05)
    t = stats.ttest_ind(a, b, equal_var=False)  # Welch's statistic, Satterthwaite's df
    se = (a.mean() - b.mean()) / t.statistic
    hsu = 2  # min(4, 3) − 1
    q = stats.t.ppf(0.975, hsu)
    np.testing.assert_allclose([e.estimate, e.low, e.high, e.p, e.df],
                               [a.mean() - b.mean(), a.mean() - b.mean() - q * se,
                                a.mean() - b.mean() + q * se,
                                2 * stats.t.sf(abs(t.statistic), hsu), hsu], rtol=1e-9)
    assert e.p > t.pvalue  # more conservative than Satterthwaite's
    assert e.n_units == 7
    assert "no cell" in welch_strata(obs[obs["group"] == "a"], 0.0, 0.1).reason


def test_holm_against_brute_force() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = list(rng.random(5) ** 3)
        order = np.argsort(p)
        want = np.empty(5)
        for rank, i in enumerate(order):
            want[i] = min(1.0, max(min(1.0, (5 - j) * p[order[j]]) for j in range(rank + 1)))
        np.testing.assert_allclose(holm(p), want)
    assert math.isnan(holm([0.01, math.nan])[1]) and holm([0.01, math.nan])[0] == 0.01


def test_unknown_estimator_is_refused() -> None:
    with pytest.raises(ConfigError, match="estimator='nope'"):
        estimator("nope")
    assert set(ESTIMATORS) >= {"cluster_t", "meta_fisher_z", "welch_strata", "cluster_share"}


def test_cluster_bootstrap_runs_and_says_why_without_units() -> None:
    obs = _obs({f"c{i}": list(np.arange(3.0) + i) for i in range(4)})
    e = ESTIMATORS["cluster_bootstrap"](obs, 0.0, 0.1)
    assert e.low <= e.estimate <= e.high and e.n_units == 4
    assert "at least 2" in ESTIMATORS["cluster_bootstrap"](_obs({"a": [1.0]}), 0, 0.1).reason


@pytest.mark.parametrize("name", ["cluster_t", "cluster_share", "cluster_z_t"])
def test_estimators_keep_a_value_per_unit_for_the_forest_plot(name: str) -> None:
    vals = {"a": [0.2, 0.4], "b": [0.6, 0.1], "c": [0.3]}
    if name == "cluster_share":
        vals = {k: [float(x > 0.25) for x in v] for k, v in vals.items()}
    e = ESTIMATORS[name](_obs(vals), 0.0 if name != "cluster_share" else 0.5, 0.1)
    assert [c.label for c in e.cells] == ["a", "b", "c"]
    assert all(isinstance(c.n, int) for c in e.cells)

