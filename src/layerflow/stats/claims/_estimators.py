"""The estimators behind the claims table, chosen by name from :data:`ESTIMATORS`.

Every estimator takes a long table of observations tagged with their independent **unit** (a
(data set, shape) cell, a data draw, a network) and returns an :class:`Estimate`: the estimate
on the claim's scale, a 95 % interval, a two-sided p-value against the null, the p-value of the
equivalence test (TOST) within the smallest effect of interest, the number of units, and one
:class:`CellEstimate` per unit for the forest plot. Networks nested in a unit are averaged
inside it first; the interval is computed over units, never over networks that share a unit.
When the observations carry a ``draw`` column (the data draw each cell's data came from), the
cells' summaries are averaged within each draw first and the draws are the units
(``n_cells`` keeps the count of cells, the forest plot one line per cell).

Every estimator over cells or draws (all but ``welch_strata`` and ``cluster_bootstrap``) also
runs the exact sign-flip (randomisation) test on the units' summaries centred on the null
(:func:`sign_flip_p`) and returns ``p = max(p_t, p_signflip)``: a verdict needs both to reject.
A standard error of exactly 0 (units that agree exactly) is floored at ``SE_FLOOR``.

- ``cluster_t``: the mean over units of the units' means, with a Student-t interval on
  ``m − 1`` degrees of freedom (``m`` units). The analysis of cluster summaries: its
  coverage does not depend on how many networks each unit holds or how they correlate.
- ``cluster_z_t``: ``cluster_t`` of Fisher's ``z = atanh(r)`` of one correlation per unit,
  back-transformed with ``tanh`` (the interval stays in [−1, 1]).
- ``cluster_share``: the mean over units of each unit's share (of 0/1 values), with a Wilson
  (score) interval at the effective number of networks and a Student-t critical value on
  ``m − 1`` degrees of freedom (Korn & Graubard's small-sample correction). The variance of
  the estimate is the larger of the units' shares' spread (``s² / m``) and their binomial
  variance (Agresti–Coull adjusted, so a unit at 0 % or 100 % still carries sampling error);
  the effective number of networks is ``p̂(1 − p̂)`` over that variance (the networks over the
  design effect), kept between ``m`` (as if every unit were a single network: the most a share
  of clustered 0/1 values can vary) and the number of networks. The score interval takes its
  variance at each candidate share, not at ``p̂``, so units all at 0 % or 100 % still give
  an interval of ``m`` units' width, and it stays in [0, 1]; the row's test is the score test
  it inverts (and the equivalence test the two one-sided score tests at ``null ± SESOI``).
- ``meta_fisher_z``: one Pearson r per unit (cell) over its networks, combined by a
  random-effects meta-analysis of Fisher z: DerSimonian–Laird τ², the Hartung–Knapp–Sidik–
  Jonkman t interval on ``k − 1`` degrees of freedom (its scale factor floored at 1), Cochran's
  Q and I² reported. Every cell's r is within the cell: an association between the cells'
  means does not enter.
- ``welch_strata``: two groups of independent networks (``group`` ``"a"`` and ``"b"``)
  compared within each cell (Welch's unpooled variance, Hsu's conservative degrees of freedom
  ``min(n_a, n_b) − 1``), the cell differences averaged with equal weights; variance the sum
  of the cells' variances, degrees of freedom combined by Satterthwaite. Here the network is
  the unit (``n_units`` counts networks).
- ``cluster_bootstrap``: the two-stage percentile bootstrap (units resampled, then networks
  within each), kept for the calibration table; with few units its percentile test rejects a
  true null too often, the more so the more closely a unit's networks agree, so no claim uses
  it.

References: DerSimonian & Laird (1986) *Control. Clin. Trials* 7:177; Hartung & Knapp (2001)
*Stat. Med.* 20:3875; Röver, Knapp & Friede (2015) *BMC Med. Res. Methodol.* 15:99 (the floor
at 1); Schuirmann (1987) *J. Pharmacokinet. Biopharm.* 15:657 (TOST); Holm (1979) *Scand. J.
Stat.* 6:65; Field & Welsh (2007) *JRSS B* 69:369 (bootstrapping clustered data); Korn &
Graubard (1998) *Surv. Methodol.* 24:193 (intervals for proportions of clustered samples at an
effective sample size).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats as sps

from layerflow._errors import ConfigError
from layerflow.stats._correlation import pearson
from layerflow.stats._intervals import wilson_interval

LEVEL = 0.95


@dataclass(frozen=True)
class CellEstimate:
    """One unit's estimate for the forest plot: ``label``, ``estimate``, its 95 % interval
    (NaN ends when the unit alone gives none), ``n`` networks (or pairs) in it."""

    label: str
    estimate: float
    low: float
    high: float
    n: int


@dataclass(frozen=True)
class Estimate:
    """What an estimator returns (see the module docstring). ``reason`` is non-empty exactly
    when the estimate or its interval is undefined, and says why. ``heterogeneity``: τ², I²,
    Q and its p-value for the meta-analysis; empty otherwise."""

    estimate: float
    low: float
    high: float
    p: float
    p_equivalence: float
    n_units: int
    df: float
    cells: tuple[CellEstimate, ...] = ()
    reason: str = ""
    heterogeneity: dict[str, float] = field(default_factory=dict)
    p_t: float = math.nan
    p_signflip: float = math.nan
    n_cells: int = 0


def _nan_estimate(n_units: int, reason: str, cells: tuple[CellEstimate, ...] = (),
                  estimate: float = math.nan) -> Estimate:
    return Estimate(estimate, math.nan, math.nan, math.nan, math.nan, n_units, math.nan, cells,
                    reason)


def tost_p(est: float, se: float, df: float, null: float, sesoi: float) -> float:
    """The p-value of the two one-sided tests that the effect lies within ``null ± sesoi``
    (t on ``df`` degrees of freedom): the larger of the two one-sided p-values."""
    if not (se > 0 and math.isfinite(se) and sesoi > 0 and df > 0):
        return math.nan
    p_low = float(sps.t.sf((est - (null - sesoi)) / se, df))
    p_high = float(sps.t.cdf((est - (null + sesoi)) / se, df))
    return max(p_low, p_high)


#: all 2^m sign flips up to this many units; a seeded Monte Carlo of :data:`SIGN_FLIP_DRAWS`
#: flips beyond
SIGN_FLIP_EXACT = 16
SIGN_FLIP_DRAWS = 20_000
#: the smallest standard error a t interval uses, relative to max(1, |estimate|): units that
#: agree exactly get a degenerate interval and a p-value, not "no interval"
SE_FLOOR = 1e-9


def sign_flip_p(d: np.ndarray, weights: np.ndarray | None = None, seed: int = 0) -> float:
    """Two-sided p-value of the randomisation (sign-flip) test that the units' summaries ``d``
    (already centred on the null) are symmetric about 0: the share of sign flips whose
    (weighted) mean is at least as far from 0 as the observed one. Exact over all ``2^m`` flips
    for ``m ≤ 16`` (so with ``m`` units the smallest p is ``2 / 2^m``: 0.0625 at 5 units);
    beyond, a seeded Monte Carlo of 20,000 flips, ``(1 + hits) / (1 + draws)``."""
    d = np.asarray(d, dtype=np.float64)
    m = d.size
    if m == 0 or not np.all(np.isfinite(d)):
        return math.nan
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
    wd = w * d
    obs = abs(float(wd.sum()))
    tol = 1e-12 * max(1.0, float(np.abs(wd).sum()))
    if m <= SIGN_FLIP_EXACT:
        signs = 1.0 - 2.0 * ((np.arange(2**m)[:, None] >> np.arange(m)[None, :]) & 1)
        stats = np.abs(signs @ wd)
        return float(np.mean(stats >= obs - tol))
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(SIGN_FLIP_DRAWS, m))
    hits = int(np.sum(np.abs(signs @ wd) >= obs - tol))
    return (1 + hits) / (1 + SIGN_FLIP_DRAWS)


def _t_result(est: float, se: float, df: float, null: float, sesoi: float, n_units: int,
              cells: tuple[CellEstimate, ...], lo_clip: float = -math.inf,
              hi_clip: float = math.inf,
              transform: Callable[[float], float] | None = None,
              centred: np.ndarray | None = None, weights: np.ndarray | None = None,
              n_cells: int = 0) -> Estimate:
    """Estimate ± t·se on the analysis scale; p and TOST against ``null`` on that scale;
    ``transform`` maps estimate and ends to the reporting scale. With ``centred`` (the units'
    summaries minus the null, on the analysis scale; ``weights`` those of the estimate) the
    row's p is the larger of the t-test's and the sign-flip test's."""
    if not math.isfinite(se) or not math.isfinite(est):
        return _nan_estimate(n_units, "no spread between units to estimate an interval from",
                             cells, transform(est) if transform else est)
    # units that agree exactly: floor the standard error (the sign-flip test, which needs no
    # spread, then decides whether the units' common value differs from the null)
    se = max(se, SE_FLOOR * max(1.0, abs(est)))
    q = float(sps.t.ppf(0.5 + LEVEL / 2, df))
    lo, hi = est - q * se, est + q * se
    p_t = float(2 * sps.t.sf(abs(est - null) / se, df))
    p_sf = sign_flip_p(centred, weights) if centred is not None else math.nan
    p = max(p_t, p_sf) if math.isfinite(p_sf) else p_t
    pe = tost_p(est, se, df, null, sesoi)
    if transform is not None:
        est, lo, hi = transform(est), transform(lo), transform(hi)
    return Estimate(est, max(lo, lo_clip), min(hi, hi_clip), p, pe, n_units, df, cells,
                    p_t=p_t, p_signflip=p_sf, n_cells=n_cells)


