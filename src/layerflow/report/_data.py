"""What the report reads: the results store as two tables plus the files beside them.

The report never trains or measures; it reads the sweep store (``ResultStore(out).runs()`` and
``.layers()``), ``OUT/config.yaml``, ``OUT/versions.json`` and ``OUT/trajectories/<run_id>.npz``.
:class:`ReportInput` holds exactly that, so a test (or a notebook) can build one by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from layerflow.errors import LayerflowError

__all__ = [
    "KIND_LABELS",
    "LAYER_METRICS",
    "ReportError",
    "ReportInput",
    "finished",
    "layer_metric",
    "load_input",
    "prepare_runs",
    "primary_k_of",
    "select_k",
]


class ReportError(LayerflowError):
    """The folder holds no results store, or the store cannot be read as one."""


# model kind in the store -> the words the report uses
KIND_LABELS: dict[str, str] = {
    "resnet": "residual",
    "residual": "residual",
    "mlp": "plain",
    "plain": "plain",
    "bottleneck": "bottleneck",
}

# per-layer quantity -> names the store may use for it in layers().metric (first present wins)
LAYER_METRICS: dict[str, tuple[str, ...]] = {
    "w2_step": ("w2_step", "w2", "w2_path", "wasserstein_step"),
    "scalar_curvature": ("scalar_curvature", "ricci_scalar_curvature", "ric", "forman_curvature"),
    "geodesic_mass": ("geodesic_mass", "ricci_geodesic_mass"),
    "orientation_fraction": (
        "jacobian_orientation_fraction",
        "orientation_preserving_fraction",
        "orientation_fraction",
        "jacobian_orient_frac",
        "jacobian_diffeo_fraction",
    ),
    "log_abs_det": ("jacobian_logabsdet_mean", "log_abs_det_mean", "logabsdet_mean"),
}


@dataclass(frozen=True, eq=False)
class ReportInput:
    """Everything a report is built from.

    ``runs``: one row per network (SPEC: run_id, dataset, model_kind, …, test_acc, metrics);
    ``layers``: long table (run_id, layer, layer_name, metric, k, value);
    ``trajectories``: run_id -> path of a saved :class:`~layerflow.Trajectory`;
    ``config_text``: the YAML the study ran; ``versions``: package versions recorded by the runner.
    """

    runs: pd.DataFrame
    layers: pd.DataFrame = field(default_factory=pd.DataFrame)
    trajectories: Mapping[str, Path] = field(default_factory=dict)
    config_text: str = ""
    versions: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    primary_k: int | None = None


def primary_k_of(config_text: str) -> int | None:
    """``analysis.k`` of a sweep config's YAML (the k of the ``ricci_rho`` column), if stated."""
    import yaml

    try:
        cfg = yaml.safe_load(config_text) if config_text else None
    except yaml.YAMLError:
        return None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("analysis"), dict):
        return None
    k = cfg["analysis"].get("k")
    return int(k) if isinstance(k, int) and not isinstance(k, bool) else None


