"""The Ricci accuracy study per protocol and k, from a sweep's store (Baptista et al. 2024).

The store's coefficients table holds one row per network, protocol and k
(:func:`coefficient_table`: ``run_id, protocol, k, rho, first_pair, reason``); its layers table
the per-layer ``eta`` and ``scalar_curvature`` rows of each protocol and k. For every protocol
and k, and for well-trained networks and the untrained baselines separately:

- the share of networks with ρ < 0 (Wilson interval), over the networks with a coefficient;
- the **pooled coefficient** of the authors' R code: one Pearson correlation of ``η_l`` and
  ``Ric_l`` over every (layer, network) pair, pairs ``l = first_pair … L−1`` of the protocol
  (1 … L−1 under ``"baptista"``), with a bootstrap interval that resamples *networks* (their
  pairs are not independent);
- ``r(ρ, test accuracy)`` among well-trained networks with a bootstrap interval;
- how many networks were left out for an infinite geodesic mass (a disconnected kNN graph).

The pooled coefficient here is computed from the stored per-layer values; on the same networks
it equals :func:`layerflow.ricci.pooled_coefficient` of their results (tested).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from layerflow._errors import ConfigError
from layerflow.stats._accuracy import WELL_TRAINED, well_trained
from layerflow.stats._correlation import bootstrap_pearson, pearson
from layerflow.stats._intervals import Interval, wilson_interval
from layerflow.stats._tables import finished

#: the columns of the coefficients table, one row per network, protocol and k
COEFFICIENT_COLUMNS = ["run_id", "protocol", "k", "rho", "first_pair", "reason"]
#: the reason of a coefficient at a swept k the network's test set is too small for
K_TOO_LARGE = "k >= N"


@dataclass(frozen=True)
class PooledStat:
    """The pooled coefficient of some networks: ``interval`` (estimate and network-bootstrap
    95 % interval), ``n_pairs``, ``n_networks`` pooled, ``excluded`` run ids (infinite mass),
    ``bootstrap`` the resampled coefficients (for differences between groups)."""

    interval: Interval
    n_pairs: int
    n_networks: int
    excluded: tuple[Hashable, ...]
    bootstrap: np.ndarray = field(default_factory=lambda: np.zeros(0))


def coefficient_table(runs: pd.DataFrame,
                      coefficients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every Ricci coefficient of the networks in ``runs``: ``run_id, protocol, k, rho,
    first_pair, reason`` (``reason`` ``""`` when ρ is defined, else why not: ``"disconnected"``,
    ``"k >= N"``, ``"too few pairs"``, …), sorted by run, protocol and k.

    ``coefficients`` is the store's coefficients table
    (:meth:`~layerflow.sweep.ResultStore.coefficients`, or
    :func:`~layerflow.sweep.read_coefficients`). Without it, only what the runs table holds:
    each measured run's primary coefficient (``ricci_rho`` at its ``k`` under its
    ``ricci_protocol``; a runs table in the layout that kept one column per (protocol, k) gives
    those too, :mod:`layerflow.sweep._legacy`).
    """
    if coefficients is None:
        if "ricci_rho" not in runs.columns:
            return pd.DataFrame(columns=COEFFICIENT_COLUMNS)
        from layerflow.sweep._legacy import primary_coefficients

        coefficients = primary_coefficients(runs)
    missing = [c for c in COEFFICIENT_COLUMNS if c not in coefficients.columns]
    if missing:
        raise ConfigError(f"the coefficients table lacks columns {missing}; expected "
                         f"{COEFFICIENT_COLUMNS}")
    ids = set(runs["run_id"]) if "run_id" in runs.columns else set()
    out = coefficients.loc[coefficients["run_id"].isin(ids), COEFFICIENT_COLUMNS]
    return out.sort_values(["run_id", "protocol", "k"], kind="mergesort").reset_index(drop=True)


def protocol_rho(runs: pd.DataFrame, coefficients: pd.DataFrame, protocol: str,
                 k: int | None = None) -> pd.Series:
    """ρ of each run of ``runs`` (aligned with its index) under ``protocol`` at ``k`` (None: each
    run's own primary k, the runs table's ``k``); NaN where the table holds no value."""
    coef = coefficients[coefficients["protocol"] == protocol]
    if k is None:
        want = pd.to_numeric(runs["k"], errors="coerce") if "k" in runs.columns else \
            pd.Series(np.nan, index=runs.index)
        table = coef.set_index(["run_id", "k"])["rho"]
        keys = list(zip(runs["run_id"], want, strict=True))
        vals = [float(table.get((rid, int(kv)), np.nan)) if pd.notna(kv) else np.nan
                for rid, kv in keys]
        return pd.Series(vals, index=runs.index, dtype=np.float64)
    at_k = coef[coef["k"] == k].set_index("run_id")["rho"]
    return runs["run_id"].map(at_k).astype(np.float64)


