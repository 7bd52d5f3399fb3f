"""Data tracks through the layers: PCA projections of saved trajectories."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layerflow.report.figures._common import figure_grid
from layerflow.stats.tables import finished, prepare_runs

__all__ = ["figure_tracks", "tracks_table"]


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
    fig, axes = figure_grid(ncols, len(runs), w=2.3, h=2.2)
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
