"""Sweep configuration: a YAML file -> a validated :class:`SweepConfig` -> a grid of runs.

The schema is **derived from the library**: ``models`` entries are :class:`~layerflow.ModelSpec`
fields, ``training`` and ``arms`` are :class:`~layerflow.TrainConfig` fields, ``datasets`` are
names and loader arguments of the data registry, ``analysis`` holds the options that the views
declare (:mod:`layerflow.views`), ``backend`` names one of :data:`~layerflow.sweep.BACKENDS`.
A grid point is validated by building the library's own objects, and their errors come back
prefixed with the dotted key (``training.lr``, ``models[1].width``, ``analysis.k``). Unknown keys
are errors. Nothing is trained before the whole config has been checked.

Schema (every key but ``datasets`` and ``models`` is optional; ``layerflow run NAME
--print-config`` prints a config with every default filled in)::

    name: my-study                 # free text, recorded in OUT/config.yaml
    out: results/my-study          # output folder (``layerflow run --out`` overrides it)
    seeds: 3                       # a count (seeds 0, 1, 2) or a list of distinct ints [0, 7, 9]
    datasets:                      # registry names (``layerflow datasets``) or mappings of a name
      - moons                      # and the loader's keyword arguments
      - {name: spirals, n: 2000, noise: 0.1, seed: 0, test_fraction: 0.25}
      - {name: "mnist:7,1", substitute: {name: "mnist5k:7,1"}}   # the substitute runs when
                                   # MNIST's files are not in the data cache (--fetch-data)
    train_fraction: [0.05, 1.0]    # stratified share of each training split: the labelled
                                   # budget (grid; seeded by the run's data draw)
    val_fraction: 0.2              # optional: a stratified validation split carved from each
                                   # labelled budget (the same for every arm of a data draw;
                                   # never trained on); runs record val_acc
    data_draw: fixed               # fixed: one data draw, the dataset's seed, for every seed;
                                   # seed: each run seed is its own draw (data_seed = seed): the
                                   # loader's seed (a generated set's samples, else its
                                   # train/test split), the budget and the validation split
    tuning:                        # optional: where arms' settings are chosen (on val_acc)
      seeds: [0, 1]                # tuning seeds, a subset of ``seeds``; the others are test
                                   # seeds (reported); tuning seeds run only at the fraction below
      fraction: 1.0                # the train fraction whose validation accuracy chooses every
                                   # arm's setting for every fraction
    low_data: [0.05]               # optional: the train fractions declared low data (< 1)
    models:                        # ModelSpec fields; list values expand as a grid per entry
      - {kind: mlp, width: [25, 50], depth: [5, 11], activation: relu}
      - {kind: resnet, width: 16, depth: 10, h: null}      # h null: 1/depth
    training:                      # TrainConfig fields (but seed/device); lists expand as a grid
      optimizer: adam
      lr: 0.001
    arms:                          # optional named training overrides, crossed with the grid;
      plain: {}                    # recorded in column ``arm`` ("default" without arms)
      weight_decay: {weight_decay: 0.001}
    analysis:
      metrics: [transport, ricci]  # views to run (layerflow.views.VIEWS)
      test_points: 500             # test samples captured and analysed per network
      save_trajectories: 1         # trajectories saved per group (first seeds), or false
      per_token: false             # true: one point per token of (N, T, d) states (transformers);
                                   # test_points then counts sequences
      k: 30                        # ... and any option a view declares (k, ks, curvature, m, ...)
    baselines:
      untrained: false             # also analyse untrained networks of the same shapes
      seeds: null                  # their seeds (count or list); null: the same as ``seeds``
    backend: local                 # or {name: local|dask|ray|serial, workers: null,
                                   #     address: null, chunk_size: 32}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from layerflow._errors import ConfigError
from layerflow.sweep._grid import DATA_DRAWS, RunSpec, arm_role_of, grid_product, make_run
from layerflow.sweep._sections import (
    check_analysis,
    check_backend,
    check_combos,
    check_dataset_entry,
    check_keys,
    check_mapping,
    check_models,
    check_seeds,
    check_text,
    check_train_fractions,
    check_training,
    check_val_fraction,
    type_name,
)
from layerflow.sweep._sections import (
    training_fields as training_fields,
)
from layerflow.sweep._source import parse_yaml, resolve_source

TOP_KEYS = ("name", "out", "seeds", "datasets", "train_fraction", "val_fraction", "data_draw",
            "tuning", "low_data", "models", "training", "arms", "analysis", "baselines",
            "backend")


# ----------------------------------------------------------------------------- config object
@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config (all defaults filled in). Build it with :func:`load_config`."""

    name: str
    out: str | None
    seeds: tuple[int, ...]
    datasets: tuple[dict[str, Any], ...]
    train_fraction: tuple[float, ...]
    val_fraction: float
    models: tuple[dict[str, list[Any]], ...]
    training: dict[str, list[Any]]
    arms: dict[str, dict[str, list[Any]]] | None
    analysis: dict[str, Any]
    baselines: dict[str, Any]
    backend: dict[str, Any]
    source: str = field(default="<dict>", compare=False)
    data_draw: str = "fixed"
    tuning: dict[str, Any] | None = None  # {"seeds": (…), "fraction": f}
    low_data: tuple[float, ...] | None = None

    def run_analysis(self) -> dict[str, Any]:
        """The analysis settings that define a run (what is saved does not change numbers)."""
        a = dict(self.analysis)
        a.pop("save_trajectories", None)
        return a

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (what ``--print-config`` and OUT/config.yaml show)."""

        def plain(v: Any) -> Any:
            return list(v) if isinstance(v, tuple) else v

        def unlist(d: Mapping[str, list[Any]]) -> dict[str, Any]:
            return {k: (plain(v[0]) if len(v) == 1 else [plain(x) for x in v])
                    for k, v in d.items()}

        out: dict[str, Any] = {"name": self.name}
        if self.out is not None:
            out["out"] = self.out
        out["seeds"] = list(self.seeds)
        out["datasets"] = [dict(d) for d in self.datasets]
        tf = list(self.train_fraction)
        out["train_fraction"] = tf[0] if len(tf) == 1 else tf
        if self.val_fraction:
            out["val_fraction"] = self.val_fraction
        if self.data_draw != "fixed":
            out["data_draw"] = self.data_draw
        if self.tuning is not None:
            out["tuning"] = {"seeds": list(self.tuning["seeds"]),
                             "fraction": self.tuning["fraction"]}
        if self.low_data is not None:
            out["low_data"] = list(self.low_data)
        out["models"] = [unlist(m) for m in self.models]
        out["training"] = unlist(self.training)
        if self.arms is not None:
            out["arms"] = {name: unlist(arm) for name, arm in self.arms.items()}
        out["analysis"] = dict(self.analysis)
        out["baselines"] = dict(self.baselines)
        out["backend"] = dict(self.backend)
        return copy.deepcopy(out)

    def to_yaml(self) -> str:
        text: str = yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)
        return text

    def runs(self) -> list[RunSpec]:
        return expand_runs(self)


def load_config(source: str | Path | Mapping[str, Any] | SweepConfig, *,
                fetch_data: bool = False, progress: Any = None) -> SweepConfig:
    """Read and validate a config: a YAML path, a built-in name, a YAML string, or a mapping.

    A dataset entry with a ``substitute`` resolves to itself when its files are in the data
    cache and to the substitute otherwise; ``fetch_data=True`` fetches them first (``progress``
    as :func:`layerflow.data._remote.fetch` takes it). See
    :func:`layerflow.data._provenance.resolve_entry`.

    Raises
    ------
    ConfigError
        For unsafe YAML, unknown keys, wrong types or bad values; the message starts with the
        dotted key.
    """
    if isinstance(source, SweepConfig):
        return source
    desc = "<dict>"
    if isinstance(source, Mapping):
        raw: Any = copy.deepcopy(dict(source))
    else:
        if isinstance(source, str) and "\n" in source:
            text, desc = source, "<string>"
        else:
            text, desc = resolve_source(source)
        raw = parse_yaml(text, desc)
    return validate(raw, desc, fetch_data=fetch_data, progress=progress)


def validate(raw: Any, source: str = "<dict>", *, fetch_data: bool = False,
             progress: Any = None) -> SweepConfig:
    """Validate parsed config data (see the module docstring for the schema)."""
    m = check_mapping(raw, "")
    check_keys(m, TOP_KEYS, "")
    for required in ("datasets", "models"):
        if required not in m:
            raise ConfigError(required, "missing; a sweep needs datasets and models")
    name = check_text(m["name"], "name") if "name" in m else "sweep"
    out = check_text(m["out"], "out") if m.get("out") is not None else None
    seeds = check_seeds(m.get("seeds", 1), "seeds")
    dsv = m["datasets"]
    if not isinstance(dsv, list) or not dsv:
        raise ConfigError("datasets", f"expected a non-empty list, got {type_name(dsv)} {dsv!r}")
    datasets = [check_dataset_entry(d, f"datasets[{i}]") for i, d in enumerate(dsv)]
    datasets = [_resolve(d, f"datasets[{i}]", fetch_data, progress)
                for i, d in enumerate(datasets)]
    first: dict[str, int] = {}
    for i, d in enumerate(datasets):
        j = first.setdefault(json.dumps(d, sort_keys=True), i)
        if j != i:
            raise ConfigError(f"datasets[{i}]", f"{d!r} repeats datasets[{j}]; list each "
                                                "dataset once (seeds and sizes go in its keys)")
    fractions = check_train_fractions(m.get("train_fraction", 1.0))
    val_fraction = check_val_fraction(m.get("val_fraction", 0.0))
    data_draw = check_data_draw(m.get("data_draw", "fixed"), datasets)
    low_data = check_low_data(m["low_data"], fractions) if m.get("low_data") is not None \
        else None
    models = check_models(m["models"])
    training = check_training(m.get("training", {}), "training", None)
    arms = None
    if m.get("arms") is not None:
        am = check_mapping(m["arms"], "arms")
        if not am:
            raise ConfigError("arms", "an empty mapping; give at least one arm or drop the key")
        arms = {}
        for arm_name, over in am.items():
            if arm_name == "untrained":
                raise ConfigError(f"arms.{arm_name}", "this arm name is reserved for baselines")
            arms[arm_name] = check_training(over, f"arms.{arm_name}", training)
    check_combos(training, arms)
    _check_arms_have_runs(models, training, arms)
    analysis = check_analysis(m.get("analysis", {}))
    bm = check_mapping(m.get("baselines", {}) or {}, "baselines")
    check_keys(bm, ("untrained", "seeds"), "baselines")
    untrained = bm.get("untrained", False)
    if not isinstance(untrained, bool):
        raise ConfigError("baselines.untrained", f"expected true or false, got "
                                                 f"{type_name(untrained)} {untrained!r}")
    baselines = {"untrained": untrained,
                 "seeds": None if bm.get("seeds") is None else check_seeds(bm["seeds"],
                                                                      "baselines.seeds")}
    backend = check_backend(m.get("backend", "local"))
    tuning = check_tuning(m.get("tuning"), seeds, fractions, val_fraction, training, arms)
    return SweepConfig(name=name, out=out, seeds=tuple(seeds), datasets=tuple(datasets),
                       train_fraction=tuple(fractions), val_fraction=val_fraction,
                       models=models, training=training,
                       arms=arms, analysis=analysis, baselines=baselines, backend=backend,
                       source=source, data_draw=data_draw, tuning=tuning, low_data=low_data)


def tuned_arms(training: Mapping[str, list[Any]],
               arms: Mapping[str, Mapping[str, list[Any]]] | None) -> list[str]:
    """The arms with a knob to choose: those that list several values of a field they set (a
    grid of the training section is a dimension of the sweep, crossed with every arm)."""
    return [name for name, over in (arms or {}).items() if len(grid_product(dict(over))) > 1]


def check_tuning(raw: Any, seeds: list[int], fractions: list[float], val_fraction: float,
                 training: Mapping[str, list[Any]],
                 arms: Mapping[str, Mapping[str, list[Any]]] | None) -> dict[str, Any] | None:
    """The ``tuning`` section: tuning seeds (a strict subset of ``seeds``) and the train fraction
    whose validation accuracy chooses each arm's setting. An arm with several settings needs it
    (a choice made on the seeds it reports would be a choice on the test set); it needs a
    validation split and an arm to tune."""
    knobs = tuned_arms(training, arms)
    if raw is None:
        if knobs:
            name = knobs[0]
            raise ConfigError(f"arms.{name}", "this arm runs several settings, to be chosen on "
                              "validation accuracy; declare where they are chosen: tuning: "
                              "{seeds: [...], fraction: F} (the tuning seeds choose, the other "
                              "seeds are reported)")
        return None
    m = check_mapping(raw, "tuning")
    check_keys(m, ("seeds", "fraction"), "tuning")
    for k in ("seeds", "fraction"):
        if k not in m:
            raise ConfigError(f"tuning.{k}", "missing; tuning needs seeds and a fraction")
    tune = check_seeds(m["seeds"], "tuning.seeds")
    if isinstance(m["seeds"], int) and not isinstance(m["seeds"], bool):
        raise ConfigError("tuning.seeds", f"{m['seeds']!r}: give the tuning seeds as a list "
                                          f"(a subset of the seeds {seeds})")
    outside = [s for s in tune if s not in seeds]
    if outside:
        raise ConfigError("tuning.seeds", f"seed {outside[0]} is not one of the seeds {seeds}; "
                                          "tuning seeds are a subset of them")
    if len(tune) == len(seeds):
        raise ConfigError("tuning.seeds", f"{tune} is every seed; leave at least one test seed "
                                          "(test accuracy is reported on seeds not tuned on)")
    frac = m["fraction"]
    if isinstance(frac, bool) or not isinstance(frac, int | float) or float(frac) not in \
            fractions:
        raise ConfigError("tuning.fraction", f"{frac!r} is not one of the train fractions "
                                             f"{fractions}")
    if val_fraction <= 0.0:
        raise ConfigError("tuning", "settings are chosen on validation accuracy; give "
                                    "val_fraction > 0")
    if not knobs:
        raise ConfigError("tuning", "no arm runs several settings, so there is nothing to "
                                    "choose; drop tuning or give an arm a list of values")
    return {"seeds": tuple(tune), "fraction": float(frac)}


def check_data_draw(raw: Any, datasets: list[dict[str, Any]]) -> str:
    """``fixed`` or ``seed`` (:data:`~layerflow.sweep._grid.DATA_DRAWS`); with ``seed`` a dataset
    may not fix its own ``seed`` (the draw is the run seed)."""
    if raw not in DATA_DRAWS:
        raise ConfigError("data_draw", f"{raw!r} is not allowed; expected one of "
                                       f"{', '.join(DATA_DRAWS)}")
    if raw == "seed":
        for i, d in enumerate(datasets):
            if "seed" in d:
                raise ConfigError(f"datasets[{i}].seed", f"{d['seed']!r}: with data_draw: seed "
                                  "each run seed is its own data draw; leave the dataset's seed "
                                  "out")
    return str(raw)


def check_low_data(raw: Any, fractions: list[float]) -> tuple[float, ...]:
    """The train fractions declared low data: a non-empty list of distinct train fractions,
    each below 1."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError("low_data", f"expected a non-empty list of train fractions, got "
                                      f"{type_name(raw)} {raw!r}")
    out: list[float] = []
    for i, v in enumerate(raw):
        if isinstance(v, bool) or not isinstance(v, int | float) or float(v) not in fractions:
            raise ConfigError(f"low_data[{i}]", f"{v!r} is not one of the train fractions "
                                                f"{fractions}")
        if float(v) >= 1.0:
            raise ConfigError(f"low_data[{i}]", f"{v!r}: the full data is not low data; "
                                                "expected a fraction below 1")
        if float(v) in out:
            raise ConfigError("low_data", f"{raw!r} repeats a fraction")
        out.append(float(v))
    return tuple(out)