def first_pair_of(coefficients: pd.DataFrame, protocol: str) -> int:
    """The first layer pair ``protocol`` correlates, read from the coefficients table (0 when it
    holds no row of that protocol)."""
    fp = pd.to_numeric(coefficients.loc[coefficients["protocol"] == protocol, "first_pair"],
                       errors="coerce")
    return int(fp.max()) if fp.notna().any() else 0


def protocols_in_store(runs: pd.DataFrame,
                       coefficients: pd.DataFrame) -> tuple[str, list[str], list[int]]:
    """``(primary protocol, every protocol, every k)`` of the coefficients table: the primary
    (the runs table's ``ricci_protocol``) first, then the others by name."""
    primary = "layerflow"
    if "ricci_protocol" in runs.columns and runs["ricci_protocol"].notna().any():
        primary = str(runs["ricci_protocol"].dropna().iloc[0])
    others = sorted({str(p) for p in coefficients["protocol"]} - {primary})
    ks = sorted({int(k) for k in pd.to_numeric(coefficients["k"], errors="coerce").dropna()})
    return primary, [primary, *others], ks


def pooled_from_layers(layers: pd.DataFrame, run_ids: Any, protocol: str, k: int, first: int,
                       n_boot: int = 2000, seed: int = 0) -> PooledStat:
    """The pooled coefficient of the runs ``run_ids`` at ``k`` under ``protocol``, over the pairs
    l = ``first`` … L−1 of each (the coefficients table's ``first_pair``)."""
    if layers is None or layers.empty or not {"run_id", "metric", "k",
                                              "protocol"} <= set(layers.columns):
        return PooledStat(Interval(math.nan, math.nan, math.nan, 0, math.nan), 0, 0, ())
    lay = layers[layers["run_id"].isin(set(run_ids))]
    ks = pd.to_numeric(lay["k"], errors="coerce")
    lay = lay[(ks == k) & (lay["protocol"] == protocol)]
    ric = {rid: g.sort_values("layer")["value"].to_numpy(dtype=np.float64)
           for rid, g in lay[lay["metric"] == "scalar_curvature"].groupby("run_id")}
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    excluded: list[Hashable] = []
    for rid, g in lay[lay["metric"] == "eta"].groupby("run_id"):
        e = g.sort_values("layer")["value"].to_numpy(dtype=np.float64)
        # an infinite geodesic mass makes some η inf (or inf − inf = NaN): the network is left out
        if rid not in ric or not np.isfinite(e).all():
            excluded.append(rid)
            continue
        xs.append(e[first:])
        ys.append(ric[rid][first : e.size])
    n_pairs = int(sum(x.size for x in xs))
    if n_pairs < 3:
        return PooledStat(Interval(math.nan, math.nan, math.nan, n_pairs, math.nan), n_pairs,
                          len(xs), tuple(excluded))
    x, y = np.concatenate(xs), np.concatenate(ys)
    r = pearson(x, y)
    lo = hi = math.nan
    boot = np.zeros(0)
    if len(xs) >= 2:
        boot = _network_bootstrap(xs, ys, float(x.mean()), float(y.mean()), n_boot, seed)
        if boot.size:
            lo, hi = (float(v) for v in np.quantile(boot, [0.025, 0.975]))
    return PooledStat(Interval(r, lo, hi, n_pairs, math.nan), n_pairs, len(xs),
                      tuple(excluded), boot)


def _network_bootstrap(xs: list[np.ndarray], ys: list[np.ndarray], mx: float, my: float,
                       n_boot: int, seed: int) -> np.ndarray:
    """The pooled Pearson correlation of ``n_boot`` resamples of the *networks* (with
    replacement; undefined draws dropped). Each draw's correlation comes from per-network sums (centred on
    the pooled means for accuracy), so a draw costs O(networks), not O(pairs)."""
    stats = np.array([[x.size, (x - mx).sum(), (y - my).sum(), ((x - mx) ** 2).sum(),
                       ((y - my) ** 2).sum(), ((x - mx) * (y - my)).sum()]
                      for x, y in zip(xs, ys, strict=True)])
    m = len(xs)
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_boot, m))
    np.add.at(counts, (np.repeat(np.arange(n_boot), m), rng.integers(0, m, n_boot * m)), 1.0)
    n, sx, sy, sxx, syy, sxy = (counts @ stats).T
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        r = cov / np.sqrt((sxx - sx * sx / n) * (syy - sy * sy / n))
    return cast(np.ndarray, np.clip(r[np.isfinite(r)], -1.0, 1.0))


