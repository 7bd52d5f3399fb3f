"""Data tracks through the layers: saved trajectories drawn by :func:`layerflow.plot.tracks`
and :func:`layerflow.plot.layers` (one drawing of each thing; no PCA of its own)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory
from layerflow.plot import layers, panel_states, shared_pca, tracks
from layerflow.report.figures._common import figure_grid

SNAPSHOTS = 5  # single-layer panels per network, beside its tracks


@dataclass(frozen=True)
class _Track:
    run_id: str
    dataset: str
    variant: str
    path: Path


def _pick_tracks(runs: pd.DataFrame, trajectories: Mapping[str, Path],
                 per_dataset: int = 2, max_datasets: int = 3) -> list[_Track]:
    df = runs[runs["run_id"].astype(str).isin({str(k) for k in trajectories})]
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
        known = ("residual", "plain", "bottleneck")
        kinds = [*known, *sorted(set(sub["kind"].astype(str)) - set(known))]
        for kind in kinds:
            s = sub[sub["kind"] == kind]
            if len([p for p in picked if p.dataset == ds]) >= per_dataset:
                break
            if not s.empty:
                r = s.iloc[0]
                rid = str(r["run_id"])
                picked.append(_Track(rid, str(ds), str(r["variant"]), Path(trajectories[rid])))
        # one kind only (a transformer study): its untrained baseline is the second row
        mine = [p for p in picked if p.dataset == ds]
        if mine and len(mine) < per_dataset:
            first = sub[sub["run_id"].astype(str) == mine[0].run_id].iloc[0]
            base = sub[(sub["kind"] == first["kind"]) & ~sub["trained"]]
            if bool(first["trained"]) and not base.empty:
                r = base.iloc[0]
                rid = str(r["run_id"])
                picked.append(_Track(rid, str(ds), str(r["variant"]), Path(trajectories[rid])))
    return picked


def _load(path: Path | str, max_points: int) -> Trajectory:
    """The saved trajectory, subsampled (seed 0) to at most ``max_points`` samples."""
    traj = Trajectory.load(Path(path))
    return traj.subsample(max_points, seed=0) if traj.n_samples > max_points else traj


def tracks_table(runs: pd.DataFrame, trajectories: Mapping[str, Path],
                 max_points: int = 400) -> pd.DataFrame:
    """The trajectories drawn, and per drawn layer the variance share of its top 2 principal axes.

    The drawn layers are :func:`~layerflow.plot.panel_states` ``(n_states, 5)``; the share is
    the sum of the two ``explained`` of :func:`~layerflow.plot.shared_pca` ``([state])`` — the
    projection :func:`figure_tracks` draws that layer on.

    Columns: run_id, dataset, variant, layer, layer_name, width, n_points, pca2_explained.
    """
    rows: list[dict[str, Any]] = []
    for t in _pick_tracks(runs, trajectories):
        traj = _load(t.path, max_points)
        for li in panel_states(len(traj.states), SNAPSHOTS):
            _, ex = shared_pca([traj.states[li]])
            rows.append({"run_id": t.run_id, "dataset": t.dataset, "variant": t.variant,
                         "layer": li, "layer_name": traj.layer_names[li],
                         "width": traj.widths[li], "n_points": traj.n_samples,
                         "pca2_explained": float(ex.sum()), "path": str(t.path)})
    return pd.DataFrame(rows, columns=["run_id", "dataset", "variant", "layer", "layer_name",
                                       "width", "n_points", "pca2_explained", "path"])


def figure_tracks(table: pd.DataFrame, max_points: int = 400, n_tracks: int = 40) -> Any:
    """Data tracks through the layers, one row per drawn network, drawn by :mod:`layerflow.plot`.

    Left: :func:`~layerflow.plot.tracks` — ``n_tracks`` samples' tracks ``x^(0) … x^(L)``
    through the longest equal-width run of states, in the projection shared by all those states
    (start ○, end ●). Right: :func:`~layerflow.plot.layers` with ``projection="own"`` — each
    listed layer on its own top-2 principal axes (the share of variance they keep is the table's
    ``pca2_explained``), coloured by class. ``table`` is :func:`tracks_table` (it names the
    trajectory files).
    """
    runs = list(dict.fromkeys(table["run_id"]))
    ncols = 1 + int(table.groupby("run_id").size().max())
    fig, axes = figure_grid(ncols, len(runs), w=2.3, h=2.2)
    for i, rid in enumerate(runs):
        sub = table[table["run_id"] == rid]
        traj = _load(str(sub["path"].iloc[0]), max_points)
        ax = axes[i][0]
        try:
            traj.equal_width_run(None)
        except ConfigError:
            ax.text(0.5, 0.5, "no equal-width run", ha="center", va="center", fontsize=7)
        else:
            tracks(traj, n_tracks=n_tracks, seed=0, ax=ax)
        ax.set_ylabel(f"{sub['dataset'].iloc[0]}\n{sub['variant'].iloc[0]}", fontsize=7)
        drawn = list(axes[i][1:1 + len(sub)])
        layers(traj, states=list(sub["layer"].astype(int)), projection="own", ax=drawn)
        for a in drawn:
            if a.get_legend() is not None:  # one class legend per row: the tracks panel's
                a.get_legend().remove()
        for a in axes[i]:
            a.set_xticks([])
            a.set_yticks([])
            for text in (a.title, a.xaxis.label, a.yaxis.label):
                text.set_fontsize(7)
        for a in axes[i][1 + len(sub):]:
            a.set_axis_off()
    fig.suptitle("Data through the layers (PCA projections, coloured by class)", fontsize=10)
    return fig
