"""The report's figures: each a table of numbers and a pure function from that table to a Figure.

Every figure is drawn from exactly the table the report prints under it, so the picture and the
numbers cannot disagree. A ``*_table`` function turns the store (runs / layers / trajectories)
into that table; an empty table means the store lacks the data, and ``FigureSpec.needs`` says why.
matplotlib is imported here only (with the Agg backend, through ``matplotlib.figure.Figure`` — no
pyplot global state), and ``layerflow.report`` imports this module lazily.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layerflow.report._data import finished, layer_metric, prepare_runs

__all__ = [
    "FIGURES",
    "FigureSpec",
    "curvature_table",
    "figure_curvature",
    "figure_jacobian",
    "figure_least_action",
    "figure_lss_ots",
    "figure_ricci",
    "figure_tracks",
    "figure_w2",
    "jacobian_table",
    "least_action_table",
    "lss_ots_table",
    "ricci_table",
    "tracks_table",
    "w2_table",
]

_MAX_PANELS = 6  # datasets shown side by side in one figure (all of them are in the table)


def _figure(ncols: int, nrows: int = 1, w: float = 3.6, h: float = 3.0) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(w * ncols, 6.0), h * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _colours(labels: list[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {lab: cmap(i % 10) for i, lab in enumerate(labels)}


def _variant_order(variants: Any) -> list[str]:
    kind_rank = {"residual": 0, "plain": 1, "bottleneck": 2}

    def rank(v: str) -> tuple[int, int, int, int, str]:
        kind = v.split(" ")[0]
        return (
            "(untrained)" in v, kind_rank.get(kind, 3), "+ wd" in v, "+ transport" in v, v
        )

    return sorted({str(v) for v in variants}, key=rank)


def _interval(values: np.ndarray) -> tuple[int, float, float, float]:
    from layerflow.study import t_interval

    v = values[~np.isnan(values)]
    if v.size == 0:
        return 0, math.nan, math.nan, math.nan
    iv = t_interval(v)
    return iv.n, iv.mean, iv.low, iv.high


def _datasets(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["dataset"].astype(str)))[:_MAX_PANELS]


def _title(text: str, table: pd.DataFrame) -> str:
    n = table["dataset"].astype(str).nunique()
    if n > _MAX_PANELS:
        return f"{text}\n(the first {_MAX_PANELS} of {n} data sets; the table holds all)"
    return text


# ------------------------------------------------------------------------------- LSS / OTS
def lss_ots_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and variant: n, mean and 95 % t-interval of LSS (mean over samples) and OTS."""
    df = finished(prepare_runs(runs))
    rows: list[dict[str, Any]] = []
    for metric in ("lss_mean", "ots"):
        if metric not in df.columns:
            continue
        vals = pd.to_numeric(df[metric], errors="coerce")
        for (ds, var), grp in df.assign(_v=vals).groupby(["dataset", "variant"], sort=False):
            n, mean, low, high = _interval(grp["_v"].to_numpy(dtype=np.float64))
            if n:
                rows.append({"dataset": ds, "variant": var, "metric": metric, "n": n,
                             "mean": mean, "low": low, "high": high})
    return pd.DataFrame(rows, columns=["dataset", "variant", "metric", "n", "mean", "low", "high"])


def _bars(ax: Any, sub: pd.DataFrame, order: list[str], colours: Mapping[str, Any]) -> None:
    sub = sub.set_index("variant")
    xs = [v for v in order if v in sub.index]
    for i, v in enumerate(xs):
        r = sub.loc[v]
        err = None
        if not math.isnan(float(r["low"])):
            err = [[float(r["mean"] - r["low"])], [float(r["high"] - r["mean"])]]
        ax.bar(i, float(r["mean"]), color=colours[v], yerr=err, capsize=3)
    ax.set_xticks(range(len(xs)), xs, rotation=35, ha="right", fontsize=7)


def figure_lss_ots(table: pd.DataFrame) -> Any:
    """Bars of mean LSS (top) and OTS (bottom) per variant, one column per dataset (95 % CI)."""
    datasets = _datasets(table)
    metrics = [m for m in ("lss_mean", "ots") if m in set(table["metric"])]
    fig, axes = _figure(len(datasets), len(metrics), w=3.4, h=2.9)
    order = _variant_order(table["variant"])
    colours = _colours(order)
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
    fig.suptitle(_title("Line-shape score and OT score: residual vs plain networks", table),
                 fontsize=10)
    return fig