def protocol_table(runs: pd.DataFrame, layers: pd.DataFrame,
                   coefficients: pd.DataFrame | None = None,
                   threshold: float = WELL_TRAINED) -> pd.DataFrame:
    """One row per (protocol, k, networks ∈ {well-trained, untrained}); see the module
    docstring. ``n_excluded`` counts networks with a disconnected graph, ``n_not_applicable``
    those whose test set is too small for this k (k >= N). Columns: ``protocol, k, networks, n,
    n_excluded, n_not_applicable, share_negative,
    share_low, share_high, pooled, pooled_low, pooled_high, n_pairs, r_accuracy, r_low, r_high,
    excluded_why``. ``coefficients``: the store's coefficients table (see
    :func:`coefficient_table`)."""
    coef = coefficient_table(runs, coefficients)
    _, protos, ks = protocols_in_store(runs, coef)
    df = finished(runs)
    cols = ["protocol", "k", "networks", "n", "n_excluded", "n_not_applicable",
            "share_negative", "share_low",
            "share_high", "pooled", "pooled_low", "pooled_high", "n_pairs", "r_accuracy",
            "r_low", "r_high", "excluded_why"]
    if df.empty or not ks or "trained" not in df.columns:
        return pd.DataFrame(columns=cols)
    acc = pd.to_numeric(df["test_acc"], errors="coerce") if "test_acc" in df.columns else None
    groups = {"well-trained": df[df["trained"].astype(bool) & well_trained(acc, threshold)]
              if acc is not None else df.iloc[0:0],
              "untrained": df[~df["trained"].astype(bool)]}
    rows = []
    for proto in protos:
        for k in ks:
            at = coef[(coef["protocol"] == proto) & (coef["k"] == k)].set_index("run_id")
            if at.empty:
                continue
            for label, g in groups.items():
                if g.empty:
                    continue
                rho = g["run_id"].map(at["rho"]).astype(np.float64)
                defined = rho.notna()
                skipped = g["run_id"].map(at["reason"]) == K_TOO_LARGE
                n_na = int((~defined & skipped).sum())  # k >= N: no graph, not a disconnection
                defined_or_na = defined | skipped
                n_ex = int((~defined_or_na).sum())
                why = ""
                # the store describes the disconnected layers at each run's primary k only
                at_primary = "k" in g.columns and bool((pd.to_numeric(g["k"],
                                                                      errors="coerce") == k).all())
                if n_ex and at_primary and "ricci_disconnected_layers" in g.columns:
                    reasons = g.loc[~defined_or_na, "ricci_disconnected_layers"].astype(str)
                    top = reasons[reasons != ""].value_counts().head(2)
                    why = "; ".join(f"{c}× {r}" for r, c in top.items())
                rv = rho[defined].to_numpy(dtype=np.float64)
                share = (wilson_interval(int((rv < 0).sum()), int(rv.size)) if rv.size else
                         Interval(math.nan, math.nan, math.nan, 0, math.nan))
                first = first_pair_of(at[at.index.isin(set(g["run_id"]))], proto)
                pooled = pooled_from_layers(layers, g["run_id"], proto, k, first)
                r_acc = r_lo = r_hi = math.nan
                if label == "well-trained" and rv.size >= 3:
                    a = pd.to_numeric(g.loc[defined, "test_acc"], errors="coerce").to_numpy(
                        dtype=np.float64)
                    r_acc = pearson(rv, a)
                    r_lo, r_hi = bootstrap_pearson(rv, a)
                rows.append({"protocol": proto, "k": k, "networks": label, "n": int(rv.size),
                             "n_excluded": n_ex, "n_not_applicable": n_na, "share_negative": share.mean,
                             "share_low": share.low, "share_high": share.high,
                             "pooled": pooled.interval.mean, "pooled_low": pooled.interval.low,
                             "pooled_high": pooled.interval.high, "n_pairs": pooled.n_pairs,
                             "r_accuracy": r_acc, "r_low": r_lo, "r_high": r_hi,
                             "excluded_why": why})
    return pd.DataFrame(rows, columns=cols)