def _by_draw(obs: pd.DataFrame, per_cell: pd.Series) -> pd.Series:
    """The cells' summaries averaged within each data draw (``obs["draw"]``: the draw each
    cell's data came from), or unchanged when ``obs`` has no ``draw`` column."""
    if "draw" not in obs.columns or per_cell.empty:
        return per_cell
    draw_of = obs.drop_duplicates("unit").set_index("unit")["draw"].astype(str)
    return per_cell.groupby(per_cell.index.map(draw_of)).mean()


def _unit_means(obs: pd.DataFrame) -> pd.DataFrame:
    """Per unit: mean, sd, n of ``value`` (finite values only)."""
    v = obs.assign(value=pd.to_numeric(obs["value"], errors="coerce"))
    v = v[np.isfinite(v["value"].to_numpy(dtype=np.float64))]
    g = v.groupby("unit", sort=True)["value"]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "n": g.size()})


def _cell_t(label: str, mean: float, sd: float, n: int) -> CellEstimate:
    if n >= 2 and sd > 0:
        h = float(sps.t.ppf(0.5 + LEVEL / 2, n - 1)) * sd / math.sqrt(n)
        return CellEstimate(str(label), mean, mean - h, mean + h, int(n))
    return CellEstimate(str(label), mean, math.nan, math.nan, int(n))


