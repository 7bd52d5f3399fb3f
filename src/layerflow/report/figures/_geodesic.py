"""Gai & Zhang's weight-decay sweep: transport metrics of residual and plain networks against
the weight decay γ, with the paper's CIFAR-100 ranges shaded for orientation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from layerflow.report._papers import GAI_ZHANG_CIFAR100
from layerflow.report.figures._common import datasets_of, figure_grid, title_for
from layerflow.stats._geodesic import SWEEP_COLUMNS, weight_decay_table
from layerflow.views import get_view


def geodesic_table(runs: pd.DataFrame) -> pd.DataFrame:
    """:func:`layerflow.stats._geodesic.weight_decay_table` plus the paper's range per row."""
    tab = weight_decay_table(runs)
    if tab.empty:
        return tab
    lo = [GAI_ZHANG_CIFAR100.get(k, {}).get(m, (np.nan, np.nan))[0]
          for k, m in zip(tab["kind"], tab["metric"], strict=True)]
    hi = [GAI_ZHANG_CIFAR100.get(k, {}).get(m, (np.nan, np.nan))[1]
          for k, m in zip(tab["kind"], tab["metric"], strict=True)]
    return tab.assign(paper_low=lo, paper_high=hi)


def _x(gamma: np.ndarray, smallest: float) -> np.ndarray:
    """γ on a log axis, with γ = 0 drawn a decade below the smallest positive γ."""
    return np.where(gamma > 0, gamma, smallest / 10.0)


def figure_geodesic(table: pd.DataFrame) -> Any:
    """One column per data set, one row per metric: mean with 95 % interval per γ for each kind;
    grey bands: the paper's CIFAR-100 range for that kind (orientation only)."""
    datasets = datasets_of(table)
    metrics = [m for m in SWEEP_COLUMNS if m in set(table["metric"])]
    fig, axes = figure_grid(len(datasets), len(metrics), w=3.2, h=2.4)
    positive = table.loc[table["gamma"] > 0, "gamma"]
    smallest = float(positive.min()) if len(positive) else 1e-4
    labels = {c.name: c.label for c in get_view("transport").columns} | {"test_acc": "test accuracy"}
    colour = {"residual": "C0", "plain": "C3"}
    for j, ds in enumerate(datasets):
        for i, m in enumerate(metrics):
            ax = axes[i][j]
            for kind in ("residual", "plain"):
                s = table[(table["dataset"] == ds) & (table["metric"] == m)
                          & (table["kind"] == kind)].sort_values("gamma")
                if s.empty:
                    continue
                x = _x(s["gamma"].to_numpy(dtype=np.float64), smallest)
                y = s["mean"].to_numpy(dtype=np.float64)
                err = [np.nan_to_num(y - s["low"].to_numpy(dtype=np.float64)),
                       np.nan_to_num(s["high"].to_numpy(dtype=np.float64) - y)]
                ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2, color=colour[kind],
                            label=kind)
                band = GAI_ZHANG_CIFAR100.get(kind, {}).get(m)
                if band is not None:
                    ax.axhspan(*band, color=colour[kind], alpha=0.08, lw=0)
            ax.set_xscale("log")
            if i == 0:
                ax.set_title(ds, fontsize=9)
            if j == 0:
                ax.set_ylabel(labels.get(m, m), fontsize=8)
            if i == len(metrics) - 1:
                ax.set_xlabel(f"weight decay γ (γ = 0 at {smallest / 10:g})", fontsize=7)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside right center", fontsize=7)
    fig.suptitle(title_for("Weight decay and the geodesic (bands: Gai & Zhang's CIFAR-100 "
                           "ranges)", table), fontsize=10)
    return fig
