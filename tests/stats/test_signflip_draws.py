"""The sign-flip test and data draws as units, against brute force and hand computation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from layerflow.stats.claims._estimators import (
    cluster_share,
    cluster_t,
    cluster_z_t,
    meta_fisher_z,
    sign_flip_p,
)


def _brute(d: np.ndarray, w: np.ndarray | None = None) -> float:
    w = np.ones(d.size) if w is None else w
    obs = abs(float(np.sum(w * d)))
    hits = [abs(float(np.sum(np.array(s) * w * d))) >= obs - 1e-12
            for s in itertools.product((-1.0, 1.0), repeat=d.size)]
    return float(np.mean(hits))


def test_sign_flip_is_exact_over_all_flips() -> None:
    rng = np.random.default_rng(0)
    for m in (2, 5, 7):
        d = rng.normal(size=m) + 0.3
        w = rng.random(m) + 0.5
        assert math.isclose(sign_flip_p(d), _brute(d))
        assert math.isclose(sign_flip_p(d, w), _brute(d, w))
    # five units all on one side: the smallest p of 5 units, 2 / 32, cannot reach 0.05
    assert sign_flip_p(np.array([1.0, 2.0, 3.0, 4.0, 5.0])) == 0.0625
    assert sign_flip_p(np.arange(1.0, 7.0)) == 2 / 64
    assert math.isnan(sign_flip_p(np.array([])))


def test_sign_flip_beyond_16_units_is_a_seeded_monte_carlo() -> None:
    d = np.arange(1.0, 21.0)  # 20 units of one sign: the exact p is 2 / 2^20
    p = sign_flip_p(d)
    assert p == sign_flip_p(d) and 1 / 20_001 <= p < 3 / 20_001
    d = np.random.default_rng(1).normal(size=20)
    assert 0.0 < sign_flip_p(d) <= 1.0


def _draw_obs(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"unit": c, "draw": d, "value": v}
                         for (d, c), vs in values.items() for v in vs])


def test_cells_of_one_draw_are_averaged_before_the_test() -> None:
    vals = {("A", "a1"): [1.0, 2.0], ("A", "a2"): [3.0], ("B", "b1"): [0.5, 0.7],
            ("C", "c1"): [2.0], ("C", "c2"): [4.0, 2.0], ("C", "c3"): [-1.0]}
    e = cluster_t(_draw_obs(vals), 0.0, 0.1)
    draws = np.array([(1.5 + 3.0) / 2, 0.6, (2.0 + 3.0 - 1.0) / 3])
    t = stats.ttest_1samp(draws, 0.0)
    ci = t.confidence_interval(0.95)
    assert e.n_units == 3 and e.n_cells == 6 and e.df == 2 and len(e.cells) == 6
    np.testing.assert_allclose([e.estimate, e.low, e.high, e.p_t],
                               [draws.mean(), ci.low, ci.high, t.pvalue], rtol=1e-12)
    assert e.p_signflip == 2 / 8 and e.p == max(e.p_t, e.p_signflip)
    # shares: a draw's share is the mean of its cells' shares
    s = cluster_share(_draw_obs({k: [float(v > 1) for v in vs] for k, vs in vals.items()}),
                      0.5, 0.1)
    assert s.n_units == 3 and math.isclose(s.estimate, np.mean([0.75, 0.0, 2 / 3]))
    # correlations: Fisher z of the cells averaged within a draw
    r = _draw_obs({("A", "a1"): [0.5], ("A", "a2"): [0.1], ("B", "b1"): [0.3],
                   ("C", "c1"): [-0.2]})
    z = cluster_z_t(r, 0.0, 0.1)
    zd = np.array([(math.atanh(0.5) + math.atanh(0.1)) / 2, math.atanh(0.3), math.atanh(-0.2)])
    assert z.n_units == 3 and math.isclose(z.estimate, math.tanh(zd.mean()))


def test_meta_analysis_over_draws_weights_cell_z_by_n_minus_3() -> None:
    rng = np.random.default_rng(3)
    rows, cell_z = [], {}
    for d, cells in {"A": [(8, 0.5), (12, 0.2)], "B": [(10, 0.4)], "C": [(6, -0.1), (9, 0.3)]
                     }.items():
        for j, (n, r) in enumerate(cells):
            x = rng.normal(size=n)
            y = r * x + rng.normal(size=n)
            rows += [{"unit": f"{d}{j}", "draw": d, "x": a, "y": b} for a, b in zip(x, y,
                                                                                 strict=True)]
            cell_z[(d, j)] = (math.atanh(float(np.corrcoef(x, y)[0, 1])), n - 3)
    e = meta_fisher_z(pd.DataFrame(rows), 0.0, 0.1)
    assert e.n_units == 3 and e.n_cells == 5 and e.df == 2 and len(e.cells) == 5
    # by hand: per draw the (n − 3)-weighted z, variance 1 / Σ(n − 3); DerSimonian–Laird and
    # Hartung–Knapp over the 3 draws
    zs, vs = [], []
    for d in "ABC":
        zw = [(z, w) for (dd, _), (z, w) in cell_z.items() if dd == d]
        sw = sum(w for _, w in zw)
        zs.append(sum(z * w for z, w in zw) / sw)
        vs.append(1 / sw)
    z_arr, v = np.array(zs), np.array(vs)
    w = 1 / v
    mu_f = np.sum(w * z_arr) / w.sum()
    q = np.sum(w * (z_arr - mu_f) ** 2)
    tau2 = max(0.0, (q - 2) / (w.sum() - np.sum(w**2) / w.sum()))
    wr = 1 / (v + tau2)
    mu = np.sum(wr * z_arr) / wr.sum()
    se = math.sqrt(max(np.sum(wr * (z_arr - mu) ** 2) / 2, 1.0) / wr.sum())
    np.testing.assert_allclose([e.estimate, e.p_t],
                               [math.tanh(mu), 2 * stats.t.sf(abs(mu) / se, 2)], rtol=1e-10)
    assert math.isclose(e.p_signflip, _brute(z_arr, wr))
