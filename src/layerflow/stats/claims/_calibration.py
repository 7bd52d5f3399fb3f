"""Calibration of the claims' estimators by simulation with a known truth.

One simulated design per way the claims use an estimator (:data:`DESIGNS`): networks clustered
in (data set, shape) cells, paired arms over shared data draws, within-cell correlations
combined by meta-analysis (with a strong association between the cells' means that the
estimand excludes), shares of clustered networks, per-cell pooled correlations, two groups
of independent networks, Spearman ρ(γ, LSS) per draw over three weight decays with ties (the
truth: tanh of the expected Fisher z of a cell's ρ, by Monte Carlo), trained − untrained
differences of shares and of Fisher z within cells, and Welch over three shapes of unequal
sizes and variances. Each design is simulated at the smallest number of units a claim
using it may be judged on (its ``min_units``), where an interval is least likely to cover.

:func:`calibrate` reports, per design: the coverage of the 95 % interval of the truth (under an
effect), and the share of simulations under the null whose verdict is ``supported`` or
``contradicted`` (a false verdict; a single row, so no Holm adjustment helps it; the estimator's p is the larger
of the t-test's and the sign-flip test's, as the claims use it), and the share of simulations
whose truth lies at the edge of the smallest effect of interest (null + SESOI) read as ``no
effect`` (a false "no effect"). :data:`HARSH` adds the designs where a t-test on few units is
least trustworthy: two-point cell effects, near-deterministic shares, cells sharing a data draw
(through the estimators' draw-level units), a meta-analysis of two-point cell correlations
with 4 networks per cell, and differences of near-deterministic shares.
:mod:`layerflow.stats.claims._calibration_stores` runs whole simulated stores through the
claims pipeline. The targets: coverage ≥ 93 %, false verdicts and false "no effect"
≤ 5 %.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layerflow.stats.claims._estimators import ESTIMATORS, Estimate
from layerflow.stats.claims._registry import MIN_UNITS


@dataclass(frozen=True)
class Design:
    """A simulated design: ``simulate(rng, effect) -> (observations, truth)``; the estimator it
    calibrates; the effect used for coverage; the null value; the units per simulation."""

    name: str
    estimator: str
    simulate: Callable[[np.random.Generator, float], tuple[pd.DataFrame, float]]
    effect: float
    null: float
    sesoi: float
    units: int
    #: the truth at the edge of the smallest effect of interest (for the false "no effect"
    #: rate); ``null + sesoi`` when not given
    edge: float | None = None


def _clustered(rng: np.random.Generator, effect: float, m: int = MIN_UNITS, tau: float = 0.6,
               sigma: float = 1.0) -> tuple[pd.DataFrame, float]:
    """m cells with a cell effect N(effect, τ²) shared by its 2–8 networks (noise σ)."""
    rows = []
    for c in range(m):
        mu = effect + tau * rng.normal()
        n = int(rng.integers(2, 9))
        rows += [{"unit": f"c{c}", "value": mu + sigma * rng.normal()} for _ in range(n)]
    return pd.DataFrame(rows), effect


def _paired_draws(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
                  seeds: int = 5) -> tuple[pd.DataFrame, float]:
    """m data draws (over tasks and fractions): the draw moves both arms and the gain by a
    shared amount (sd 0.02); each seed's paired difference adds noise (sd 0.01)."""
    rows = []
    for d in range(m):
        gain = effect + 0.02 * rng.normal()
        rows += [{"unit": f"d{d}", "value": gain + 0.01 * rng.normal()} for _ in range(seeds)]
    return pd.DataFrame(rows), effect


def _meta(rng: np.random.Generator, effect: float, k: int = MIN_UNITS,
          tau: float = 0.15) -> tuple[pd.DataFrame, float]:
    """k cells of 5–20 networks; within cell c, (ρ, accuracy) bivariate normal with correlation
    tanh(atanh(effect) + τ·N(0, 1)); the cells' means of ρ and accuracy move together
    strongly (between-cell r near 1), which the within-cell estimand must ignore."""
    rows = []
    zmu = math.atanh(effect)
    for c in range(k):
        r = math.tanh(zmu + tau * rng.normal())
        n = int(rng.integers(5, 21))
        shift = 3.0 * rng.normal()
        x = rng.normal(size=n)
        y = r * x + math.sqrt(1 - r * r) * rng.normal(size=n)
        rows += [{"unit": f"c{c}", "x": xi + shift, "y": yi + shift}
                 for xi, yi in zip(x, y, strict=True)]
    return pd.DataFrame(rows), effect