def cluster_t(obs: pd.DataFrame, null: float, sesoi: float) -> Estimate:
    """``obs[unit, value]``: see the module docstring."""
    u = _unit_means(obs)
    cells = tuple(_cell_t(str(i), r["mean"], r["sd"], int(r["n"])) for i, r in u.iterrows())
    m = len(u)
    if m < 2:
        return _nan_estimate(m, f"{m} unit; an interval needs at least 2", cells,
                             float(u["mean"].mean()) if m else math.nan)
    y = _by_draw(obs, u["mean"]).to_numpy(dtype=np.float64)
    m_d = y.size
    if m_d < 2:
        return _nan_estimate(m_d, f"{m_d} data draw; an interval needs at least 2", cells,
                             float(y.mean()))
    return _t_result(float(y.mean()), float(y.std(ddof=1)) / math.sqrt(m_d), m_d - 1, null,
                     sesoi, m_d, cells, centred=y - null, n_cells=m)


def cluster_z_t(obs: pd.DataFrame, null: float, sesoi: float) -> Estimate:
    """``obs[unit, value]`` with one correlation per unit: ``cluster_t`` on Fisher's z."""
    u = _unit_means(obs)
    r = np.clip(u["mean"].to_numpy(dtype=np.float64), -0.999999, 0.999999)
    cells = tuple(CellEstimate(str(i), float(v), math.nan, math.nan, int(n))
                  for i, v, n in zip(u.index, u["mean"], u["n"], strict=True))
    m = r.size
    if m < 2:
        return _nan_estimate(m, f"{m} unit; an interval needs at least 2", cells,
                             float(r[0]) if m else math.nan)
    z = _by_draw(obs, pd.Series(np.arctanh(r), index=u.index)).to_numpy(dtype=np.float64)
    m_d = z.size
    if m_d < 2:
        return _nan_estimate(m_d, f"{m_d} data draw; an interval needs at least 2", cells,
                             math.tanh(float(z.mean())))
    z0 = math.atanh(null)
    return _t_result(float(z.mean()), float(z.std(ddof=1)) / math.sqrt(m_d), m_d - 1,
                     z0, math.atanh(min(abs(null) + sesoi, 0.999)) - math.atanh(
                         abs(null)), m_d, cells, transform=math.tanh, centred=z - z0,
                     n_cells=m)


