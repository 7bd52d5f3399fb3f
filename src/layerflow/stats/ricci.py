"""The Ricci accuracy study per protocol and k, from a sweep's store (SPEC §3, Baptista et al.).

For every protocol and k the store holds (the primary protocol's columns are ``ricci_rho_k{k}``,
another protocol's ``ricci_rho_<protocol>_k{k}``; per-layer ``eta[_<protocol>]`` and
``scalar_curvature[_<protocol>]`` rows at that k), and for well-trained networks and the
untrained baselines separately:

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
from typing import Any

import numpy as np
import pandas as pd

from layerflow.stats.accuracy import WELL_TRAINED, well_trained
from layerflow.stats.correlation import bootstrap_pearson, pearson
from layerflow.stats.intervals import Interval, wilson_interval
from layerflow.stats.tables import finished

__all__ = ["COEFFICIENT_COLUMNS", "PooledStat", "coefficient_table", "first_pair_of", "pooled_from_layers", "protocol_table",
           "protocols_in_store"]


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


def _suffix(protocol: str, primary: str) -> str:
    return "" if protocol == primary else f"_{protocol}"


def first_pair_of(runs: pd.DataFrame, sfx: str) -> int:
    """The first layer pair a protocol correlates, read back from the store
    (``ricci_first_pair<sfx>``; 0 when the store predates the column)."""
    col = f"ricci_first_pair{sfx}"
    fp = pd.to_numeric(runs[col], errors="coerce") if col in runs.columns else None
    return int(fp.max()) if fp is not None and fp.notna().any() else 0


def protocols_in_store(runs: pd.DataFrame) -> tuple[str, list[str], list[int]]:
    """``(primary protocol, every protocol, every k)`` whose columns the runs table holds."""
    import re

    primary = "layerflow"
    if "ricci_protocol" in runs.columns and runs["ricci_protocol"].notna().any():
        primary = str(runs["ricci_protocol"].dropna().iloc[0])
    protos, ks = [primary], set()
    for c in runs.columns:
        m = re.fullmatch(r"ricci_rho(?:_([a-z]+))?_k(\d+)", str(c))
        if m:
            ks.add(int(m.group(2)))
            if m.group(1) and m.group(1) not in protos:
                protos.append(m.group(1))
    return primary, protos, sorted(ks)


def pooled_from_layers(layers: pd.DataFrame, run_ids: Any, protocol: str, primary: str,
                       k: int, first: int, n_boot: int = 2000, seed: int = 0) -> PooledStat:
    """The pooled coefficient of the runs ``run_ids`` at ``k`` under ``protocol``, over the pairs
    l = ``first`` … L−1 of each (the store's ``ricci_first_pair[_<protocol>]``)."""
    sfx = _suffix(protocol, primary)
    if layers is None or layers.empty or not {"run_id", "metric", "k"} <= set(layers.columns):
        return PooledStat(Interval(math.nan, math.nan, math.nan, 0, math.nan), 0, 0, ())
    lay = layers[layers["run_id"].isin(set(run_ids))]
    ks = pd.to_numeric(lay["k"], errors="coerce")
    lay = lay[ks == k]
    ric = {rid: g.sort_values("layer")["value"].to_numpy(dtype=np.float64)
           for rid, g in lay[lay["metric"] == f"scalar_curvature{sfx}"].groupby("run_id")}
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    excluded: list[Hashable] = []
    for rid, g in lay[lay["metric"] == f"eta{sfx}"].groupby("run_id"):
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
    return np.clip(r[np.isfinite(r)], -1.0, 1.0)


def protocol_table(runs: pd.DataFrame, layers: pd.DataFrame,
                   threshold: float = WELL_TRAINED) -> pd.DataFrame:
    """One row per (protocol, k, networks ∈ {well-trained, untrained}); see the module
    docstring. ``n_excluded`` counts networks with a disconnected graph, ``n_not_applicable``
    those whose test set is too small for this k (k >= N). Columns: ``protocol, k, networks, n,
    n_excluded, n_not_applicable, share_negative,
    share_low, share_high, pooled, pooled_low, pooled_high, n_pairs, r_accuracy, r_low, r_high,
    excluded_why``."""
    primary, protos, ks = protocols_in_store(runs)
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
        sfx = _suffix(proto, primary)
        for k in ks:
            col = f"ricci_rho{sfx}_k{k}"
            if col not in df.columns:
                continue
            for label, g in groups.items():
                if g.empty:
                    continue
                rho = pd.to_numeric(g[col], errors="coerce")
                defined = rho.notna()
                skipped = (g["ricci_skipped_ks"].astype(str).str.contains(f"k={k} ", regex=False)
                           if "ricci_skipped_ks" in g.columns else pd.Series(False, g.index))
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
                first = first_pair_of(g, sfx)
                pooled = pooled_from_layers(layers, g["run_id"], proto, primary, k, first)
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


#: the columns of :func:`coefficient_table`
COEFFICIENT_COLUMNS: tuple[str, ...] = ("run_id", "protocol", "k", "rho", "first_pair", "reason")


def coefficient_table(runs: pd.DataFrame, layers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every network's global Ricci coefficient per (protocol, k), one row each: ``run_id,
    protocol, k, rho, first_pair, reason``.

    This is the one place the per-(protocol, k) coefficients are read from a store; everything
    else in :mod:`layerflow.stats` and the report takes them from here. ``rho`` is NaN where the
    coefficient is undefined and ``reason`` says why: ``""`` (defined), ``"k >= N"`` (the run
    left this k out: its test set is too small, so there is no graph), ``"disconnected"`` (an
    infinite geodesic mass in some layer; read from ``ricci_connected`` at the run's primary k,
    else from the layer rows' ``geodesic_mass[_<protocol>]`` at that k), ``"too few layer pairs
    or no variance"`` (a connected graph with no coefficient), ``"unrecorded"`` (the store does
    not say). ``first_pair`` is the first layer pair the protocol correlates
    (``ricci_first_pair[_<protocol>]``; 0 when the store predates it).
    """
    primary, protos, ks = protocols_in_store(runs)
    df = finished(runs)
    if df.empty or "run_id" not in df.columns:
        return pd.DataFrame(columns=list(COEFFICIENT_COLUMNS))
    if not ks:
        return _primary_only(df, primary)
    flag = (pd.to_numeric(df["ricci_connected"], errors="coerce")
            if "ricci_connected" in df.columns else pd.Series(np.nan, index=df.index))
    run_k = (pd.to_numeric(df["k"], errors="coerce") if "k" in df.columns
             else pd.Series(np.nan, index=df.index))
    skipped_text = (df["ricci_skipped_ks"].astype(str) if "ricci_skipped_ks" in df.columns
                    else pd.Series("", index=df.index))
    parts = []
    for proto in protos:
        sfx = _suffix(proto, primary)
        first = first_pair_of(df, sfx)
        for k in ks:
            col = f"ricci_rho{sfx}_k{k}"
            if col not in df.columns:
                continue
            rho = pd.to_numeric(df[col], errors="coerce")
            # what the run columns record: the connectivity of the primary protocol at run's k
            known = (run_k == k) & flag.notna() if not sfx else pd.Series(False, index=df.index)
            connected = flag != 0
            if layers is not None and not layers.empty and \
                    {"run_id", "metric", "k", "value"} <= set(layers.columns):
                rows = layers[(layers["metric"] == f"geodesic_mass{sfx}")
                              & (pd.to_numeric(layers["k"], errors="coerce") == k)]
                fin = rows.assign(_f=np.isfinite(pd.to_numeric(rows["value"], errors="coerce")))
                from_rows = df["run_id"].map(fin.groupby("run_id")["_f"].all())
                use = ~known & from_rows.notna()
                connected = connected.where(~use, from_rows.astype(bool))
                known = known | use
            skipped = skipped_text.str.contains(f"k={k} ", regex=False)
            reason = np.where(rho.notna(), "",
                              np.where(skipped, "k >= N",
                                       np.where(known & ~connected, "disconnected",
                                                np.where(known, "too few layer pairs or no "
                                                         "variance", "unrecorded"))))
            parts.append(pd.DataFrame({"run_id": df["run_id"].to_numpy(), "protocol": proto,
                                       "k": int(k), "rho": rho.to_numpy(dtype=np.float64),
                                       "first_pair": int(first), "reason": reason}))
    if not parts:
        return pd.DataFrame(columns=list(COEFFICIENT_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    return out[list(COEFFICIENT_COLUMNS)]


def _primary_only(df: pd.DataFrame, primary: str) -> pd.DataFrame:
    """A store with only ``ricci_rho`` (no per-k columns): each run's coefficient at its own
    ``k``; runs without a recorded k are left out (a coefficient needs its k)."""
    if "ricci_rho" not in df.columns or "k" not in df.columns:
        return pd.DataFrame(columns=list(COEFFICIENT_COLUMNS))
    k = pd.to_numeric(df["k"], errors="coerce")
    d = df[k.notna()]
    rho = pd.to_numeric(d["ricci_rho"], errors="coerce").to_numpy(dtype=np.float64)
    flag = (pd.to_numeric(d["ricci_connected"], errors="coerce") if "ricci_connected" in
            d.columns else pd.Series(np.nan, index=d.index)).to_numpy()
    reason = np.where(np.isfinite(rho), "", np.where(flag == 0, "disconnected",
                      np.where(np.isfinite(flag), "too few layer pairs or no variance",
                               "unrecorded")))
    out = pd.DataFrame({"run_id": d["run_id"].to_numpy(), "protocol": primary,
                        "k": k[k.notna()].astype(int).to_numpy(), "rho": rho,
                        "first_pair": first_pair_of(d, ""), "reason": reason})
    return out[list(COEFFICIENT_COLUMNS)]
