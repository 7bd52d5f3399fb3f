"""Transport figures (Gai & Zhang): LSS and OTS per variant; the W2 path per layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from layerflow.plot import interval_bars
from layerflow.report.figures._common import (
    colour_map,
    datasets_of,
    figure_grid,
    lines_figure,
    mean_with_interval,
    per_layer_table,
    title_for,
    variant_order,
)


def lss_ots_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and variant: n, mean and 95 % interval of LSS (mean over samples) and OTS."""
    df = runs
    rows: list[dict[str, Any]] = []
    for metric in ("lss_mean", "ots"):
        if metric not in df.columns:
            continue
        vals = pd.to_numeric(df[metric], errors="coerce")
        for (ds, var), grp in df.assign(_v=vals).groupby(["dataset", "variant"], sort=False):
            n, mean, low, high = mean_with_interval(grp["_v"].to_numpy(dtype=np.float64))
            if n:
                rows.append({"dataset": ds, "variant": var, "metric": metric, "n": n,
                             "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows, columns=["dataset", "variant", "metric", "n", "mean", "low", "high"])


def _bars(ax: Any, sub: pd.DataFrame, order: list[str], colours: Mapping[str, Any]) -> None:
    sub = sub.set_index("variant")
    xs = [v for v in order if v in sub.index]
    if xs:
        rows = sub.loc[xs]
        interval_bars(rows["mean"], rows["low"], rows["high"], color=[colours[v] for v in xs],
                      ax=ax)
    ax.set_xticks(range(len(xs)), xs, rotation=35, ha="right", fontsize=7)


def figure_lss_ots(table: pd.DataFrame) -> Any:
    """Bars of mean LSS (top) and OTS (bottom) per variant, one column per dataset (95 % CI)."""
    datasets = datasets_of(table)
    metrics = [m for m in ("lss_mean", "ots") if m in set(table["metric"])]
    fig, axes = figure_grid(len(datasets), len(metrics), w=3.4, h=2.9)
    order = variant_order(table["variant"])
    colours = colour_map(order)
    names = {"lss_mean": "LSS (1 = straight)", "ots": "OTS (1 = OT map)"}
    for j, ds in enumerate(datasets):
        for i, m in enumerate(metrics):
            ax = axes[i][j]
            _bars(ax, table[(table["dataset"] == ds) & (table["metric"] == m)], order, colours)
            if i == 0:
                ax.set_title(ds, fontsize=9)
            if j == 0:
                ax.set_ylabel(names[m])
            if m == "lss_mean":
                ax.axhline(1.0, color="0.4", lw=0.8, ls=":")
    fig.suptitle(title_for("Line-shape score and OT score: residual vs plain networks", table),
                 fontsize=10)
    return fig


def w2_table(runs: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, variant and layer l: mean over networks of ``W2(μ_l, μ_{l+1})``."""
    return per_layer_table(runs, layers, ("w2_step",))


def figure_w2(table: pd.DataFrame) -> Any:
    """W2 distance between consecutive layers' empirical measures, per layer (mean over networks)."""
    return lines_figure(table, "Wasserstein-2 step per layer (constant on a constant-speed geodesic)")