def _resolve(entry: dict[str, Any], key: str, fetch_data: bool, progress: Any) -> dict[str, Any]:
    """The entry a study runs: itself, or its substitute when its files are not in the cache."""
    from layerflow.data._provenance import resolve_entry

    try:
        return resolve_entry(entry, fetch=fetch_data, progress=progress)
    except ValueError as exc:
        raise ConfigError(key, str(exc)) from exc


def _penalised(training: Mapping[str, Any]) -> bool:
    return arm_role_of(training) == "transport penalty"


def _expands(model: Mapping[str, Any], training: Mapping[str, Any]) -> bool:
    """Whether (model, training) is a run: the transport penalty only on a residual model."""
    from layerflow.models import ModelSpec

    return model["kind"] in ModelSpec.RESIDUAL_KINDS or not _penalised(training)


def _check_arms_have_runs(models: tuple[dict[str, list[Any]], ...],
                          training: Mapping[str, list[Any]],
                          arms: Mapping[str, Mapping[str, list[Any]]] | None) -> None:
    """A :class:`ConfigError` for the first arm (or the training section, without arms) that
    :func:`expand_runs` would expand to no run: the transport penalty on every training grid
    point and no residual model to carry it."""
    from layerflow.models import ModelSpec

    points = [m for grid in models for m in grid_product(grid)]
    for arm_name, over in (arms or {"": {}}).items():
        combos = grid_product({**training, **over})
        if any(_expands(m, t) for m in points for t in combos):
            continue
        field = next(f for f in ("transport_weight", "uzawa")
                     if any(_penalised({f: t[f]}) for t in combos if f in t))
        key = f"arms.{arm_name}.{field}" if field in over else f"training.{field}"
        values = over.get(field, training.get(field, []))
        shown = values[0] if len(values) == 1 else values
        kinds = "; ".join(f"models[{i}] is {' or '.join(map(str, grid['kind']))}"
                          for i, grid in enumerate(models))
        where = f"arm {arm_name}" if arm_name else "the training section"
        raise ConfigError(key, f"{shown!r} puts the transport penalty on every run of {where}, "
                               f"but the transport cost needs a residual model (kind "
                               f"{' or '.join(ModelSpec.RESIDUAL_KINDS)}) and {kinds}: "
                               f"{where} would expand to no run")


