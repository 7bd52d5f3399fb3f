"""Sweeps: a YAML config -> a grid of networks -> batched training and analysis -> a Parquet store.

::

    from layerflow.sweep import run_sweep, ResultStore
    run_sweep("paper-ricci", out="results/paper-ricci")          # or a YAML path / a dict
    runs = ResultStore("results/paper-ricci").runs()              # one row per network
    layers = ResultStore("results/paper-ricci").layers()          # long per-layer table
    coefficients = read_coefficients("results/paper-ricci")      # every (protocol, k) ρ

Importing this package never imports Dask or Ray; their backends load them when chosen.
"""

from __future__ import annotations

from layerflow._moved import answer_moved
from layerflow.sweep._backends import BACKENDS, make_backend
from layerflow.sweep._config import SweepConfig, expand_runs, load_config
from layerflow.sweep._grid import RunSpec, run_id_of
from layerflow.sweep._runner import SweepProgress, SweepResult, run_sweep
from layerflow.sweep._source import builtin_configs
from layerflow.sweep._store import ResultStore, read_coefficients

__all__ = [
    "BACKENDS",
    "ResultStore",
    "RunSpec",
    "SweepConfig",
    "SweepProgress",
    "SweepResult",
    "builtin_configs",
    "expand_runs",
    "load_config",
    "make_backend",
    "read_coefficients",
    "run_id_of",
    "run_sweep",
]

answer_moved(__name__)
