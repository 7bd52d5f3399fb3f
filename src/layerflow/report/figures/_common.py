"""What every report figure shares: the grid of axes, colours, variant order, the interval rule
and the per-layer table/line figure. matplotlib is imported lazily (Agg, no pyplot state).

The drawing itself is :mod:`layerflow.plot`'s: a per-layer line is
:func:`~layerflow.plot.layer_curve`, the same function a single network's figure uses."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from layerflow.plot import layer_curve
from layerflow.report._data import layer_metric
from layerflow.stats._intervals import mean_interval
from layerflow.views import VIEWS, get_view

MAX_PANELS = 6  # datasets shown side by side in one figure (all of them are in the table)


def figure_grid(ncols: int, nrows: int = 1, w: float = 3.6, h: float = 3.0) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(w * ncols, 6.0), h * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def colour_map(labels: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {lab: cmap(i % 10) for i, lab in enumerate(labels)}


def variant_order(variants: Any) -> list[str]:
    kind_rank = {"residual": 0, "plain": 1, "bottleneck": 2}

    def rank(v: str) -> tuple[int, int, int, int, str]:
        kind = v.split(" ")[0]
        return (
            "(untrained)" in v, kind_rank.get(kind, 3), "+ wd" in v, "+ transport" in v, v
        )

    return sorted({str(v) for v in variants}, key=rank)


def mean_with_interval(values: np.ndarray) -> tuple[int, float, float, float]:
    """n, mean and the report's 95 % interval (percentile bootstrap: inside the data's range)."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return 0, math.nan, math.nan, math.nan
    iv = mean_interval(v)
    return iv.n, iv.mean, iv.low, iv.high


def datasets_of(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["dataset"].astype(str)))[:MAX_PANELS]


def title_for(text: str, table: pd.DataFrame) -> str:
    n = table["dataset"].astype(str).nunique()
    if n > MAX_PANELS:
        return f"{text}\n(the first {MAX_PANELS} of {n} data sets; the table holds all)"
    return text


def per_layer_table(runs: pd.DataFrame, layers: pd.DataFrame, quantities: tuple[str, ...],
                    trained_only: bool = False) -> pd.DataFrame:
    """Per quantity, data set, variant and layer: ``n`` networks, the ``mean`` and ``std`` of
    their values, and the report's 95 % interval of the mean (``low``, ``high``: percentile
    bootstrap, inside the values' range; NaN below two networks)."""
    df = runs[runs["trained"]] if trained_only else runs
    rows: list[pd.DataFrame] = []
    order = {q: i for i, q in enumerate(quantities)}
    for q in quantities:
        lm = layer_metric(layers, q)
        if lm.empty:
            continue
        m = lm.merge(df[["run_id", "dataset", "variant"]], on="run_id").dropna(subset=["value"])
        # an infinite value (the geodesic mass of a disconnected graph) has no mean: counted
        infinite = m.assign(_inf=~np.isfinite(m["value"].to_numpy(dtype=np.float64))).groupby(
            ["dataset", "variant", "layer"], sort=False)["_inf"].sum()
        m = m[np.isfinite(m["value"].to_numpy(dtype=np.float64))]
        if m.empty:
            continue
        groups = m.groupby(["dataset", "variant", "layer"], sort=False)["value"]
        g = groups.agg(n="count", mean="mean", std="std").reset_index()
        g["n_infinite"] = [int(infinite.get(key, 0)) for key in
                           zip(g["dataset"], g["variant"], g["layer"], strict=True)]
        ends = [mean_with_interval(v.to_numpy(dtype=np.float64))[2:] for _, v in groups]
        g["low"] = [lo for lo, _ in ends]
        g["high"] = [hi for _, hi in ends]
        g.insert(2, "quantity", q)
        rows.append(g)
    cols = ["dataset", "variant", "quantity", "layer", "n", "mean", "std", "low", "high",
            "n_infinite"]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.concat(rows, ignore_index=True)[cols]
    out["layer"] = out["layer"].astype(int)
    out = out.assign(_q=out["quantity"].map(order))
    out = out.sort_values(["_q", "dataset", "variant", "layer"], kind="stable", ignore_index=True)
    return out.drop(columns="_q")