def expand_runs(cfg: SweepConfig) -> list[RunSpec]:
    """The grid: datasets × train fractions × model grid × arms × training grid × seeds
    (+ untrained baselines).

    Order is deterministic. Baselines (``trained=False``, arm ``"untrained"``) take one run per
    dataset × model × baseline seed, on the full data; training fields are null for them.
    Combinations that put the transport penalty (``transport_weight > 0`` or ``uzawa``) on a
    non-residual model are not expanded (the cost is that of a residual network's blocks), so one
    config can compare plain and residual networks and penalise only the residual ones.

    With ``tuning``, the tuning seeds run only the arms with several settings and only at the
    tuning fraction (their ``seed_role`` is ``tune``); every other run is a ``test`` run. With
    ``low_data``, each run records whether its fraction is declared low data.
    """
    analysis = cfg.run_analysis()
    arms = cfg.arms if cfg.arms is not None else {"default": {}}
    tune = cfg.tuning
    knobs = set(tuned_arms(cfg.training, cfg.arms)) if tune else set()
    runs: list[RunSpec] = []
    seen: set[str] = set()

    def add(r: RunSpec) -> None:
        if r.run_id not in seen:
            seen.add(r.run_id)
            runs.append(r)

    def design(frac: float, arm_name: str | None, seed: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if tune is not None:
            out["seed_role"] = "tune" if seed in tune["seeds"] else "test"
            if arm_name in knobs:
                out["tune_fraction"] = tune["fraction"]
        if cfg.low_data is not None:
            out["low_data"] = frac in cfg.low_data
        return out

    draw = {"data_draw": "seed"} if cfg.data_draw == "seed" else {}
    held = {"val_fraction": cfg.val_fraction} if cfg.val_fraction else {}
    for ds in cfg.datasets:
        for model_grid in cfg.models:
            for model in grid_product(model_grid):
                for frac in cfg.train_fraction:
                    data = {**ds, **held, **draw, "train_fraction": frac}
                    for arm_name, over in arms.items():
                        for training in grid_product({**cfg.training, **over}):
                            if not _expands(model, training):
                                continue  # the transport cost is defined for residual nets only
                            for seed in cfg.seeds:
                                if tune is not None and seed in tune["seeds"] and (
                                        arm_name not in knobs or frac != tune["fraction"]):
                                    continue  # a tuning seed only tunes
                                add(make_run(data, model, training, arm_name, seed, True,
                                              analysis, design(frac, arm_name, seed)))
                if cfg.baselines["untrained"]:
                    for seed in cfg.baselines["seeds"] or list(cfg.seeds):
                        add(make_run({**ds, **held, **draw, "train_fraction": 1.0}, model, None,
                                      "untrained", seed, False, analysis,
                                      design(1.0, None, seed) if tune is None else
                                      {**design(1.0, None, seed), "seed_role": "test"}))
    return runs