def cluster_share(obs: pd.DataFrame, null: float, sesoi: float) -> Estimate:
    """``obs[unit, value]`` with 0/1 values: the mean over units of each unit's share."""
    u = _unit_means(obs)
    m = len(u)
    cells = []
    for i, r in u.iterrows():
        x, n = float(r["mean"]) * r["n"], int(r["n"])
        w = wilson_interval(round(x), n)
        cells.append(CellEstimate(str(i), float(r["mean"]), w.low, w.high, n))
    if m < 2:
        return _nan_estimate(m, f"{m} unit; an interval needs at least 2", tuple(cells),
                             float(u["mean"].mean()) if m else math.nan)
    s_c = u["mean"].to_numpy(dtype=np.float64)
    n_c = u["n"].to_numpy(dtype=np.float64)
    pt = (s_c * n_c + 2.0) / (n_c + 4.0)
    # a draw's share is the mean of its cells' shares; its binomial variance the mean of theirs
    # over the number of its cells
    binom = pd.Series(pt * (1 - pt) / (n_c + 4.0), index=u.index)
    s = _by_draw(obs, u["mean"])
    if "draw" in obs.columns:
        draw_of = obs.drop_duplicates("unit").set_index("unit")["draw"].astype(str)
        key = u.index.map(draw_of)
        binom = binom.groupby(key).sum() / binom.groupby(key).size() ** 2
    m_d = len(s)
    if m_d < 2:
        return _nan_estimate(m_d, f"{m_d} data draw; an interval needs at least 2",
                             tuple(cells), float(s.mean()))
    sv = s.to_numpy(dtype=np.float64)
    floor = float(binom.sum()) / m_d**2
    var = max(float(sv.var(ddof=1)) / m_d, floor)
    p_hat = float(sv.mean())
    n_net = float(n_c.sum())
    # a unanimous share (0 or 1) has no spread to read n_eff from: take Agresti–Coull's share
    # (x + 2) / (n + 4) there, so that all networks agreeing is never weaker evidence than all
    # but one agreeing (the plain clamp to m units made it so)
    p_spread = p_hat if 0.0 < p_hat < 1.0 else (p_hat * n_net + 2.0) / (n_net + 4.0)
    n_eff = p_spread * (1 - p_spread) / var
    n_eff = min(max(n_eff, float(m_d)), max(n_net, float(m_d)))
    return _score_result(p_hat, n_eff, m_d - 1, null, sesoi, m_d, tuple(cells),
                         centred=sv - null, n_cells=m)


def _score_z(p_hat: float, mu: float, n_eff: float) -> float:
    """The score statistic of share ``mu`` given ``p_hat`` at ``n_eff`` (±inf at a share of 0
    or 1 that ``p_hat`` differs from; 0 where they agree)."""
    v = mu * (1 - mu) / n_eff
    if v <= 0:
        return 0.0 if p_hat == mu else math.copysign(math.inf, p_hat - mu)
    return (p_hat - mu) / math.sqrt(v)


def _score_result(p_hat: float, n_eff: float, df: float, null: float, sesoi: float,
                  n_units: int, cells: tuple[CellEstimate, ...], centred: np.ndarray,
                  n_cells: int) -> Estimate:
    """The Wilson interval of ``p_hat`` at ``n_eff`` with a t critical value on ``df``; p the
    larger of the score test's (against ``null``) and the sign-flip test's on ``centred``;
    the TOST p the larger of the one-sided score tests at ``null ± sesoi``."""
    q = float(sps.t.ppf(0.5 + LEVEL / 2, df))
    den = 1.0 + q * q / n_eff
    centre = (p_hat + q * q / (2 * n_eff)) / den
    half = q * math.sqrt(p_hat * (1 - p_hat) / n_eff + q * q / (4 * n_eff * n_eff)) / den
    p_t = float(2 * sps.t.sf(abs(_score_z(p_hat, null, n_eff)), df))
    p_sf = sign_flip_p(centred)
    pe = math.nan
    if sesoi > 0:
        lo_b, hi_b = null - sesoi, null + sesoi
        p_low = 0.0 if lo_b <= 0 else float(sps.t.sf(_score_z(p_hat, lo_b, n_eff), df))
        p_high = 0.0 if hi_b >= 1 else float(sps.t.cdf(_score_z(p_hat, hi_b, n_eff), df))
        pe = max(p_low, p_high)
    return Estimate(p_hat, max(0.0, centre - half), min(1.0, centre + half),
                    max(p_t, p_sf) if math.isfinite(p_sf) else p_t, pe, n_units, df, cells,
                    p_t=p_t, p_signflip=p_sf, n_cells=n_cells)


