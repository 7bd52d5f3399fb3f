"""What the report reads: the results store as two tables plus the files beside them.

The report never trains or measures; it reads the sweep store (``ResultStore(out).runs()`` and
``.layers()``), ``OUT/config.yaml``, ``OUT/versions.json`` and the trajectories saved in
``OUT/trajectories/`` (each file's name ends with its run's id).
:class:`ReportInput` holds exactly that, so a test (or a notebook) can build one by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from layerflow.errors import LayerflowError

__all__ = ["ReportError", "ReportInput", "layer_metric", "load_input", "select_k"]


class ReportError(LayerflowError):
    """The folder holds no results store, or the store cannot be read as one."""


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


def select_k(layers: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per-layer rows at each run's own primary ``k`` (the store's ``k`` column); rows without
    a k (W2 steps, Jacobians) are all kept. Runs without a ``k`` keep all their rows."""
    if layers is None or layers.empty or "k" not in layers.columns:
        return layers
    ks = pd.to_numeric(layers["k"], errors="coerce")
    if "k" not in runs.columns:
        return layers
    primary = pd.to_numeric(runs.set_index("run_id")["k"], errors="coerce")
    want = layers["run_id"].map(primary)
    return layers[ks.isna() | want.isna() | (ks == want)]


def _run_id_of_file(path: Path) -> str:
    """The run a saved trajectory belongs to: the 16-hex-digit id its name ends with
    (``moons-resnet-…-seed0-3f2a9c0d1e4b5a6c.npz``), or the whole stem (``<run_id>.npz``)."""
    m = re.search(r"(?:^|-)([0-9a-f]{16})$", path.stem)
    return m.group(1) if m else path.stem


def load_input(out_dir: str | Path) -> ReportInput:
    """Read a results folder written by :func:`layerflow.sweep.run_sweep`.

    Raises :class:`ReportError` naming the folder if it holds no store.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise ReportError(f"results folder {str(out)!r} does not exist")
    from layerflow.sweep.store import ResultStore

    try:
        store = ResultStore(out)
        runs = store.runs()
        layers = store.layers(runs)  # the runs just read, not a second read of every part
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
        {_run_id_of_file(p): p for p in sorted(traj_dir.glob("*.npz"))} if traj_dir.is_dir()
        else {}
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
    )


def layer_metric(layers: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of the long layers table for one per-layer ``metric`` a view declares (empty when
    the store has none), values as floats."""
    cols = ["run_id", "layer", "layer_name", "metric", "k", "value"]
    if layers is None or layers.empty or "metric" not in layers.columns:
        return pd.DataFrame(columns=cols)
    sel = layers[layers["metric"].astype(str) == metric].copy()
    sel["value"] = pd.to_numeric(sel["value"], errors="coerce")
    return sel