# -------------------------------------------------------------------------- per-layer lines
def _per_layer(runs: pd.DataFrame, layers: pd.DataFrame, quantities: tuple[str, ...],
               trained_only: bool = False) -> pd.DataFrame:
    df = finished(prepare_runs(runs))
    if trained_only:
        df = df[df["trained"]]
    rows: list[pd.DataFrame] = []
    order = {q: i for i, q in enumerate(quantities)}
    for q in quantities:
        lm = layer_metric(layers, q)
        if lm.empty:
            continue
        m = lm.merge(df[["run_id", "dataset", "variant"]], on="run_id").dropna(subset=["value"])
        if m.empty:
            continue
        g = (m.groupby(["dataset", "variant", "layer"], sort=False)["value"]
             .agg(n="count", mean="mean", std="std").reset_index())
        g.insert(2, "quantity", q)
        rows.append(g)
    cols = ["dataset", "variant", "quantity", "layer", "n", "mean", "std"]
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.concat(rows, ignore_index=True)[cols]
    out["layer"] = out["layer"].astype(int)
    out = out.assign(_q=out["quantity"].map(order))
    out = out.sort_values(["_q", "dataset", "variant", "layer"], kind="stable", ignore_index=True)
    return out.drop(columns="_q")


def w2_table(runs: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, variant and layer l: mean over networks of ``W2(μ_l, μ_{l+1})``."""
    return _per_layer(runs, layers, ("w2_step",))


def curvature_table(runs: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, variant and layer: mean scalar Forman curvature ``Ric_l`` and geodesic mass."""
    return _per_layer(runs, layers, ("scalar_curvature", "geodesic_mass"))


def jacobian_table(runs: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, variant and layer: mean fraction of samples with ``det J > 0``."""
    return _per_layer(runs, layers, ("orientation_fraction",), trained_only=False)


_QUANTITY_LABELS = {
    "w2_step": "W2(μ_l, μ_l+1)",
    "scalar_curvature": "scalar curvature Ric_l",
    "geodesic_mass": "geodesic mass g_l",
    "orientation_fraction": "fraction det J > 0",
}


def _lines(table: pd.DataFrame, title: str) -> Any:
    datasets = _datasets(table)
    quantities = list(dict.fromkeys(table["quantity"]))
    fig, axes = _figure(len(datasets), len(quantities), w=3.5, h=2.7)
    order = _variant_order(table["variant"])
    colours = _colours(order)
    for j, ds in enumerate(datasets):
        for i, q in enumerate(quantities):
            ax = axes[i][j]
            sub = table[(table["dataset"] == ds) & (table["quantity"] == q)]
            for v in order:
                s = sub[sub["variant"] == v]
                if s.empty:
                    continue
                ls = "--" if "(untrained)" in v else "-"
                ax.plot(s["layer"], s["mean"], marker="o", ms=3, ls=ls, color=colours[v],
                        label=v)
            if i == 0:
                ax.set_title(ds, fontsize=9)
            if j == 0:
                ax.set_ylabel(_QUANTITY_LABELS.get(q, q), fontsize=8)
            if i == len(quantities) - 1:
                ax.set_xlabel("layer")
    seen: dict[str, Any] = {}
    for row in axes:
        for ax in row:
            for hnd, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                seen.setdefault(lab, hnd)
    if seen:
        fig.legend(list(seen.values()), list(seen), loc="outside right center", fontsize=7)
    fig.suptitle(_title(title, table), fontsize=10)
    return fig


def figure_w2(table: pd.DataFrame) -> Any:
    """W2 distance between consecutive layers' empirical measures, per layer (mean over networks)."""
    return _lines(table, "Wasserstein-2 step per layer (constant on a constant-speed geodesic)")


def figure_curvature(table: pd.DataFrame) -> Any:
    """Scalar curvature (top) and geodesic mass (bottom) per layer, mean over networks."""
    return _lines(table, "Forman curvature and geodesic mass of the kNN graph per layer")


def figure_jacobian(table: pd.DataFrame) -> Any:
    """Fraction of samples where each layer is a local orientation-preserving diffeomorphism."""
    fig = _lines(table, "Jacobian diagnostics: orientation-preserving fraction per layer")
    for row in fig.axes:
        if row.get_ylabel():
            row.set_ylim(-0.05, 1.05)
    return fig


# ------------------------------------------------------------------------------------ Ricci
def ricci_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per network: dataset, variant, trained flag, test accuracy and global Ricci coefficient ρ."""
    df = finished(prepare_runs(runs))
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
    fig, axes = _figure(2, 1, w=4.2, h=3.1)
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


# ----------------------------------------------------------------------------- least action
def least_action_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The low-data study: per dataset, arm and train fraction, mean and 95 % t-interval."""
    from layerflow.study import study_table

    return study_table(runs)


def figure_least_action(table: pd.DataFrame) -> Any:
    """Test accuracy against train fraction per arm (95 % t-intervals); kinetic energy per arm.

    One column per data set; for each model kind a row of accuracies and (when measured) a row
    of kinetic energies (log scale).
    """
    datasets = _datasets(table)
    kinds = list(dict.fromkeys(table["model_kind"].astype(str)))
    has_ke = "kinetic_energy_mean" in table.columns and table["kinetic_energy_mean"].notna().any()
    rows = [(k, m) for k in kinds for m in (("test_acc", "kinetic_energy") if has_ke
                                             else ("test_acc",))]
    fig, axes = _figure(len(datasets), len(rows), w=3.4, h=2.5)
    arms = list(dict.fromkeys(table["arm"].astype(str)))
    colours = _colours(arms)
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
                if metric == "kinetic_energy":
                    lo = np.minimum(lo, 0.999 * y)  # keep the bar on a log axis
                h = ax.errorbar(x, y, yerr=[lo, hi], marker="o", ms=3, capsize=3,
                                color=colours[arm], label=arm)
                handles.setdefault(arm, h)
            ax.set_xscale("log")
            if metric == "kinetic_energy":
                ax.set_yscale("log")
            ax.set_xticks(fr, [f"{100 * f:.3g}%" for f in fr], fontsize=7)
            ax.minorticks_off() if metric == "test_acc" else ax.xaxis.set_minor_locator(
                _null_locator())
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
    fig.suptitle(_title("Least action: low-data generalisation per training arm", table),
                 fontsize=10)
    return fig


def _null_locator() -> Any:
    from matplotlib.ticker import NullLocator

    return NullLocator()


# ----------------------------------------------------------------------------------- tracks
@dataclass(frozen=True)
class _Track:
    run_id: str
    dataset: str
    variant: str
    path: Path


def _pick_tracks(runs: pd.DataFrame, trajectories: Mapping[str, Path],
                 per_dataset: int = 2, max_datasets: int = 3) -> list[_Track]:
    df = finished(prepare_runs(runs))
    df = df[df["run_id"].astype(str).isin({str(k) for k in trajectories})]
    if df.empty:
        return []
    partial = (pd.to_numeric(df["train_fraction"], errors="coerce").fillna(1.0) < 1.0
               if "train_fraction" in df.columns else pd.Series(False, index=df.index))
    df = df.assign(_pref=(~df["trained"]).astype(int) * 8 + partial.astype(int) * 4
                   + df["penalty"].astype(int) * 2 + df["wd"].astype(int))
    sort_cols = ["_pref", *(["seed"] if "seed" in df.columns else []), "run_id"]
    picked: list[_Track] = []
    for ds in list(dict.fromkeys(df["dataset"]))[:max_datasets]:
        sub = df[df["dataset"] == ds].sort_values(sort_cols, kind="stable")
        for kind in ("residual", "plain", "bottleneck"):
            s = sub[sub["kind"] == kind]
            if len([p for p in picked if p.dataset == ds]) >= per_dataset:
                break
            if not s.empty:
                r = s.iloc[0]
                rid = str(r["run_id"])
                picked.append(_Track(rid, str(ds), str(r["variant"]), Path(trajectories[rid])))
    return picked


def _pca(X: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    Xc = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(Xc, full_matrices=False)
    comps = vt[:n]
    var = s**2
    explained = var[:n] / var.sum() if var.sum() > 0 else np.zeros(min(n, var.size))
    Y = Xc @ comps.T
    if Y.shape[1] < n:
        Y = np.hstack([Y, np.zeros((Y.shape[0], n - Y.shape[1]))])
    return Y, explained


def _snapshot_layers(n_states: int, max_panels: int = 5) -> list[int]:
    if n_states <= max_panels:
        return list(range(n_states))
    return sorted({round(float(x)) for x in np.linspace(0, n_states - 1, max_panels)})


def tracks_table(runs: pd.DataFrame, trajectories: Mapping[str, Path],
                 max_points: int = 400) -> pd.DataFrame:
    """The trajectories drawn, and per drawn layer the variance share of its top 2 principal axes.

    Columns: run_id, dataset, variant, layer, layer_name, width, n_points, pca2_explained.
    """
    from layerflow.trajectory import Trajectory

    rows: list[dict[str, Any]] = []
    for t in _pick_tracks(runs, trajectories):
        traj = Trajectory.load(t.path)
        if traj.n_samples > max_points:
            traj = traj.subsample(max_points, seed=0)
        for li in _snapshot_layers(len(traj.states)):
            _, ex = _pca(traj.states[li].astype(np.float64), 2)
            rows.append({"run_id": t.run_id, "dataset": t.dataset, "variant": t.variant,
                         "layer": li, "layer_name": traj.layer_names[li],
                         "width": traj.widths[li], "n_points": traj.n_samples,
                         "pca2_explained": float(ex.sum()), "path": str(t.path)})
    return pd.DataFrame(rows, columns=["run_id", "dataset", "variant", "layer", "layer_name",
                                       "width", "n_points", "pca2_explained", "path"])


def figure_tracks(table: pd.DataFrame, max_points: int = 400, n_tracks: int = 40) -> Any:
    """Data tracks through the layers, one row per drawn network.

    Left: the tracks ``x^(0) … x^(L)`` of ``n_tracks`` samples through the longest equal-width
    run of states, projected on the top-2 principal axes of all those states together (start ○,
    end ●). Right: 2-D PCA snapshots of single layers, coloured by class. ``table`` is
    :func:`tracks_table` (it names the trajectory files).
    """
    from layerflow.trajectory import Trajectory, TrajectoryError

    runs = list(dict.fromkeys(table["run_id"]))
    ncols = 1 + int(table.groupby("run_id").size().max())
    fig, axes = _figure(ncols, len(runs), w=2.3, h=2.2)
    for i, rid in enumerate(runs):
        sub = table[table["run_id"] == rid]
        traj = Trajectory.load(Path(str(sub["path"].iloc[0])))
        if traj.n_samples > max_points:
            traj = traj.subsample(max_points, seed=0)
        labels = traj.labels if traj.labels is not None else np.zeros(traj.n_samples)
        cmap = "coolwarm" if len(np.unique(labels)) <= 2 else "tab10"
        ax = axes[i][0]
        try:
            start, stop = traj.equal_width_run()
            stack = np.stack(traj.states[start:stop + 1]).astype(np.float64)
            flat, _ = _pca(stack.reshape(-1, stack.shape[2]), 2)
            proj = flat.reshape(stack.shape[0], stack.shape[1], 2)
            idx = np.random.default_rng(0).choice(traj.n_samples,
                                                  size=min(n_tracks, traj.n_samples),
                                                  replace=False)
            lab_norm = (labels - labels.min()) / max(1.0, float(np.ptp(labels)))
            from matplotlib import colormaps
            from matplotlib.collections import LineCollection

            cols = colormaps[cmap](lab_norm[idx].astype(np.float64))
            segs = np.transpose(proj[:, idx, :], (1, 0, 2))  # (tracks, states, 2)
            ax.add_collection(LineCollection(list(segs), colors=cols, linewidths=0.7,
                                             alpha=0.7))
            ax.scatter(segs[:, 0, 0], segs[:, 0, 1], s=8, facecolors="none", edgecolors=cols,
                       linewidths=0.6)
            ax.scatter(segs[:, -1, 0], segs[:, -1, 1], s=8, color=cols)
            ax.autoscale_view()
            ax.set_title(f"tracks, states {start}–{stop}", fontsize=7)
        except TrajectoryError:
            ax.text(0.5, 0.5, "no equal-width run", ha="center", va="center", fontsize=7)
        ax.set_ylabel(f"{sub['dataset'].iloc[0]}\n{sub['variant'].iloc[0]}", fontsize=7)
        for j, li in enumerate(sub["layer"].astype(int), start=1):
            Y, _ = _pca(traj.states[li].astype(np.float64), 2)
            a = axes[i][j]
            a.scatter(Y[:, 0], Y[:, 1], c=labels, cmap=cmap, s=3, alpha=0.8)
            a.set_title(f"{traj.layer_names[li]} (d={traj.widths[li]})", fontsize=7)
        for a in axes[i]:
            a.set_xticks([])
            a.set_yticks([])
        for a in axes[i][1 + len(sub):]:
            a.set_axis_off()
    fig.suptitle("Data through the layers (PCA projections, coloured by class)", fontsize=10)
    return fig


# --------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class FigureSpec:
    """One figure of the report: where its numbers come from, how it is drawn, why it may be absent.

    ``table(runs, layers, trajectories) -> DataFrame``; ``plot(table) -> Figure``; ``needs``
    explains what the store must hold when the table is empty.
    """

    name: str
    view: str
    title: str
    table: Callable[[pd.DataFrame, pd.DataFrame, Mapping[str, Path]], pd.DataFrame]
    plot: Callable[[pd.DataFrame], Any]
    needs: str
    caption: str = ""
    hidden_columns: tuple[str, ...] = field(default_factory=tuple)


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "tracks", "geometry", "Data tracks through the layers",
        lambda r, lay, t: tracks_table(r, t), figure_tracks,
        "saved trajectories (OUT/trajectories/<run_id>.npz) of finished runs",
        "Rows: one residual and one plain network per data set (trained on all the data, no "
        "penalty or weight decay where available, lowest seed). The table gives the share of variance the 2-D projection of each drawn layer "
        "keeps.",
        hidden_columns=("path",),
    ),
    FigureSpec(
        "lss_ots", "transport", "LSS and OTS: residual vs plain",
        lambda r, lay, t: lss_ots_table(r), figure_lss_ots,
        "run metrics lss_mean / ots (transport analysis)",
        "Mean over networks with 95 % Student-t interval. LSS = 1 on a straight track; OTS = 1 "
        "when the network's own pairing of inputs and outputs is the optimal transport map.",
    ),
    FigureSpec(
        "w2_path", "transport", "W2 path per layer",
        lambda r, lay, t: w2_table(r, lay), figure_w2,
        "per-layer W2 steps in the layers table (transport analysis)",
        "W2 distance between the empirical measures of consecutive states, mean over networks.",
    ),
    FigureSpec(
        "curvature", "ricci", "Curvature and geodesic mass per layer",
        lambda r, lay, t: curvature_table(r, lay), figure_curvature,
        "per-layer scalar curvature / geodesic mass in the layers table (Ricci analysis)",
        "Forman scalar curvature Ric_l and geodesic mass g_l of each layer's kNN graph.",
    ),
    FigureSpec(
        "ricci_rho", "ricci", "Ricci coefficients and accuracy",
        lambda r, lay, t: ricci_table(r), figure_ricci,
        "run metric ricci_rho (Ricci analysis)",
        "ρ = Pearson correlation over layers of η_l = g_{l+1} − g_l and Ric_l; untrained "
        "networks of the same shapes are the baseline.",
    ),
    FigureSpec(
        "least_action", "least_action", "Least action: the low-data study",
        lambda r, lay, t: least_action_table(r), figure_least_action,
        "low-data study (runs of one data set and model kind at two or more train fractions)",
        "Mean test accuracy and kinetic energy with 95 % Student-t intervals over seeds, per "
        "training arm and fraction of the training data.",
    ),
    FigureSpec(
        "jacobian", "maps", "Jacobian diagnostics",
        lambda r, lay, t: jacobian_table(r, lay), figure_jacobian,
        "per-layer Jacobian orientation fractions in the layers table (maps analysis)",
        "Fraction of samples at which an equal-width layer has det J > 0 (a local "
        "orientation-preserving diffeomorphism).",
    ),
)
