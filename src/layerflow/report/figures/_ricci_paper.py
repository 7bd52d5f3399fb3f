"""The Ricci paper's figures from a store: η_l against Ric_l for one well-trained network, and ρ
against test accuracy per data set for each k (Baptista et al.'s Figures)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from layerflow.report._format import format_number
from layerflow.report.figures._common import MAX_PANELS, figure_grid
from layerflow.stats._accuracy import WELL_TRAINED
from layerflow.stats._ricci import coefficient_table, first_pair_of, protocols_in_store


def eta_ric_table(runs: pd.DataFrame, layers: pd.DataFrame,
                  coefficients: pd.DataFrame | None = None) -> pd.DataFrame:
    """(η_l, Ric_l) per layer pair of one well-trained network (the most accurate with a
    coefficient, first data set) at its primary k, for every protocol the store holds
    (``coefficients``: the store's coefficients table)."""
    if layers is None or layers.empty or "ricci_rho" not in runs.columns:
        return pd.DataFrame()
    df = runs[runs["trained"].astype(bool)
              & pd.to_numeric(runs["ricci_rho"], errors="coerce").notna()]
    if "test_acc" in df.columns:
        df = df[pd.to_numeric(df["test_acc"], errors="coerce") >= WELL_TRAINED]
    if df.empty:
        return pd.DataFrame()
    best = df.sort_values(["dataset", "test_acc", "run_id"], ascending=[True, False, True]).iloc[0]
    coef = coefficient_table(runs, coefficients)
    _, protos, _ = protocols_in_store(runs, coef)
    mine = coef[coef["run_id"] == best["run_id"]]
    lay = layers[(layers["run_id"] == best["run_id"])
                 & (pd.to_numeric(layers["k"], errors="coerce") == best["k"])]
    rows = []
    for proto in protos:
        first = first_pair_of(mine, proto)
        at = lay[lay["protocol"] == proto]
        eta = at[at["metric"] == "eta"].set_index("layer")["value"]
        ric = at[at["metric"] == "scalar_curvature"].set_index("layer")["value"]
        for layer in eta.index:
            rows.append({"run_id": best["run_id"], "dataset": best["dataset"],
                         "test_acc": float(best["test_acc"]), "k": int(best["k"]),
                         "protocol": proto, "first_pair": first, "layer": int(layer),
                         "eta": float(eta[layer]), "ric": float(ric.get(layer, np.nan))})
    return pd.DataFrame(rows)


def figure_eta_ric(table: pd.DataFrame) -> Any:
    """One panel per protocol: η_l against Ric_l, each point a layer pair (labelled l)."""
    from layerflow.stats._correlation import pearson

    protos = list(dict.fromkeys(table["protocol"]))
    fig, axes = figure_grid(len(protos), 1, w=3.6, h=3.0)
    for j, proto in enumerate(protos):
        ax = axes[0][j]
        s = table[table["protocol"] == proto].sort_values("layer")
        first = int(s["first_pair"].iloc[0])
        used = s[s["layer"] >= first]
        ax.scatter(s["ric"], s["eta"], s=18, facecolors="none", edgecolors="0.6")
        ax.scatter(used["ric"], used["eta"], s=18, color="C0")
        for _, r in s.iterrows():
            ax.annotate(str(int(r["layer"])), (r["ric"], r["eta"]), fontsize=6,
                        xytext=(2, 2), textcoords="offset points")
        rho = pearson(used["ric"].to_numpy(np.float64), used["eta"].to_numpy(np.float64))
        ax.set_title(f"{proto}: ρ = {format_number(rho)} (pairs l ≥ {first})", fontsize=8)
        ax.set_xlabel("Ric_l (scalar curvature)")
        ax.set_ylabel("η_l = g_l+1 − g_l")
    r0 = table.iloc[0]
    fig.suptitle(f"One well-trained network ({r0['dataset']}, test accuracy "
                 f"{format_number(r0['test_acc'])}, k = {r0['k']}): η_l against Ric_l", fontsize=9)
    return fig


def rho_accuracy_table(runs: pd.DataFrame,
                       coefficients: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per network, protocol and k: dataset, trained flag, test accuracy and ρ
    (``coefficients``: the store's coefficients table)."""
    coef = coefficient_table(runs, coefficients)
    _, protos, ks = protocols_in_store(runs, coef)
    df = runs
    if not ks or "test_acc" not in df.columns:
        return pd.DataFrame()
    rows = []
    for proto in protos:
        for k in ks:
            at = coef[(coef["protocol"] == proto) & (coef["k"] == k)].set_index("run_id")["rho"]
            if at.empty:
                continue
            part = df[["run_id", "dataset", "trained", "test_acc"]].assign(
                protocol=proto, k=k, rho=df["run_id"].map(at).astype(np.float64))
            rows.append(part.dropna(subset=["rho"]))
    if not rows:
        return pd.DataFrame()
    return pd.concat(rows, ignore_index=True)


def figure_rho_accuracy(table: pd.DataFrame) -> Any:
    """Rows: k; columns: data sets; ρ against test accuracy, a colour per protocol (trained
    networks filled, untrained hollow)."""
    ks = sorted(set(table["k"]))
    datasets = list(dict.fromkeys(table["dataset"].astype(str)))[:MAX_PANELS]
    protos = list(dict.fromkeys(table["protocol"]))
    fig, axes = figure_grid(len(datasets), len(ks), w=2.4, h=2.0)
    for i, k in enumerate(ks):
        for j, ds in enumerate(datasets):
            ax = axes[i][j]
            for p_i, proto in enumerate(protos):
                s = table[(table["k"] == k) & (table["dataset"] == ds)
                          & (table["protocol"] == proto)]
                tr = s[s["trained"].astype(bool)]
                un = s[~s["trained"].astype(bool)]
                ax.scatter(tr["test_acc"], tr["rho"], s=6, color=f"C{p_i}", alpha=0.6,
                           label=proto if (i, j) == (0, 0) else None)
                ax.scatter(un["test_acc"], un["rho"], s=6, facecolors="none",
                           edgecolors=f"C{p_i}", alpha=0.6)
            ax.axhline(0.0, color="0.4", lw=0.6, ls=":")
            if i == 0:
                ax.set_title(ds, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"ρ (k = {k})", fontsize=8)
            if i == len(ks) - 1:
                ax.set_xlabel("test accuracy", fontsize=7)
    handles, names = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside right center", fontsize=7)
    fig.suptitle("Ricci coefficient against test accuracy (filled: trained, hollow: untrained)",
                 fontsize=9)
    return fig