def meta_fisher_z(obs: pd.DataFrame, null: float, sesoi: float, min_n: int = 4) -> Estimate:
    """``obs[unit, x, y]``: Pearson r(x, y) within each unit over its rows, combined by a
    random-effects meta-analysis of Fisher z (see the module docstring). Units with fewer than
    ``min_n`` complete rows or no variance give no r and are left out (counted by the caller)."""
    cells, zs, vs, units = [], [], [], []
    for unit, g in obs.groupby("unit", sort=True):
        x = pd.to_numeric(g["x"], errors="coerce").to_numpy(dtype=np.float64)
        y = pd.to_numeric(g["y"], errors="coerce").to_numpy(dtype=np.float64)
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if x.size < min_n:
            continue
        r = pearson(x, y)
        if not math.isfinite(r):
            continue
        z = math.atanh(min(max(r, -0.999999), 0.999999))
        se = 1.0 / math.sqrt(x.size - 3)
        q = float(sps.norm.ppf(0.5 + LEVEL / 2))
        cells.append(CellEstimate(str(unit), r, math.tanh(z - q * se), math.tanh(z + q * se),
                                  int(x.size)))
        zs.append(z)
        vs.append(se * se)
        units.append(str(unit))
    n_cells = len(zs)
    if "draw" in obs.columns and zs:
        # cells of one data draw: their z averaged with weights n − 3 (variance 1 / Σ(n − 3))
        draw_of = obs.drop_duplicates("unit").set_index("unit")["draw"].astype(str)
        tab = pd.DataFrame({"d": [draw_of[u] for u in units], "z": zs, "w": 1.0 / np.asarray(vs)})
        tab["wz"] = tab["w"] * tab["z"]
        agg = tab.groupby("d", sort=True)[["wz", "w"]].sum()
        zs = list(agg["wz"] / agg["w"])
        vs = list(1.0 / agg["w"])
    k = len(zs)
    if k < 2:
        return _nan_estimate(k, f"{k} cell with a within-cell correlation; a meta-analysis "
                                "needs at least 2", tuple(cells),
                             cells[0].estimate if cells else math.nan)
    z_arr, v = np.asarray(zs), np.asarray(vs)
    w = 1.0 / v
    mu_f = float(np.sum(w * z_arr) / np.sum(w))
    qstat = float(np.sum(w * (z_arr - mu_f) ** 2))
    c = float(np.sum(w) - np.sum(w**2) / np.sum(w))
    tau2 = max(0.0, (qstat - (k - 1)) / c) if c > 0 else 0.0
    wr = 1.0 / (v + tau2)
    mu = float(np.sum(wr * z_arr) / np.sum(wr))
    hk = float(np.sum(wr * (z_arr - mu) ** 2)) / (k - 1)
    se = math.sqrt(max(hk, 1.0) / float(np.sum(wr)))
    i2 = max(0.0, (qstat - (k - 1)) / qstat) if qstat > 0 else 0.0
    z0 = math.atanh(null)
    out = _t_result(mu, se, k - 1, z0,
                    math.atanh(min(abs(null) + sesoi, 0.999)) - math.atanh(abs(null)), k,
                    tuple(cells), transform=math.tanh, centred=z_arr - z0, weights=wr,
                    n_cells=n_cells)
    het = {"tau2": tau2, "I2": i2, "Q": qstat, "Q_p": float(sps.chi2.sf(qstat, k - 1))}
    return Estimate(out.estimate, out.low, out.high, out.p, out.p_equivalence, k, out.df,
                    out.cells, out.reason, het, out.p_t, out.p_signflip, out.n_cells)


