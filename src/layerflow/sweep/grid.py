"""One network of a sweep: a :class:`RunSpec`, with a content-derived ``run_id``.

Each run (one network) gets a ``run_id``: a hash of the canonical JSON of its content (dataset —
with the train fraction it sees —, model, training, arm, seed, trained, analysis settings),
independent of key order, of the config's name and of the output folder, so re-running a config
finds its finished runs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from layerflow.data.provenance import data_source

__all__ = ["RunSpec", "canonical_json", "grid_product", "make_run", "run_id_of"]


def grid_product(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of a ``{field: [values]}`` grid, in a deterministic order."""
    keys = list(grid)
    return [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*grid.values())]


def canonical_json(obj: Any) -> str:
    """Key-order independent JSON (floats written by ``repr``; -0.0 normalised)."""

    def norm(x: Any) -> Any:
        if isinstance(x, Mapping):
            return {str(k): norm(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [norm(v) for v in x]
        if isinstance(x, float) and x == 0.0:
            return 0.0
        return x

    return json.dumps(norm(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def run_id_of(content: Mapping[str, Any]) -> str:
    """Stable 16-hex-digit id of a run's content (canonical JSON, SHA-256)."""
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunSpec:
    """One network of a sweep: what to build, how to train it, how to analyse it.

    ``dataset`` holds the loader's name and arguments plus ``train_fraction`` (the stratified
    share of the training split this run sees); ``model`` the :class:`~layerflow.ModelSpec`
    fields; ``training`` the :class:`~layerflow.TrainConfig` fields that define a run (``None``
    for an untrained baseline); ``analysis`` the chosen views, ``test_points`` and every option
    of the chosen views.
    """

    run_id: str
    dataset: dict[str, Any]
    model: dict[str, Any]
    training: dict[str, Any] | None  # None for an untrained baseline
    arm: str
    seed: int
    trained: bool
    analysis: dict[str, Any]

    @property
    def group_key(self) -> str:
        """Everything but the seed: runs sharing it train as one ensemble."""
        return run_id_of({"dataset": self.dataset, "model": self.model,
                          "training": self.training, "arm": self.arm, "trained": self.trained,
                          "analysis": self.analysis})

    @property
    def train_fraction(self) -> float:
        return float(self.dataset.get("train_fraction", 1.0))

    @property
    def val_fraction(self) -> float:
        return float(self.dataset.get("val_fraction", 0.0))

    @property
    def loader_args(self) -> dict[str, Any]:
        """The keyword arguments of the dataset's loader (name and the splits removed)."""
        return {k: v for k, v in self.dataset.items()
                if k not in ("name", "train_fraction", "val_fraction", "stands_for")}

    def columns(self, training_fields: tuple[str, ...] = ()) -> dict[str, Any]:
        """The config fields of this run as flat table columns.

        ``training_fields`` lists the training columns (the config's training keys); an
        untrained baseline has them null, and ``epochs`` 0.
        """
        t = self.training or {}
        cols: dict[str, Any] = {
            "run_id": self.run_id,
            "group_id": self.group_key[:16],
            "dataset": self.dataset["name"],
            "dataset_args": canonical_json(self.loader_args),
            **data_source(self.dataset),
            "model_kind": self.model["kind"],
        }
        cols.update({k: v for k, v in self.model.items() if k != "kind"})
        cols["arm"] = self.arm
        for name in training_fields or tuple(t):
            cols[name] = t.get(name)
        if self.training is None:
            cols["epochs"] = 0
        cols.update({"train_fraction": self.train_fraction, "val_fraction": self.val_fraction,
                     "seed": self.seed, "trained": self.trained})
        return cols


def make_run(dataset: dict[str, Any], model: dict[str, Any], training: dict[str, Any] | None,
              arm: str, seed: int, trained: bool, analysis: dict[str, Any]) -> RunSpec:
    content = {"dataset": dataset, "model": model, "training": training, "arm": arm,
               "seed": seed, "trained": trained, "analysis": analysis}
    return RunSpec(run_id=run_id_of(content), dataset=dict(dataset), model=dict(model),
                   training=None if training is None else dict(training), arm=arm, seed=seed,
                   trained=trained, analysis=dict(analysis))