def lines_figure(table: pd.DataFrame, title: str) -> Any:
    """One panel per (quantity, data set), one :func:`~layerflow.plot.layer_curve` per variant:
    the mean over networks at each layer, with the band ``low``–``high`` when the table has
    those columns. Untrained baselines are dashed."""
    datasets = datasets_of(table)
    quantities = list(dict.fromkeys(table["quantity"]))
    fig, axes = figure_grid(len(datasets), len(quantities), w=3.5, h=2.7)
    order = variant_order(table["variant"])
    colours = colour_map(order)
    for j, ds in enumerate(datasets):
        for i, q in enumerate(quantities):
            ax = axes[i][j]
            sub = table[(table["dataset"] == ds) & (table["quantity"] == q)]
            for v in order:
                s = sub[sub["variant"] == v]
                if s.empty:
                    continue
                ls = "--" if "(untrained)" in v else "-"
                band = (s["low"], s["high"]) if {"low", "high"} <= set(s.columns) else ()
                layer_curve(s["mean"], *band, x=s["layer"], label=v, color=colours[v], ls=ls,
                            ms=3, ax=ax)
            if i == 0:
                ax.set_title(ds, fontsize=9)
            if j == 0:
                ax.set_ylabel(label_of(q), fontsize=8)
            if i == len(quantities) - 1:
                ax.set_xlabel("layer")
            ax.xaxis.set_major_locator(integer_locator())
    seen: dict[str, Any] = {}
    for row in axes:
        for ax in row:
            for hnd, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                seen.setdefault(lab, hnd)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside right center", fontsize=7)
    fig.suptitle(title_for(title, table), fontsize=10)
    return fig


def integer_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def null_locator() -> Any:
    from matplotlib.ticker import NullLocator

    return NullLocator()


def label_of(metric: str) -> str:
    """The label a view declares for a per-layer metric (the metric's name if none does)."""
    for name in VIEWS:
        for col in get_view(name).columns:
            if col.per_layer and col.name == metric:
                return col.label
    return metric


def collapse_equal_layers(table: pd.DataFrame,
                          values: tuple[str, ...] = ("n", "mean", "std", "low", "high",
                                                     "n_infinite")) -> pd.DataFrame:
    """A per-layer table as printed: consecutive layers of one group (every column but ``layer``
    and ``values``) whose ``values`` are all equal are one row, ``layer`` ``"2–7"`` — e.g. an
    orientation share that is 1 at every layer of every network is summarised, not listed."""
    if table.empty or "layer" not in table.columns:
        return table
    vals = [c for c in values if c in table.columns]
    keys = [c for c in table.columns if c != "layer" and c not in vals]
    rows: list[dict[str, Any]] = []
    for _, grp in table.groupby(keys, sort=False, dropna=False) if keys else [((), table)]:
        grp = grp.sort_values("layer", kind="stable")
        run: list[dict[str, Any]] = []
        for rec in grp.to_dict("records"):
            same = run and all(_same(run[-1][c], rec[c]) for c in vals) \
                and int(rec["layer"]) == int(run[-1]["layer"]) + 1
            if run and not same:
                rows.append(_merged(run))
                run = []
            run.append(rec)
        if run:
            rows.append(_merged(run))
    return pd.DataFrame(rows, columns=list(table.columns))


def _same(a: Any, b: Any) -> bool:
    return bool(a == b) or bool(pd.isna(a) and pd.isna(b))


def _merged(run: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = int(run[0]["layer"]), int(run[-1]["layer"])
    return {**run[0], "layer": str(first) if first == last else f"{first}–{last}"}
