"""Gai & Zhang's weight-decay sweep: the transport metrics of residual and plain networks per
weight decay γ, and the trend of each metric with γ.

``weight_decay_table`` gives, per (dataset, kind, γ), the mean and 95 % interval (percentile
bootstrap over seeds) of LSS, OTS, the OT cost ratio and the W2 geodesic ratio.
``weight_decay_trend`` gives, per kind, Spearman's rank correlation between γ and a metric over
all networks (with a seeded bootstrap interval over networks): negative for LSS means weight
decay straightens the tracks, the paper's claim. Both read a prepared runs table
(:func:`~layerflow.stats._tables.prepare_runs`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from layerflow.stats._correlation import bootstrap_pearson, pearson
from layerflow.stats._intervals import Interval, mean_interval
from layerflow.stats._tables import finished, require_prepared

GEODESIC_METRICS: tuple[str, ...] = ("lss_mean", "ots", "ot_cost_ratio", "w2_geodesic_ratio")
#: reported beside them: a network near chance accuracy has a geometry that means little
SWEEP_COLUMNS: tuple[str, ...] = (*GEODESIC_METRICS, "test_acc")


def _sweep_runs(runs: pd.DataFrame) -> pd.DataFrame:
    df = finished(require_prepared(runs, "the weight-decay sweep"))
    if "weight_decay" not in df.columns:
        return df.iloc[0:0]
    df = df[df["trained"] & ~df["penalty"] & df["kind"].isin(["residual", "plain"])]
    return df.assign(gamma=pd.to_numeric(df["weight_decay"], errors="coerce").fillna(0.0))


def weight_decay_table(runs: pd.DataFrame,
                       metrics: Sequence[str] = SWEEP_COLUMNS) -> pd.DataFrame:
    """Per (dataset, kind, γ) and metric: ``n``, ``mean``, ``low``, ``high`` (95 %, bootstrap).

    Empty unless some (dataset, kind) was trained at three or more weight decays (a sweep;
    two weight decays are an arm comparison, which the other tables show).
    """
    df = _sweep_runs(runs)
    cols = ["dataset", "kind", "gamma", "metric", "n", "mean", "low", "high"]
    if df.empty or df.groupby(["dataset", "kind"])["gamma"].nunique().max() < 3:
        return pd.DataFrame(columns=cols)
    rows: list[dict[str, Any]] = []
    for (ds, kind, gamma), grp in df.groupby(["dataset", "kind", "gamma"], sort=True):
        for m in metrics:
            if m not in grp.columns:
                continue
            v = pd.to_numeric(grp[m], errors="coerce").to_numpy(dtype=np.float64)
            v = v[np.isfinite(v)]
            if v.size == 0:
                continue
            iv = mean_interval(v)
            rows.append({"dataset": ds, "kind": kind, "gamma": float(gamma), "metric": m,
                         "n": iv.n, "mean": iv.mean, "low": iv.low, "high": iv.high})
    return pd.DataFrame(rows, columns=cols)


def weight_decay_trend(runs: pd.DataFrame, metric: str = "lss_mean", kind: str = "residual",
                       n_boot: int = 2000, seed: int = 0) -> Interval | None:
    """Spearman's ρ between γ and ``metric`` over the networks of ``kind`` (pooled over data
    sets after ranking within each), with a seeded percentile-bootstrap interval.

    Ranks are taken within each data set, so data sets of different scale are comparable;
    ``None`` when fewer than 3 distinct γ or 4 networks.
    """
    df = _sweep_runs(runs)
    if df.empty or metric not in df.columns:
        return None
    df = df[df["kind"] == kind].assign(_v=pd.to_numeric(df[metric], errors="coerce"))
    df = df.dropna(subset=["_v"])
    if df["gamma"].nunique() < 3 or len(df) < 4:
        return None
    g = df.groupby("dataset")
    rg = g["gamma"].rank(method="average").to_numpy(dtype=np.float64)
    rv = g["_v"].rank(method="average").to_numpy(dtype=np.float64)
    r = pearson(rg, rv)
    if math.isnan(r):
        return Interval(r, math.nan, math.nan, int(rg.size), math.nan)
    lo, hi = bootstrap_pearson(rg, rv, n_boot, seed)
    return Interval(r, lo, hi, int(rg.size), math.nan)
