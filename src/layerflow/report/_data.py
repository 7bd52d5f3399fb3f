"""What the report reads: the results store as three tables plus the files beside them.

The report never trains or measures; it reads the sweep store (``ResultStore(out).runs()``,
``.layers()`` and ``.coefficients()``), ``OUT/config.yaml``, ``OUT/versions.json`` and the
trajectories saved in ``OUT/trajectories/`` (each file's name ends with its run's id).
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

from layerflow._errors import DataError


@dataclass(frozen=True, eq=False)
class ReportInput:
    """Everything a report is built from.

    ``runs``: one row per network (run_id, dataset, model_kind, …, test_acc, metrics);
    ``layers``: long table (run_id, layer, layer_name, metric, k, protocol, value);
    ``coefficients``: long table (run_id, protocol, k, rho, first_pair, reason), every Ricci
    coefficient (None: read from a runs table that still holds one column per protocol and k);
    ``trajectories``: run_id -> path of a saved :class:`~layerflow.Trajectory`;
    ``config_text``: the YAML the study ran; ``versions``: package versions recorded by the runner.
    """

    runs: pd.DataFrame
    layers: pd.DataFrame = field(default_factory=pd.DataFrame)
    coefficients: pd.DataFrame | None = None
    trajectories: Mapping[str, Path] = field(default_factory=dict)
    config_text: str = ""
    versions: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


def select_k(layers: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per-layer rows at each run's own primary ``k`` (the store's ``k`` column) and primary
    protocol (``ricci_protocol``); rows without a k (W2 steps, Jacobians) or a protocol are all
    kept. Runs without a ``k`` (a ``ricci_protocol``) keep all their ks (protocols)."""
    if layers is None or layers.empty:
        return layers
    keep = pd.Series(True, index=layers.index)
    if "k" in layers.columns and "k" in runs.columns:
        ks = pd.to_numeric(layers["k"], errors="coerce")
        want = layers["run_id"].map(pd.to_numeric(runs.set_index("run_id")["k"],
                                                  errors="coerce"))
        keep &= ks.isna() | want.isna() | (ks == want)
    if "protocol" in layers.columns and "ricci_protocol" in runs.columns:
        proto = layers["protocol"].fillna("").astype(str)
        want_p = layers["run_id"].map(runs.set_index("run_id")["ricci_protocol"])
        keep &= (proto == "") | want_p.isna() | (proto == want_p)
    return layers[keep]


def _run_id_of_file(path: Path) -> str:
    """The run a saved trajectory belongs to: the 16-hex-digit id its name ends with
    (``moons-resnet-…-seed0-3f2a9c0d1e4b5a6c.npz``), or the whole stem (``<run_id>.npz``)."""
    m = re.search(r"(?:^|-)([0-9a-f]{16})$", path.stem)
    return m.group(1) if m else path.stem


def load_input(out_dir: str | Path) -> ReportInput:
    """Read a results folder written by :func:`layerflow.sweep.run_sweep`.

    Raises :class:`DataError` naming the folder if it holds no store.
    """
    out = Path(out_dir)
    if not out.is_dir():
        raise DataError(f"results folder {str(out)!r} does not exist")
    from layerflow.sweep._store import ResultStore

    try:
        store = ResultStore(out)
        runs = store.runs()
        layers = store.layers(runs)  # the runs just read, not a second read of every part
        coefficients = store.coefficients(runs, layers)
    except (OSError, ValueError) as exc:
        raise DataError(
            f"{str(out)!r} holds no readable layerflow results store ({exc}); "
            "run `layerflow run CONFIG --out DIR` first"
        ) from exc
    if runs is None or len(runs) == 0:
        raise DataError(
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
        coefficients=coefficients,
        trajectories=trajs,
        config_text=config_text,
        versions=versions,
        source=str(out),
    )


def layer_metric(layers: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of the long layers table for one per-layer ``metric`` a view declares (empty when
    the store has none), values as floats."""
    cols = ["run_id", "layer", "layer_name", "metric", "k", "protocol", "value"]
    if layers is None or layers.empty or "metric" not in layers.columns:
        return pd.DataFrame(columns=cols)
    sel = layers[layers["metric"].astype(str) == metric].copy()
    sel["value"] = pd.to_numeric(sel["value"], errors="coerce")
    return sel
