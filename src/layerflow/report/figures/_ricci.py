"""Ricci figures (Baptista et al.): curvature and geodesic mass per layer; ρ and accuracy."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from layerflow.report.figures._common import figure_grid, lines_figure, per_layer_table


def curvature_table(runs: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, variant and layer: mean scalar curvature ``Ric_l`` and geodesic mass; the
    column ``curvature`` names the edge curvature kind the store recorded (``ricci_curvature``)."""
    tab = per_layer_table(runs, layers, ("scalar_curvature", "geodesic_mass"))
    kinds = (", ".join(sorted(set(runs["ricci_curvature"].dropna().astype(str))))
             if "ricci_curvature" in runs.columns else "")
    return tab.assign(curvature=kinds or "unrecorded")


def figure_curvature(table: pd.DataFrame) -> Any:
    """Scalar curvature (top) and geodesic mass (bottom) per layer, mean over networks."""
    kind = str(table["curvature"].iloc[0]) if "curvature" in table.columns and len(table) else ""
    name = kind.capitalize() if kind and kind != "unrecorded" else "Scalar"
    return lines_figure(table, f"{name} curvature and geodesic mass of the kNN graph per layer")


def ricci_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per network: dataset, variant, trained flag, test accuracy and global Ricci coefficient ρ."""
    df = runs
    if "ricci_rho" not in df.columns:
        return pd.DataFrame(columns=["run_id", "dataset", "variant", "trained", "test_acc",
                                     "ricci_rho"])
    df = df.assign(ricci_rho=pd.to_numeric(df["ricci_rho"], errors="coerce"))
    df = df.dropna(subset=["ricci_rho"])
    if "test_acc" not in df.columns:
        df = df.assign(test_acc=math.nan)
    cols = ["run_id", "dataset", "variant", "trained", "test_acc", "ricci_rho"]
    return df[cols].reset_index(drop=True)


def figure_ricci(table: pd.DataFrame) -> Any:
    """Histogram of ρ for trained vs untrained networks, and ρ against test accuracy."""
    fig, axes = figure_grid(2, 1, w=4.2, h=3.1)
    ax0, ax1 = axes[0]
    rho = table["ricci_rho"].to_numpy(dtype=np.float64)
    bins = np.linspace(-1.0, 1.0, 21) if rho.size and np.abs(rho).max() <= 1 else 20
    groups = [(True, "trained", "C0"), (False, "untrained", "C7")]
    for flag, lab, col in groups:
        v = table.loc[table["trained"] == flag, "ricci_rho"].to_numpy(dtype=np.float64)
        if v.size:
            ax0.hist(v, bins=bins, alpha=0.6, color=col, label=f"{lab} (n={v.size})")
    ax0.axvline(0.0, color="0.3", lw=0.8, ls=":")
    ax0.set_xlabel("Ricci coefficient ρ")
    ax0.set_ylabel("networks")
    ax0.legend(fontsize=7)
    datasets = list(dict.fromkeys(table["dataset"].astype(str)))
    markers = "osD^v<>ph*"
    for flag, lab, col in groups:
        for d_i, ds in enumerate(datasets):
            s = table[(table["trained"] == flag) & (table["dataset"] == ds)]
            if s.empty:
                continue
            ax1.scatter(s["test_acc"], s["ricci_rho"], s=12, color=col, alpha=0.7,
                        marker=markers[d_i % len(markers)], label=f"{ds} ({lab})")
    ax1.axhline(0.0, color="0.3", lw=0.8, ls=":")
    ax1.set_xlabel("test accuracy")
    ax1.set_ylabel("ρ")
    ax1.legend(fontsize=6, loc="best")
    fig.suptitle("Global Ricci coefficient ρ (< 0: Ricci-flow-like)", fontsize=10)
    return fig