def _shares(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
            concentration: float = 4.0) -> tuple[pd.DataFrame, float]:
    """m cells with share p_c ~ Beta(mean ``effect``, concentration 4: strong clustering) and
    2–10 networks each, each network's indicator Bernoulli(p_c); truth: the mean of p_c."""
    a, b = effect * concentration, (1 - effect) * concentration
    rows = []
    for c in range(m):
        p = rng.beta(a, b)
        n = int(rng.integers(2, 11))
        rows += [{"unit": f"c{c}", "value": float(v)} for v in rng.random(n) < p]
    return pd.DataFrame(rows), effect


def _pooled(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
            tau: float = 0.2) -> tuple[pd.DataFrame, float]:
    """m cells, each with one pooled correlation over 4–12 networks × 4–10 layer pairs; a
    network shifts its η and Ric by independent offsets (sd 0.5), so its pairs are correlated
    with each other and the pooled r of a cell with within-pair correlation r_c tends to
    r_c / 1.25; r_c = tanh(atanh(1.25·effect) + τ·N(0, 1)). Truth: tanh of the mean over cells
    of atanh(r_c / 1.25) (by a seeded Monte Carlo of the cell distribution)."""
    from layerflow.stats._correlation import pearson

    rows = []
    zmu = math.atanh(1.25 * effect)
    for c in range(m):
        r = math.tanh(zmu + tau * rng.normal())
        xs, ys = [], []
        for _ in range(int(rng.integers(4, 13))):
            layers = int(rng.integers(4, 11))
            x = rng.normal(size=layers)
            y = r * x + math.sqrt(1 - r * r) * rng.normal(size=layers)
            xs.append(x + 0.5 * rng.normal())
            ys.append(y + 0.5 * rng.normal())
        rows.append({"unit": f"c{c}", "value": pearson(np.concatenate(xs), np.concatenate(ys))})
    return pd.DataFrame(rows), _pooled_truth(effect, tau)


def _pooled_truth(effect: float, tau: float) -> float:
    z = np.random.default_rng(12345).normal(size=200_000)
    rc = np.tanh(math.atanh(1.25 * effect) + tau * z)
    return float(np.tanh(np.mean(np.arctanh(rc / 1.25))))


def _two_groups(rng: np.random.Generator, effect: float, n_a: int = 3,
                n_b: int = 3) -> tuple[pd.DataFrame, float]:
    """One cell: 3 trained (sd 1) vs 3 untrained (sd 0.3) independent networks."""
    a = effect + rng.normal(size=n_a)
    b = 0.3 * rng.normal(size=n_b)
    rows = [{"unit": "c0", "group": "a", "value": v} for v in a]
    rows += [{"unit": "c0", "group": "b", "value": v} for v in b]
    return pd.DataFrame(rows), effect


