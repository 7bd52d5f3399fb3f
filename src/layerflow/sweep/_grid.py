"""One network of a sweep: a :class:`RunSpec`, with a content-derived ``run_id``.

Each run (one network) gets a ``run_id``: a hash of the canonical JSON of its content (dataset —
with the train fraction it sees —, model, training, arm, seed, trained, analysis settings, and
the design the config declares: seed role, tuning fraction, low data),
independent of key order, of the config's name and of the output folder, so re-running a config
finds its finished runs.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from layerflow.data._provenance import data_source

#: the role of a run's training, the one definition every reader of a store uses (column
#: ``arm_role``): ``untrained`` (a baseline), ``transport penalty`` (``transport_weight > 0`` or
#: the Uzawa weight), ``weight decay`` (``weight_decay + l2 > 0`` and no penalty), ``plain``
ARM_ROLES: tuple[str, ...] = ("plain", "weight decay", "transport penalty", "untrained")

#: how a sweep draws each run's data (config key ``data_draw``): ``fixed`` — the dataset's own
#: ``seed`` (0 unless given), one draw shared by every seed; ``seed`` — each run seed is its own
#: draw (``data_seed`` = the run seed)
DATA_DRAWS: tuple[str, ...] = ("fixed", "seed")

#: the columns :meth:`RunSpec.columns` adds to the config's fields: what a run is in the study's
#: design (its data draw, role, setting and declared place), none of them a setting of its arm
DESIGN_COLUMNS: tuple[str, ...] = ("dataset_spec", "data_seed", "arm_role", "penalised",
                                   "setting_id", "seed_role", "tune_fraction", "low_data")

#: keys of a run's ``dataset`` mapping that are not loader arguments
_SPLIT_KEYS = ("name", "train_fraction", "val_fraction", "data_draw", "stands_for")


def arm_role_of(training: Mapping[str, Any] | None) -> str:
    """The role of a training config (:data:`ARM_ROLES`); ``None`` is an untrained baseline."""
    if training is None:
        return "untrained"
    if float(training.get("transport_weight", 0.0) or 0.0) > 0.0 or bool(training.get("uzawa")):
        return "transport penalty"
    decay = float(training.get("weight_decay", 0.0) or 0.0) + float(training.get("l2", 0.0) or 0.0)
    return "weight decay" if decay > 0.0 else "plain"


def loader_defaults(name: str) -> dict[str, Any]:
    """The keyword arguments of ``name``'s loader that have a default, with it (``{}`` for a name
    that is not registered)."""
    from layerflow.data import check_dataset

    try:
        entry, _ = check_dataset(name)
    except ValueError:
        return {}
    params = inspect.signature(entry.loader).parameters
    return {k: p.default for k, p in params.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and not k.startswith("_")
            and p.default is not inspect.Parameter.empty}


def dataset_spec_of(name: str, loader_args: Mapping[str, Any]) -> str:
    """The full spec of a data set: its name and every loader argument but the draw's ``seed``,
    sorted, as ``name(k=v,…)`` (``moons(n=1000,noise=0.25)``; the bare name without arguments).

    Two configs of one name with different arguments get different specs, so runs keyed on the
    spec never pair different data. Arguments left at the loader's default are filled in, so
    ``moons`` and ``moons(n=2000)`` (its default ``n``) are one spec.
    """
    args = {**loader_defaults(name), **loader_args}
    args.pop("seed", None)
    if not args:
        return name
    body = ",".join(f"{k}={canonical_json(v)}" for k, v in sorted(args.items()))
    return f"{name}({body})"


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
    share of the training split this run sees, its labelled budget), ``val_fraction`` (the share
    of that budget held out for validation) and ``data_draw`` (``"seed"`` when each seed is its
    own data draw; absent for one fixed draw); ``model`` the :class:`~layerflow.ModelSpec`
    fields; ``training`` the :class:`~layerflow.TrainConfig` fields that define a run (``None``
    for an untrained baseline); ``analysis`` the chosen views, ``test_points`` and every option
    of the chosen views; ``design`` the run's place in the study's design, declared by the config
    before anything runs (``seed_role``, ``tune_fraction``, ``low_data``; empty when the config
    declares none of them).
    """

    run_id: str
    dataset: dict[str, Any]
    model: dict[str, Any]
    training: dict[str, Any] | None  # None for an untrained baseline
    arm: str
    seed: int
    trained: bool
    analysis: dict[str, Any]
    design: dict[str, Any] = field(default_factory=dict)

    @property
    def group_key(self) -> str:
        """Everything but the seed: runs sharing it train as one ensemble."""
        content: dict[str, Any] = {"dataset": self.dataset, "model": self.model,
                                   "training": self.training, "arm": self.arm,
                                   "trained": self.trained, "analysis": self.analysis}
        if self.design:
            content["design"] = self.design
        return run_id_of(content)

    @property
    def train_fraction(self) -> float:
        return float(self.dataset.get("train_fraction", 1.0))

    @property
    def val_fraction(self) -> float:
        return float(self.dataset.get("val_fraction", 0.0))

    @property
    def loader_args(self) -> dict[str, Any]:
        """The keyword arguments of the dataset's loader as the config gives them (name, the
        splits and the draw removed; :meth:`draw_args` adds the draw's ``seed``)."""
        return {k: v for k, v in self.dataset.items() if k not in _SPLIT_KEYS}

    @property
    def data_seed(self) -> int:
        """The data draw of this run: the seed of the loader (where it takes one: for a generated
        set the samples, else the train/test split), of the training subset and of the
        validation split. ``data_draw: seed``: the run seed, so every seed is an independent
        draw; otherwise the dataset's ``seed`` (its loader's default when not given), shared by
        every seed."""
        if self.dataset.get("data_draw") == "seed":
            return int(self.seed)
        given = self.dataset.get("seed", loader_defaults(self.dataset["name"]).get("seed", 0))
        return int(given)

    def draw_args(self) -> dict[str, Any]:
        """The loader's keyword arguments for this run's draw: :attr:`loader_args`, with
        ``seed=data_seed`` where each seed is a draw and the loader takes a seed."""
        args = self.loader_args
        if self.dataset.get("data_draw") == "seed" and "seed" in loader_defaults(
                self.dataset["name"]):
            args["seed"] = self.data_seed
        return args

    @property
    def setting_id(self) -> str:
        """What tells an arm's settings apart, the same at every train fraction and seed: a hash
        of the arm, the model and the training config."""
        return run_id_of({"arm": self.arm, "model": self.model, "training": self.training,
                          "trained": self.trained})[:16]

    def columns(self, training_fields: tuple[str, ...] = ()) -> dict[str, Any]:
        """The config fields of this run as flat table columns.

        ``training_fields`` lists the training columns (the config's training keys); an
        untrained baseline has them null, and ``epochs`` 0. Besides the config's fields:
        ``dataset_spec`` (:func:`dataset_spec_of`), ``data_seed`` (:attr:`data_seed`),
        ``arm_role`` (:func:`arm_role_of`) and ``penalised`` (the role is the transport
        penalty), ``setting_id`` (:attr:`setting_id`), and the design the config declared:
        ``seed_role`` (``tune``: a seed whose validation accuracy chooses the arms' settings;
        ``test``: every other run), ``tune_fraction`` (the train fraction whose tuning runs
        choose this run's setting; NaN where nothing is chosen) and ``low_data`` (whether the
        config declares this train fraction low data; null where it declares nothing).
        """
        t = self.training or {}
        role = arm_role_of(self.training)
        cols: dict[str, Any] = {
            "run_id": self.run_id,
            "group_id": self.group_key[:16],
            "dataset": self.dataset["name"],
            "dataset_args": canonical_json(self.loader_args),
            "dataset_spec": dataset_spec_of(self.dataset["name"], self.loader_args),
            "data_seed": self.data_seed,
            **data_source(self.dataset),
            "model_kind": self.model["kind"],
        }
        cols.update({k: v for k, v in self.model.items() if k != "kind"})
        cols["arm"] = self.arm
        cols["arm_role"] = role
        cols["penalised"] = role == "transport penalty"
        cols["setting_id"] = self.setting_id
        for name in training_fields or tuple(t):
            cols[name] = t.get(name)
        if self.training is None:
            cols["epochs"] = 0
        cols.update({"train_fraction": self.train_fraction, "val_fraction": self.val_fraction,
                     "seed": self.seed, "trained": self.trained,
                     "seed_role": str(self.design.get("seed_role", "test")),
                     "tune_fraction": float(self.design.get("tune_fraction", math.nan)),
                     "low_data": self.design.get("low_data")})
        return cols


def make_run(dataset: dict[str, Any], model: dict[str, Any], training: dict[str, Any] | None,
              arm: str, seed: int, trained: bool, analysis: dict[str, Any],
              design: Mapping[str, Any] | None = None) -> RunSpec:
    content = {"dataset": dataset, "model": model, "training": training, "arm": arm,
               "seed": seed, "trained": trained, "analysis": analysis}
    if design:  # absent when the config declares no design, so those runs keep their ids
        content["design"] = dict(design)
    return RunSpec(run_id=run_id_of(content), dataset=dict(dataset), model=dict(model),
                   training=None if training is None else dict(training), arm=arm, seed=seed,
                   trained=trained, analysis=dict(analysis), design=dict(design or {}))
