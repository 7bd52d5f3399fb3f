"""A results store built by hand: the report is checked against numbers the test put in."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from layerflow._trajectory import Trajectory
from layerflow.report import Report, ReportInput

from .html_pages import ReportParser


class Rendered(NamedTuple):
    """A hand-built store and the report rendered from it."""

    store: ReportInput
    report: Report
    page: ReportParser
    out: Path

DATASETS = ("moons", "digits:6,8")
KINDS = ("resnet", "mlp")
SEEDS = (0, 1, 2)
N_LAYERS = 4


def make_runs(rng: np.random.Generator, residual_straighter: bool = True) -> pd.DataFrame:
    """Runs with the contract's column names.

    LSS of residual networks is drawn below plain ones (or above, with ``residual_straighter``
    False); every other metric is random, so findings must come from the numbers.
    """
    rows = []
    for ds, kind, wd, seed, trained in itertools.product(
        DATASETS, KINDS, (0.0, 1e-3), SEEDS, (True, False)
    ):
        low, high = (1.1, 1.6), (2.5, 4.0)
        lss_range = low if (kind == "resnet") == residual_straighter else high
        rows.append(
            {
                "run_id": f"{ds}-{kind}-{wd}-{seed}-{int(trained)}",
                "dataset": ds, "model_kind": kind, "width": 8, "depth": N_LAYERS,
                "h": 0.25 if kind == "resnet" else None, "optimizer": "adam", "lr": 1e-2,
                "epochs": 5, "batch_size": 32, "weight_decay": wd, "transport_weight": 0.0,
                "uzawa": False, "train_fraction": 1.0, "seed": seed, "trained": trained,
                "arm": "plain" if wd == 0 else "weight_decay", "status": "ok", "error": "",
                "train_acc": rng.uniform(0.9, 1.0) if trained else rng.uniform(0.4, 0.6),
                "test_acc": rng.uniform(0.95, 1.0) if trained else rng.uniform(0.4, 0.6),
                "lss_mean": rng.uniform(*lss_range), "lss_median": rng.uniform(1, 3),
                "ots": rng.uniform(0, 1), "ot_cost_ratio": rng.uniform(1, 2),
                "w2_geodesic_ratio": rng.uniform(1, 2), "kinetic_energy": rng.uniform(0.1, 5),
                "ricci_rho": rng.uniform(-1, 1), "k": 10,
            }
        )
    return pd.DataFrame(rows)  # the coefficients table: each run's ricci_rho at k = 10


def make_least_action(
    rng: np.random.Generator, fractions: tuple[float, ...] = (0.02, 0.1, 1.0),
    seeds: tuple[int, ...] = (0, 1, 2, 3), penalty_gain: float = 0.05,
) -> pd.DataFrame:
    """A low-data study: three arms; the transport arm's accuracy is shifted by ``penalty_gain``."""
    rows = []
    arms = {"plain": (0.0, 0.0, False), "weight_decay": (1e-3, 0.0, False),
            "transport": (0.0, 0.0, True)}
    for f, seed, (arm, (wd, tw, uz)) in itertools.product(fractions, seeds, arms.items()):
        base = 0.7 + 0.2 * f + rng.normal(0, 0.02)
        acc = base + (penalty_gain if arm == "transport" else 0.0)
        rows.append(
            {
                "run_id": f"la-{arm}-{f}-{seed}", "dataset": "moons", "model_kind": "resnet",
                "width": 8, "depth": N_LAYERS, "weight_decay": wd, "transport_weight": tw,
                "uzawa": uz, "train_fraction": f, "seed": seed, "trained": True, "arm": arm,
                "status": "ok", "test_acc": acc, "train_acc": 1.0,
                "kinetic_energy": rng.uniform(0.1, 0.5) if arm == "transport"
                else rng.uniform(1, 3),
                "lss_mean": rng.uniform(1, 2),
            }
        )
    return pd.DataFrame(rows)


def make_layers(runs: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for rid, kind in zip(runs["run_id"], runs["model_kind"], strict=True):
        for layer in range(N_LAYERS + 1):
            rows.append({"run_id": rid, "layer": layer, "layer_name": f"l{layer}",
                         "metric": "scalar_curvature", "k": 10, "protocol": "layerflow", "value": rng.normal(-100, 10)})
            rows.append({"run_id": rid, "layer": layer, "layer_name": f"l{layer}",
                         "metric": "geodesic_mass", "k": 10, "protocol": "layerflow", "value": rng.uniform(1e3, 2e3)})
            if layer < N_LAYERS:
                rows.append({"run_id": rid, "layer": layer, "layer_name": f"l{layer}",
                             "metric": "w2_step", "k": None, "protocol": "", "value": rng.uniform(0, 1)})
                frac = rng.uniform(0.9, 1.0) if kind == "resnet" else rng.uniform(0.3, 0.6)
                rows.append({"run_id": rid, "layer": layer, "layer_name": f"l{layer}",
                             "metric": "orientation_fraction", "k": None, "protocol": "",
                             "value": frac})
    # η_l = g_{l+1} − g_l from the geodesic masses drawn above (no further random draws)
    mass = {(r["run_id"], r["layer"]): r["value"] for r in rows if r["metric"] == "geodesic_mass"}
    for (rid, layer), g in list(mass.items()):
        if layer < N_LAYERS:
            rows.append({"run_id": rid, "layer": layer, "layer_name": f"l{layer}",
                         "metric": "eta", "k": 10, "protocol": "layerflow", "value": mass[(rid, layer + 1)] - g})
    return pd.DataFrame(rows)


def make_trajectories(runs: pd.DataFrame, folder: Path, rng: np.random.Generator) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for rid in runs.groupby(["dataset", "model_kind"])["run_id"].first():
        n, d = 60, 8
        X = rng.normal(size=(n, 2))
        states = [X] + [rng.normal(size=(n, d)) for _ in range(N_LAYERS)]
        labels = (X[:, 0] > 0).astype(np.int64)
        out[str(rid)] = Trajectory(states, labels=labels).save(folder / f"{rid}.npz")
    return out