def select_k(layers: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """Per-layer rows at the primary ``k`` (rows without a k — W2, Jacobians — are all kept)."""
    if k is None or layers is None or layers.empty or "k" not in layers.columns:
        return layers
    ks = pd.to_numeric(layers["k"], errors="coerce")
    return layers[ks.isna() | (ks == k)]


def load_input(out_dir: str | Path) -> ReportInput:
    """Read a results folder written by :func:`layerflow.sweep.run_sweep`.

    Raises :class:`ReportError` naming the folder if it holds no store.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise ReportError(f"results folder {str(out)!r} does not exist")
    try:
        from layerflow.sweep import ResultStore
    except ImportError as exc:  # pragma: no cover - the sweep subpackage ships with layerflow
        raise ReportError(f"cannot read {str(out)!r}: layerflow.sweep is unavailable ({exc})") from exc
    try:
        store = ResultStore(out)
        runs = store.runs()
        layers = store.layers()
    except (OSError, ValueError) as exc:
        raise ReportError(
            f"{str(out)!r} holds no readable layerflow results store ({exc}); "
            "run `layerflow run CONFIG --out DIR` first"
        ) from exc
    if runs is None or len(runs) == 0:
        raise ReportError(
            f"{str(out)!r} holds no results store with finished runs; "
            "run `layerflow run CONFIG --out DIR` first"
        )
    traj_dir = out / "trajectories"
    trajs = (
        {p.stem: p for p in sorted(traj_dir.glob("*.npz"))} if traj_dir.is_dir() else {}
    )
    cfg = out / "config.yaml"
    ver = out / "versions.json"
    versions: dict[str, Any] = {}
    if ver.is_file():
        try:
            versions = dict(json.loads(ver.read_text()))
        except (json.JSONDecodeError, TypeError, ValueError):
            versions = {"versions.json": "unreadable"}
    config_text = cfg.read_text(encoding="utf-8") if cfg.is_file() else ""
    return ReportInput(
        runs=runs,
        layers=layers if layers is not None else pd.DataFrame(),
        trajectories=trajs,
        config_text=config_text,
        versions=versions,
        source=str(out),
        primary_k=primary_k_of(config_text),
    )


def _first_col(df: pd.DataFrame, *names: str) -> str | None:
    for n in names:
        if n in df.columns:
            return n
    return None


def _num(series: pd.Series, default: float = 0.0) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(np.float64).fillna(default)


def prepare_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of the runs table with the columns the report groups by.

    Adds ``kind`` (plain / residual / bottleneck), ``trained`` (bool, default True), ``penalty``
    (True when a transport penalty or Uzawa weight was used), ``wd`` (weight decay + L2 > 0) and
    ``variant`` (e.g. ``"residual + wd + transport"``; `` (untrained)`` appended for baselines).
    """
    df = runs.copy()
    kcol = _first_col(df, "model_kind", "kind", "model")
    kinds = df[kcol].astype(str) if kcol else pd.Series(["?"] * len(df), index=df.index)
    df["kind"] = [KIND_LABELS.get(k, k) for k in kinds]
    if "trained" in df.columns:
        df["trained"] = df["trained"].fillna(True).astype(bool)
    else:
        df["trained"] = True
    tw = _num(df["transport_weight"]) if "transport_weight" in df.columns else 0.0
    uz = df["uzawa"].fillna(False).astype(bool) if "uzawa" in df.columns else False
    df["penalty"] = (pd.Series(tw, index=df.index) > 0) | pd.Series(uz, index=df.index)
    wd = _num(df["weight_decay"]) if "weight_decay" in df.columns else 0.0
    l2 = _num(df["l2"]) if "l2" in df.columns else 0.0
    df["wd"] = pd.Series(wd, index=df.index) + pd.Series(l2, index=df.index) > 0
    variant = df["kind"].astype(str)
    variant = variant + np.where(df["wd"], " + wd", "")
    variant = variant + np.where(df["penalty"], " + transport", "")
    variant = variant + np.where(df["trained"], "", " (untrained)")
    df["variant"] = variant.astype(object)
    if "dataset" not in df.columns:
        df["dataset"] = "data"
    df["dataset"] = df["dataset"].astype(str).astype(object)
    return df


def finished(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose run finished (``status == "ok"`` when a status column exists)."""
    if "status" in df.columns:
        return df[df["status"].astype(str) == "ok"]
    return df


def layer_metric(layers: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Rows of the long layers table for one quantity of :data:`LAYER_METRICS` (empty if absent).

    When the store holds several ``k`` for the quantity, the smallest-|k - 30| value is kept
    (the SPEC default k = 30), so every run contributes one value per layer.
    """
    if layers is None or layers.empty or "metric" not in layers.columns:
        return pd.DataFrame(columns=["run_id", "layer", "layer_name", "metric", "k", "value"])
    names = LAYER_METRICS.get(quantity, (quantity,))
    metric = layers["metric"].astype(str)
    for name in names:
        sel = layers[metric == name]
        if not sel.empty:
            sel = sel.copy()
            if "k" in sel.columns and sel["k"].notna().any():
                ks = pd.to_numeric(sel["k"], errors="coerce")
                present = sorted({float(k) for k in ks.dropna()})
                best = min(present, key=lambda k: (abs(k - 30.0), k))
                sel = sel[(ks == best) | ks.isna()]
            sel["value"] = pd.to_numeric(sel["value"], errors="coerce")
            return sel
    return pd.DataFrame(columns=["run_id", "layer", "layer_name", "metric", "k", "value"])


def is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)
