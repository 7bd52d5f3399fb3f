"""Least-action figure (Karkar et al.): accuracy and kinetic energy per arm and train fraction."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from layerflow.report._format import format_number
from layerflow.report.figures._common import (
    colour_map,
    datasets_of,
    figure_grid,
    null_locator,
    title_for,
)


def least_action_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The low-data study: per dataset, arm and train fraction, mean and 95 % interval."""
    from layerflow.stats._least_action import study_table

    return study_table(runs)


def figure_least_action(table: pd.DataFrame) -> Any:
    """Test accuracy against train fraction per arm (95 % intervals); kinetic energy per arm.

    One column per data set; for each model kind a row of accuracies and (when measured) a row
    of kinetic energies (log scale).
    """
    datasets = datasets_of(table)
    kinds = list(dict.fromkeys(table["model_kind"].astype(str)))
    has_ke = "kinetic_energy_mean" in table.columns and table["kinetic_energy_mean"].notna().any()
    rows = [(k, m) for k in kinds for m in (("test_acc", "kinetic_energy") if has_ke
                                             else ("test_acc",))]
    fig, axes = figure_grid(len(datasets), len(rows), w=3.4, h=2.5)
    arms = list(dict.fromkeys(table["arm"].astype(str)))
    colours = colour_map(arms)
    handles: dict[str, Any] = {}
    for j, ds in enumerate(datasets):
        for i, (kind, metric) in enumerate(rows):
            ax = axes[i][j]
            sub = table[(table["dataset"].astype(str) == ds)
                        & (table["model_kind"].astype(str) == kind)]
            if sub.empty:
                ax.set_axis_off()
                continue
            fr = sorted(set(sub["train_fraction"].astype(float)))
            for a_i, arm in enumerate(arms):
                s = sub[sub["arm"] == arm].sort_values("train_fraction")
                if s.empty:
                    continue
                x = s["train_fraction"].to_numpy(dtype=np.float64) * (1 + 0.04 * (a_i - 1))
                y = s[f"{metric}_mean"].to_numpy(dtype=np.float64)
                lo = np.nan_to_num(y - s[f"{metric}_low"].to_numpy(dtype=np.float64))
                hi = np.nan_to_num(s[f"{metric}_high"].to_numpy(dtype=np.float64) - y)
                h = ax.errorbar(x, y, yerr=[lo, hi], marker="o", ms=3, capsize=3,
                                color=colours[arm], label=arm)
                handles.setdefault(arm, h)
            ax.set_xscale("log")
            if metric == "kinetic_energy":
                ax.set_yscale("log")
            ax.set_xticks(fr, [f"{format_number(100 * f)}%" for f in fr], fontsize=7)
            ax.minorticks_off() if metric == "test_acc" else ax.xaxis.set_minor_locator(
                null_locator())
            if i == 0:
                ax.set_title(ds, fontsize=9)
            if j == 0:
                label = "test accuracy (95 % CI)" if metric == "test_acc" else "kinetic energy"
                ax.set_ylabel(f"{kind}\n{label}", fontsize=8)
            if i == len(rows) - 1:
                ax.set_xlabel("fraction of training data")
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside right center",
                   fontsize=7)
    fig.suptitle(title_for("Least action: low-data generalisation per training arm", table),
                 fontsize=10)
    return fig