def _frame(units: list[str], values: np.ndarray, draws: list[str] | None = None,
           **cols: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame({"unit": units, "value": values, **cols})
    if draws is not None:
        out["draw"] = draws
    return out


def _bimodal(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
             spread: float = 0.5, noise: float = 0.1) -> tuple[pd.DataFrame, float]:
    """m cells whose effects are ``effect ± spread`` at random (true mean ``effect``), 5
    networks each (noise sd 0.1): a heavy-tailed, two-point distribution of cell effects."""
    mu = effect + spread * rng.choice(np.array([-1.0, 1.0]), size=m)
    units = [f"c{c}" for c in range(m) for _ in range(5)]
    return _frame(units, np.repeat(mu, 5) + noise * rng.normal(size=5 * m)), effect


def _shared_draws(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
                  shapes: int = 5, sd_draw: float = 1.0,
                  sd_cell: float = 0.3) -> tuple[pd.DataFrame, float]:
    """m data sets, each one data draw shared by its ``shapes`` cells: a draw effect N(0, 1)
    shared by its cells, a cell effect N(0, 0.3²), 2–5 networks per cell (noise sd 0.3); the
    cells tagged with their draw, so the estimator's units are the m draws."""
    units, draws, vals = [], [], []
    for d in range(m):
        dmu = effect + sd_draw * rng.normal()
        for s in range(shapes):
            cmu = dmu + sd_cell * rng.normal()
            n = int(rng.integers(2, 6))
            units += [f"d{d}s{s}"] * n
            draws += [f"d{d}"] * n
            vals.append(cmu + 0.3 * rng.normal(size=n))
    return _frame(units, np.concatenate(vals), draws), effect


def _meta_bimodal(rng: np.random.Generator, effect: float, k: int = MIN_UNITS,
                  r: float = 0.6, n: int = 4) -> tuple[pd.DataFrame, float]:
    """k cells of n = 4 networks; the within-cell correlation is tanh(atanh(effect) ±
    atanh(0.6)) at random (r = ±0.6 under the null): a two-point spread of cell effects with
    the fewest networks a cell's r may have. Truth: tanh of the mean z, i.e. ``effect``."""
    zc = math.atanh(effect) + math.atanh(r) * rng.choice(np.array([-1.0, 1.0]), size=k)
    rc = np.tanh(zc)
    x = rng.normal(size=(k, n))
    y = rc[:, None] * x + np.sqrt(1 - rc[:, None] ** 2) * rng.normal(size=(k, n))
    units = [f"c{c}" for c in range(k) for _ in range(n)]
    return pd.DataFrame({"unit": units, "x": x.ravel(), "y": y.ravel()}), effect


def _shares_conc(concentration: float) -> Callable[[np.random.Generator, float],
                                                   tuple[pd.DataFrame, float]]:
    def sim(rng: np.random.Generator, effect: float) -> tuple[pd.DataFrame, float]:
        return _shares(rng, effect, MIN_UNITS, concentration)
    return sim


#: the weight decays of a Spearman cell (three levels, three seeds each: ties in γ)
_WD_LEVELS, _WD_SEEDS, _WD_TAU = 3, 3, 0.3


def spearman_lss(rng: np.random.Generator, slope: float, k: int) -> np.ndarray:
    """k cells' LSS over 3 weight decays × 3 seeds (columns: level 0, 0, 0, 1, 1, 1, 2, 2, 2):
    LSS = b_c·level + N(0, 1), rounded to 0.5 (ties in the values as well as in γ), with
    b_c = ``slope`` + 0.3·N(0, 1)."""
    level = np.repeat(np.arange(_WD_LEVELS, dtype=np.float64), _WD_SEEDS)
    b = slope + _WD_TAU * rng.normal(size=(k, 1))
    return np.round(2.0 * (b * level + rng.normal(size=(k, level.size)))) / 2.0


def _spearman_cells(rng: np.random.Generator, slope: float, k: int) -> np.ndarray:
    """k cells' Spearman ρ(γ, LSS) of :func:`spearman_lss`, ranks with ties averaged, as the
    claim's builder ranks them (NaN for a cell whose LSS are all tied)."""
    from scipy.stats import rankdata

    level = np.repeat(np.arange(_WD_LEVELS, dtype=np.float64), _WD_SEEDS)
    lss = spearman_lss(rng, slope, k)
    rx = rankdata(level) - rankdata(level).mean()
    ry = rankdata(lss, axis=1)
    ry = ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(rx**2) * np.sum(ry**2, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, ry @ rx / np.where(den > 0, den, 1.0), np.nan)


@functools.lru_cache(maxsize=64)
def spearman_truth(slope: float) -> float:
    """The estimand at slope ``slope``: tanh of the expected Fisher z of one cell's Spearman ρ
    (0 at slope 0, by symmetry; else a seeded Monte Carlo of 50,000 cells; cells with no
    ranks' spread are left out, as the builder leaves them out)."""
    if slope == 0.0:
        return 0.0
    r = _spearman_cells(np.random.default_rng(2024), slope, 50_000)
    r = r[np.isfinite(r)]
    return float(np.tanh(np.mean(np.arctanh(np.clip(r, -0.999999, 0.999999)))))


@functools.lru_cache(maxsize=64)
def spearman_slope(target: float) -> float:
    """The slope whose estimand is ``target`` (bisection; the truth rises with the slope)."""
    if target == 0.0:
        return 0.0
    lo, hi = (-4.0, 0.0) if target < 0 else (0.0, 4.0)
    for _ in range(24):
        mid = 0.5 * (lo + hi)
        if spearman_truth(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _spearman(rng: np.random.Generator, effect: float, m: int = MIN_UNITS
              ) -> tuple[pd.DataFrame, float]:
    """m data draws of one cell each: its Spearman ρ(γ, LSS) over 3 weight decays × 3 seeds
    with ties (:func:`spearman_lss`), the cells' slopes spread (sd 0.3) about the slope
    whose estimand, tanh of the mean Fisher z of a cell's ρ, is ``effect``."""
    slope = spearman_slope(round(effect, 12))
    r = _spearman_cells(rng, slope, m)
    r = r[np.isfinite(r)]
    return _frame([f"c{c}" for c in range(r.size)], r), spearman_truth(slope)


def _share_difference(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
                      concentration: float = 2.0, base: float = 0.4
                      ) -> tuple[pd.DataFrame, float]:
    """m cells: untrained networks' share p_u ~ Beta(mean 0.4, ``concentration``), trained
    p_t = p_u + effect·(1 − p_u) / 0.6 (so the mean difference is ``effect``, p_t ≤ 1 for
    effect ≤ 0.6); 2–8 networks of each group per cell; a cell's value the difference of its
    two groups' shares of 1s (as the trained − untrained share of ρ < 0 is taken)."""
    pu = rng.beta(base * concentration, (1 - base) * concentration, size=m)
    pt = pu + effect * (1 - pu) / (1 - base)
    nt, nu = rng.integers(2, 9, size=m), rng.integers(2, 9, size=m)
    d = rng.binomial(nt, pt) / nt - rng.binomial(nu, pu) / nu
    return _frame([f"c{c}" for c in range(m)], d), effect


def _share_difference_conc(concentration: float) -> Callable[[np.random.Generator, float],
                                                             tuple[pd.DataFrame, float]]:
    def sim(rng: np.random.Generator, effect: float) -> tuple[pd.DataFrame, float]:
        return _share_difference(rng, effect, MIN_UNITS, concentration)
    return sim


#: the Welch strata design: (trained, untrained) networks and their noise sd per stratum
_STRATA = ((2, 2, 1.0, 0.3), (3, 5, 0.3, 1.0), (4, 3, 1.0, 0.2))


def _welch_strata(rng: np.random.Generator, effect: float) -> tuple[pd.DataFrame, float]:
    """Three shapes with unequal sizes and variances (2 vs 2, 3 vs 5, 4 vs 3 networks; noise
    sd 1 vs 0.3, 0.3 vs 1, 1 vs 0.2), the trained − untrained difference ``effect`` − 0.5,
    ``effect``, ``effect`` + 0.5 in them (mean ``effect``)."""
    rows = []
    for s, (na, nb, sa, sb) in enumerate(_STRATA):
        a = effect + 0.5 * (s - 1) + sa * rng.normal(size=na)
        b = sb * rng.normal(size=nb)
        rows += [{"unit": f"s{s}", "group": "a", "value": v} for v in a]
        rows += [{"unit": f"s{s}", "group": "b", "value": v} for v in b]
    return pd.DataFrame(rows), effect


def _z_difference(rng: np.random.Generator, effect: float, m: int = MIN_UNITS,
                  tau: float = 0.2) -> tuple[pd.DataFrame, float]:
    """m cells, each with a trained and an untrained correlation over 20–60 (η, Ric) pairs:
    the untrained cell's correlation tanh(0.2·N(0, 1)), the trained one's z shifted by
    atanh(``effect``) + 0.2·N(0, 1); a cell's value tanh(z_trained − z_untrained), as the
    trained − untrained pooled coefficient is taken. Truth: ``effect`` (tanh of the mean
    shift; Fisher z's small-sample bias, r / 2(n − 1), is ignored: under 0.005 here)."""
    rows = []
    shift = math.atanh(effect)
    for c in range(m):
        zu = tau * rng.normal()
        zt = zu + shift + tau * rng.normal()
        rs = []
        for z in (zt, zu):
            n = int(rng.integers(20, 61))
            r = math.tanh(z)
            x = rng.normal(size=n)
            y = r * x + math.sqrt(1 - r * r) * rng.normal(size=n)
            rs.append(float(np.corrcoef(x, y)[0, 1]))
        rows.append({"unit": f"c{c}", "value": math.tanh(math.atanh(rs[0]) - math.atanh(rs[1]))})
    return pd.DataFrame(rows), effect


_M = MIN_UNITS
DESIGNS: tuple[Design, ...] = (
    Design(f"clustered networks in cells ({_M} cells)", "cluster_t", _clustered, 0.5, 0.0,
           0.05, _M),
    Design(f"clustered networks, two-stage bootstrap ({_M} cells; not used)",
           "cluster_bootstrap", _clustered, 0.5, 0.0, 0.05, _M),
    Design(f"paired arms over shared data draws ({_M} draws)", "cluster_t", _paired_draws,
           0.01, 0.0, 0.01, _M),
    Design(f"meta-analysis of within-cell Fisher z ({_M} cells)", "meta_fisher_z", _meta, -0.4,
           0.0, 0.1, _M),
    Design(f"shares of clustered networks, Beta conc. 4 ({_M} cells)", "cluster_share",
           _shares, 0.7, 0.5, 0.1, _M),
    Design(f"pooled coefficient per cell, Fisher z ({_M} cells)", "cluster_z_t", _pooled, -0.4,
           0.0, 0.1, _M),
    Design("two groups of independent networks (3 vs 3)", "welch_strata", _two_groups, 1.0,
           0.0, 0.05, 6),
    Design(f"Spearman ρ(γ, LSS) per draw, 3 weight decays × 3 seeds, ties ({_M} draws)",
           "cluster_z_t", _spearman, -0.3, 0.0, 0.1, _M),
    Design(f"difference of shares, trained − untrained, Beta conc. 2 ({_M} cells)",
           "cluster_t", _share_difference, 0.3, 0.0, 0.1, _M),
    Design(f"difference of Fisher z, trained − untrained ({_M} cells)", "cluster_z_t",
           _z_difference, -0.3, 0.0, 0.1, _M),
    Design("Welch over 3 shapes, unequal sizes and variances (2v2, 3v5, 4v3)",
           "welch_strata", _welch_strata, 1.0, 0.0, 0.05, 19),
)

#: the harsh designs: cell effects far from normal, near-deterministic cells, cells that share
#: a data draw, meta-analysis with two-point cell correlations and 4 networks per cell
HARSH: tuple[Design, ...] = (
    Design(f"bimodal cell effects ±0.5 ({_M} cells)", "cluster_t", _bimodal, 0.3, 0.0, 0.05,
           _M),
    Design(f"shares, Beta concentration 1 ({_M} cells)", "cluster_share", _shares_conc(1.0),
           0.7, 0.5, 0.1, _M),
    Design(f"shares, Beta concentration 0.3 ({_M} cells)", "cluster_share", _shares_conc(0.3),
           0.7, 0.5, 0.1, _M),
    Design(f"cells sharing a data draw: sd 1 draw, 0.3 cell, 5 shapes ({_M} draws)",
           "cluster_t", _shared_draws, 0.5, 0.0, 0.05, _M),
    Design(f"meta-analysis, within-cell r ±0.6, n = 4 per cell ({_M} cells)", "meta_fisher_z",
           _meta_bimodal, -0.4, 0.0, 0.1, _M),
    Design(f"difference of shares, Beta conc. 0.5 ({_M} cells)", "cluster_t",
           _share_difference_conc(0.5), 0.3, 0.0, 0.1, _M),
)


def _covers(e: Estimate, truth: float) -> bool:
    return math.isfinite(e.low) and e.low <= truth <= e.high


def _false_verdict(e: Estimate, null: float) -> bool:
    return math.isfinite(e.p) and e.p < 0.05


def calibrate(design: Design, n_sims: int, seed: int = 0,
              parts: tuple[str, ...] = ("coverage", "false_verdicts", "false_no_effect")
              ) -> dict[str, float | int | str]:
    """Coverage (under ``design.effect``), the false-verdict rate (under the null) and the false
    "no effect" rate (at null + SESOI) of one design over ``n_sims`` simulations each (seeded);
    ``parts`` picks which (the others are NaN)."""
    fn = ESTIMATORS[design.estimator]
    rng = np.random.default_rng(seed)
    cover = 0
    for _ in range(n_sims if "coverage" in parts else 0):
        obs, truth = design.simulate(rng, design.effect)
        cover += _covers(fn(obs, design.null, design.sesoi), truth)
    false = 0
    for _ in range(n_sims if "false_verdicts" in parts else 0):
        obs, _truth = design.simulate(rng, design.null)
        false += _false_verdict(fn(obs, design.null, design.sesoi), design.null)
    no_effect = 0
    edge = design.null + design.sesoi if design.edge is None else design.edge
    for _ in range(n_sims if "false_no_effect" in parts else 0):
        obs, _truth = design.simulate(rng, edge)
        e = fn(obs, design.null, design.sesoi)
        no_effect += (not _false_verdict(e, design.null)) and math.isfinite(e.p_equivalence) \
            and e.p_equivalence < 0.05
    return {"design": design.name, "estimator": design.estimator, "units": design.units,
            "n_sims": n_sims,
            **{k: (v / n_sims if k in parts else math.nan) for k, v in (
                ("coverage", cover), ("false_verdicts", false), ("false_no_effect", no_effect))}}


def calibration_table(n_sims: int, seed: int = 0,
                      designs: tuple[Design, ...] = DESIGNS + HARSH) -> pd.DataFrame:
    """:func:`calibrate` of every design, one row each."""
    return pd.DataFrame([calibrate(d, n_sims, seed) for d in designs])