def welch_strata(obs: pd.DataFrame, null: float, sesoi: float, min_n: int = 2) -> Estimate:
    """``obs[unit, group, value]``, ``group`` in {"a", "b"}: mean(a) − mean(b) within each unit
    (Welch), averaged over units (see the module docstring)."""
    cells, ds, vs, dfs = [], [], [], []
    n_used = 0
    for unit, g in obs.groupby("unit", sort=True):
        v = pd.to_numeric(g["value"], errors="coerce")
        a = v[g["group"] == "a"].to_numpy(dtype=np.float64)
        b = v[g["group"] == "b"].to_numpy(dtype=np.float64)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size < min_n or b.size < min_n:
            continue
        d = float(a.mean() - b.mean())
        va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
        var = va + vb
        # Hsu's conservative degrees of freedom: Welch–Satterthwaite's are liberal at 3 vs 3
        # with unequal variances (5.7 % false verdicts in the calibration)
        df = float(min(a.size, b.size) - 1)
        h = float(sps.t.ppf(0.5 + LEVEL / 2, df)) * math.sqrt(var) if var > 0 else math.nan
        cells.append(CellEstimate(str(unit), d, d - h, d + h, int(a.size + b.size)))
        n_used += int(a.size + b.size)
        ds.append(d)
        vs.append(var)
        dfs.append(df)
    m = len(ds)
    if m == 0:
        return _nan_estimate(0, f"no cell with {min_n} networks in each group")
    est = float(np.mean(ds))
    var = float(np.sum(vs)) / m**2
    if var <= 0:
        return _nan_estimate(n_used, "no spread within the groups to estimate an interval "
                             "from", tuple(cells), est)
    terms = [(vi / m**2) ** 2 / dfi for vi, dfi in zip(vs, dfs, strict=True)
             if math.isfinite(dfi)]
    df = var**2 / sum(terms) if terms else math.nan
    return _t_result(est, math.sqrt(var), df, null, sesoi, n_used, tuple(cells))


def cluster_bootstrap(obs: pd.DataFrame, null: float, sesoi: float, n_boot: int = 2000,
                      seed: int = 0) -> Estimate:
    """``obs[unit, value]``: the two-stage percentile bootstrap of the mean of unit means (units
    resampled with replacement, then the networks of each drawn unit). The p-value is the
    bootstrap's two-sided one (twice the smaller tail beyond ``null``)."""
    u = _unit_means(obs)
    m = len(u)
    cells = tuple(_cell_t(str(i), r["mean"], r["sd"], int(r["n"])) for i, r in u.iterrows())
    if m < 2:
        return _nan_estimate(m, f"{m} unit; an interval needs at least 2", cells)
    v = obs.assign(value=pd.to_numeric(obs["value"], errors="coerce")).dropna(subset=["value"])
    groups = [g["value"].to_numpy(dtype=np.float64) for _, g in v.groupby("unit", sort=True)]
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, m, size=(n_boot, m))
    boot = np.empty(n_boot)
    for b in range(n_boot):
        boot[b] = np.mean([groups[i][rng.integers(0, groups[i].size, groups[i].size)].mean()
                           for i in picks[b]])
    est = float(u["mean"].mean())
    lo, hi = (float(q) for q in np.quantile(boot, [0.5 - LEVEL / 2, 0.5 + LEVEL / 2]))
    p = min(1.0, 2.0 * min(float(np.mean(boot <= null)), float(np.mean(boot >= null))))
    return Estimate(est, lo, hi, p, math.nan, m, math.nan, cells)


#: estimator name -> function ``(observations, null, sesoi) -> Estimate``
ESTIMATORS: dict[str, Callable[[pd.DataFrame, float, float], Estimate]] = {
    "cluster_t": cluster_t,
    "cluster_z_t": cluster_z_t,
    "cluster_share": cluster_share,
    "meta_fisher_z": meta_fisher_z,
    "welch_strata": welch_strata,
    "cluster_bootstrap": cluster_bootstrap,
}


def holm(p: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and are not counted)."""
    idx = [i for i, v in enumerate(p) if math.isfinite(v)]
    out = [math.nan] * len(p)
    order = sorted(idx, key=lambda i: p[i])
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def estimator(name: str) -> Callable[[pd.DataFrame, float, float], Estimate]:
    """The estimator called ``name``; unknown names raise :class:`ConfigError`."""
    if name not in ESTIMATORS:
        raise ConfigError(f"estimator={name!r}: expected one of {sorted(ESTIMATORS)}")
    return ESTIMATORS[name]
