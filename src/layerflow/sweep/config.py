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
    train_fraction: [0.05, 1.0]    # stratified share of each training split (grid; seeded by the
                                   # dataset seed, so every seed of a group sees the same data)
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
      k: 30                        # ... and any option a view declares (k, ks, curvature, m, ...)
    baselines:
      untrained: false             # also analyse untrained networks of the same shapes
      seeds: null                  # their seeds (count or list); null: the same as ``seeds``
    backend: local                 # or {name: local|dask|ray|serial, workers: null,
                                   #     address: null, chunk_size: 32}
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from layerflow.sweep.grid import RunSpec, expand_runs, grid_product
from layerflow.sweep.source import ConfigError, parse_yaml, resolve_source

__all__ = ["ConfigError", "SweepConfig", "load_config", "validate"]

TOP_KEYS = ("name", "out", "seeds", "datasets", "train_fraction", "models", "training", "arms",
            "analysis", "baselines", "backend")
SWEEP_ANALYSIS = {"metrics": ["transport", "ricci"], "test_points": 500, "save_trajectories": 1}
BACKEND_DEFAULTS: dict[str, Any] = {"name": "local", "workers": None, "address": None,
                                    "chunk_size": 32}


# ----------------------------------------------------------------------------- small checks
def _tname(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _mapping(v: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ConfigError(key, f"expected a mapping, got {_tname(v)} {v!r}")
    for k in v:
        if not isinstance(k, str):
            raise ConfigError(key, f"keys must be strings, got {k!r}")
    return v


def _keys(m: Mapping[str, Any], allowed: tuple[str, ...] | list[str], key: str) -> None:
    for k in m:
        if k not in allowed:
            path = f"{key}.{k}" if key else k
            raise ConfigError(path, f"unknown key; allowed keys here: {', '.join(allowed)}")


def _int(v: Any, key: str, lo: int, null: bool = False) -> int | None:
    if v is None and null:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(key, f"expected an integer{' or null' if null else ''}, "
                               f"got {_tname(v)} {v!r}")
    if v < lo:
        raise ConfigError(key, f"{v!r} is too small; expected an integer >= {lo}")
    return int(v)


def _text(v: Any, key: str) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(key, f"expected a non-empty string, got {_tname(v)} {v!r}")
    return v


def _seeds(v: Any, key: str) -> list[int]:
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise ConfigError(key, f"{v!r}: a seed count must be >= 1 (or give a list of seeds)")
        return list(range(int(v)))
    if isinstance(v, list) and v:
        out = [_int(s, f"{key}[{i}]", 0) for i, s in enumerate(v)]
        if len(set(out)) != len(out):
            raise ConfigError(key, f"{v!r} repeats a seed; seeds must be distinct")
        return [int(s) for s in out if s is not None]
    raise ConfigError(key, f"expected a count (int >= 1) or a non-empty list of ints, "
                           f"got {_tname(v)} {v!r}")


def _grid(v: Any, key: str, sequence_field: bool = False) -> list[Any]:
    """A value or a non-empty list of values (a grid). For a field whose value is itself a
    sequence, only a list of lists is a grid."""
    is_grid = isinstance(v, list) and (not sequence_field or (v and all(
        isinstance(x, list) for x in v)))
    if not is_grid:
        return [v]
    if not v:
        raise ConfigError(key, "an empty list; give at least one value")
    if len({json.dumps(x, sort_keys=True, default=str) for x in v}) != len(v):
        raise ConfigError(key, f"{v!r} repeats a value")
    return list(v)


# ----------------------------------------------------------------------------- library objects
def _dataclass_fields(cls: type) -> dict[str, tuple[Any, Any]]:
    """``name -> (default or MISSING, type hint)`` of a dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: (f.default, hints.get(f.name)) for f in dataclasses.fields(cls)}


def _is_sequence_hint(hint: Any) -> bool:
    for h in (hint, *typing.get_args(hint)):
        if typing.get_origin(h) in (tuple, list) or h in (tuple, list):
            return True
    return False


def _coerce(value: Any, hint: Any) -> Any:
    """An int where the field is a float becomes a float (``lr: 1`` is ``1.0``), so equal
    configs hash equally; lists become tuples for tuple fields."""
    args = typing.get_args(hint) or (hint,)
    if float in args and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, list) and _is_sequence_hint(hint):
        return tuple(value)
    return value


_FIELD_OF_MESSAGE = re.compile(r"^(\w+)(\[\d+\])?=")


def _build(cls: Callable[..., Any], kwargs: Mapping[str, Any], key: str,
           per_field: Mapping[str, str] | None = None) -> Any:
    """``cls(**kwargs)``; its error comes back as a :class:`ConfigError` keyed ``key`` — or the
    key of the field the library's message names (``lr=...: expected ...``), from
    ``per_field``."""
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        m = _FIELD_OF_MESSAGE.match(msg)
        target = (per_field or {}).get(m.group(1)) if m else None
        raise ConfigError(target or key, msg) from exc


def _section(raw: Any, key: str, cls: type, skip: tuple[str, ...] = (),
             required: bool = True) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """A mapping of ``cls`` fields (lists as grids) -> ``({field: [values]}, type hints)``.

    Each value is checked by building ``cls`` with it (and the section's first values), so a bad
    value is reported at its own key (``training.lr[1]``); fields without a default are required.
    """
    m = _mapping(raw, key)
    fields = {n: fh for n, fh in _dataclass_fields(cls).items() if n not in skip}
    _keys(m, list(fields), key)
    hints = {n: h for n, (_, h) in fields.items()}
    grid: dict[str, list[Any]] = {}
    for name, (default, hint) in fields.items():
        if name in m:
            grid[name] = [_coerce(v, hint) for v in
                          _grid(m[name], f"{key}.{name}", _is_sequence_hint(hint))]
        elif default is dataclasses.MISSING:
            if required:
                raise ConfigError(f"{key}.{name}", "missing; this field has no default")
        else:
            grid[name] = [default]
    first = {n: v[0] for n, v in grid.items()}
    defaults = {n: d for n, (d, _) in fields.items() if d is not dataclasses.MISSING}
    required = {n: first[n] for n, (d, _) in fields.items()
                if d is dataclasses.MISSING and n in first}
    for name, values in grid.items():
        if name not in m:
            continue
        for i, v in enumerate(values):
            where = f"{key}.{name}" + (f"[{i}]" if len(values) > 1 or (isinstance(m[name], list)
                                       and not _is_sequence_hint(hints[name])) else "")
            err = _field_error(cls, {**first, name: v}, name)
            # a value wrong beside the section's values and beside the defaults is wrong in
            # itself; one that only clashes with another field is reported for the combination
            if err is not None and _field_error(cls, {**defaults, **required, name: v},
                                                name) is not None:
                raise ConfigError(where, err)
    return grid, hints


def _field_error(cls: Callable[..., Any], kwargs: Mapping[str, Any], name: str) -> str | None:
    """The library's message when ``cls(**kwargs)`` fails because of field ``name``."""
    try:
        cls(**kwargs)
    except (ValueError, TypeError) as exc:
        fm = _FIELD_OF_MESSAGE.match(str(exc))
        if fm and fm.group(1) == name:
            return str(exc)
    return None


def _check_models(raw: Any) -> tuple[dict[str, list[Any]], ...]:
    from layerflow.models import ModelSpec

    if not isinstance(raw, list) or not raw:
        raise ConfigError("models", f"expected a non-empty list, got {_tname(raw)} {raw!r}")
    out = []
    for i, entry in enumerate(raw):
        key = f"models[{i}]"
        if isinstance(entry, Mapping) and "kind" not in entry:
            raise ConfigError(f"{key}.kind", "missing; every model needs a kind")
        grid, _ = _section(entry, key, ModelSpec)
        for combo in grid_product(grid):
            _build(ModelSpec, combo, key)
        out.append(grid)
    return tuple(out)


def training_fields() -> tuple[str, ...]:
    """The :class:`~layerflow.TrainConfig` fields a sweep sets (all but the execution fields)."""
    from layerflow.training import TrainConfig

    return tuple(n for n in _dataclass_fields(TrainConfig)
                 if n not in TrainConfig.EXECUTION_FIELDS)


def _check_training(raw: Any, key: str, base: Mapping[str, list[Any]] | None
                    ) -> dict[str, list[Any]]:
    """Training fields as a grid; with ``base`` (an arm) only the overrides are returned."""
    from layerflow.training import TrainConfig

    m = _mapping(raw if raw is not None else {}, key)
    if "train_fraction" in m:
        raise ConfigError(f"{key}.train_fraction", "not a training field; give train_fraction "
                                                   "at the top level of the config")
    grid, _ = _section(m, key, TrainConfig, skip=TrainConfig.EXECUTION_FIELDS)
    if base is None:
        return grid
    return {k: v for k, v in grid.items() if k in m}


def _check_combos(training: Mapping[str, list[Any]],
                  arms: Mapping[str, Mapping[str, list[Any]]] | None) -> None:
    from layerflow.training import TrainConfig

    for arm_name, over in (arms or {"": {}}).items():
        key = f"arms.{arm_name}" if arm_name else "training"
        for combo in grid_product({**training, **over}):
            _build(TrainConfig, combo, key)


def _check_dataset(raw: Any, key: str) -> dict[str, Any]:
    from layerflow.data import check_dataset

    if isinstance(raw, str):
        raw = {"name": raw}
    m = _mapping(raw, key)
    if "name" not in m:
        raise ConfigError(f"{key}.name", "missing; every dataset needs a name")
    out: dict[str, Any] = {"name": _text(m["name"], f"{key}.name")}
    args = dict(_mapping(m["args"], f"{key}.args")) if "args" in m else {}
    for k in args:
        if k in m:
            raise ConfigError(f"{key}.args.{k}", f"set {k!r} directly, not under args")
    for k, v in [*((k, v) for k, v in m.items() if k not in ("name", "args")), *args.items()]:
        where = f"{key}.args.{k}" if k in args else f"{key}.{k}"
        if not (v is None or isinstance(v, str | int | float | bool)):
            raise ConfigError(where, f"expected a scalar, got {_tname(v)} {v!r}")
        out[k] = v
    try:
        check_dataset(out["name"])
    except ValueError as exc:
        raise ConfigError(f"{key}.name", str(exc)) from exc
    for k, v in out.items():
        if k == "name":
            continue
        try:
            check_dataset(out["name"], **{k: v})
        except ValueError as exc:
            where = f"{key}.args.{k}" if k in args else f"{key}.{k}"
            raise ConfigError(where, f"unknown key: {exc}") from exc
    return out


def _check_analysis(raw: Any) -> dict[str, Any]:
    from layerflow.views import VIEWS, OptionError, get_view, resolve_options

    key = "analysis"
    m = dict(_mapping(raw if raw is not None else {}, key))
    options = {o.name: o for n in VIEWS for o in get_view(n).options}
    _keys(m, [*SWEEP_ANALYSIS, *options], key)
    out = dict(SWEEP_ANALYSIS)
    if "metrics" in m:
        v = m.pop("metrics")
        if not isinstance(v, list):
            raise ConfigError(f"{key}.metrics", f"expected a list (subset of {list(VIEWS)}), "
                                                f"got {_tname(v)} {v!r}")
        for i, x in enumerate(v):
            if x not in VIEWS:
                raise ConfigError(f"{key}.metrics[{i}]", f"{x!r} is not allowed; expected one "
                                                         f"of {', '.join(VIEWS)}")
        if len(set(v)) != len(v):
            raise ConfigError(f"{key}.metrics", f"{v!r} repeats a metric")
        out["metrics"] = [x for x in VIEWS if x in v]
    if "test_points" in m:
        out["test_points"] = _int(m.pop("test_points"), f"{key}.test_points", 2)
    if "save_trajectories" in m:
        v = m.pop("save_trajectories")
        out["save_trajectories"] = (int(v) if isinstance(v, bool) or v is None
                                    else _int(v, f"{key}.save_trajectories", 0))
    try:
        for name in VIEWS:  # every given option is checked, even one of a view not chosen
            get_view(name).resolve({k: v for k, v in m.items()
                                    if k in get_view(name).option_names}, key)
        per_view = resolve_options(out["metrics"], {k: v for k, v in m.items() if any(
            k in get_view(n).option_names for n in out["metrics"])}, key)
    except OptionError as exc:
        raise ConfigError(exc.key, str(exc).split(": ", 1)[-1]) from exc
    for opts in per_view.values():
        out.update(opts)
    if "ricci" in out["metrics"] and out["test_points"] <= max(out["ks"]):
        raise ConfigError(f"{key}.test_points", f"{out['test_points']} points cannot carry "
                          f"k={max(out['ks'])} neighbours; expected more than {max(out['ks'])}")
    return out


def _check_backend(raw: Any) -> dict[str, Any]:
    from layerflow.sweep.backends import BACKENDS

    key = "backend"
    m = _mapping({"name": raw} if isinstance(raw, str) else raw, key)
    _keys(m, tuple(BACKEND_DEFAULTS), key)
    out = dict(BACKEND_DEFAULTS)
    if "name" in m and m["name"] not in BACKENDS:
        raise ConfigError(f"{key}.name", f"{m['name']!r} is not allowed; expected one of "
                                         f"{', '.join(BACKENDS)}")
    out["name"] = m.get("name", out["name"])
    if "workers" in m:
        out["workers"] = _int(m["workers"], f"{key}.workers", 1, null=True)
    if m.get("address") is not None:
        out["address"] = _text(m["address"], f"{key}.address")
    if "chunk_size" in m:
        out["chunk_size"] = _int(m["chunk_size"], f"{key}.chunk_size", 1)
    return out


def _train_fractions(raw: Any) -> list[float]:
    from layerflow.data import Dataset

    values = _grid(raw, "train_fraction")
    out = []
    for i, v in enumerate(values):
        where = "train_fraction" + (f"[{i}]" if isinstance(raw, list) else "")
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or not Dataset.valid_fraction(float(v)):
            raise ConfigError(where, f"{v!r}: expected a number with 0 < train_fraction <= 1")
        out.append(float(v))
    return out


# ----------------------------------------------------------------------------- config object
@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config (all defaults filled in). Build it with :func:`load_config`."""

    name: str
    out: str | None
    seeds: tuple[int, ...]
    datasets: tuple[dict[str, Any], ...]
    train_fraction: tuple[float, ...]
    models: tuple[dict[str, list[Any]], ...]
    training: dict[str, list[Any]]
    arms: dict[str, dict[str, list[Any]]] | None
    analysis: dict[str, Any]
    baselines: dict[str, Any]
    backend: dict[str, Any]
    source: str = field(default="<dict>", compare=False)

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
        out["models"] = [unlist(m) for m in self.models]
        out["training"] = unlist(self.training)
        if self.arms is not None:
            out["arms"] = {name: unlist(arm) for name, arm in self.arms.items()}
        out["analysis"] = dict(self.analysis)
        out["baselines"] = dict(self.baselines)
        out["backend"] = dict(self.backend)
        return copy.deepcopy(out)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)

    def runs(self) -> list[RunSpec]:
        return expand_runs(self)


def load_config(source: str | Path | Mapping[str, Any] | SweepConfig) -> SweepConfig:
    """Read and validate a config: a YAML path, a built-in name, a YAML string, or a mapping.

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
    return validate(raw, desc)


def validate(raw: Any, source: str = "<dict>") -> SweepConfig:
    """Validate parsed config data (see the module docstring for the schema)."""
    m = _mapping(raw, "")
    _keys(m, TOP_KEYS, "")
    for required in ("datasets", "models"):
        if required not in m:
            raise ConfigError(required, "missing; a sweep needs datasets and models")
    name = _text(m["name"], "name") if "name" in m else "sweep"
    out = _text(m["out"], "out") if m.get("out") is not None else None
    seeds = _seeds(m.get("seeds", 1), "seeds")
    dsv = m["datasets"]
    if not isinstance(dsv, list) or not dsv:
        raise ConfigError("datasets", f"expected a non-empty list, got {_tname(dsv)} {dsv!r}")
    datasets = [_check_dataset(d, f"datasets[{i}]") for i, d in enumerate(dsv)]
    first: dict[str, int] = {}
    for i, d in enumerate(datasets):
        j = first.setdefault(json.dumps(d, sort_keys=True), i)
        if j != i:
            raise ConfigError(f"datasets[{i}]", f"{d!r} repeats datasets[{j}]; list each "
                                                "dataset once (seeds and sizes go in its keys)")
    fractions = _train_fractions(m.get("train_fraction", 1.0))
    models = _check_models(m["models"])
    training = _check_training(m.get("training", {}), "training", None)
    arms = None
    if m.get("arms") is not None:
        am = _mapping(m["arms"], "arms")
        if not am:
            raise ConfigError("arms", "an empty mapping; give at least one arm or drop the key")
        arms = {}
        for arm_name, over in am.items():
            if arm_name == "untrained":
                raise ConfigError(f"arms.{arm_name}", "this arm name is reserved for baselines")
            arms[arm_name] = _check_training(over, f"arms.{arm_name}", training)
    _check_combos(training, arms)
    analysis = _check_analysis(m.get("analysis", {}))
    bm = _mapping(m.get("baselines", {}) or {}, "baselines")
    _keys(bm, ("untrained", "seeds"), "baselines")
    untrained = bm.get("untrained", False)
    if not isinstance(untrained, bool):
        raise ConfigError("baselines.untrained", f"expected true or false, got "
                                                 f"{_tname(untrained)} {untrained!r}")
    baselines = {"untrained": untrained,
                 "seeds": None if bm.get("seeds") is None else _seeds(bm["seeds"],
                                                                      "baselines.seeds")}
    backend = _check_backend(m.get("backend", "local"))
    return SweepConfig(name=name, out=out, seeds=tuple(seeds), datasets=tuple(datasets),
                       train_fraction=tuple(fractions), models=models, training=training,
                       arms=arms, analysis=analysis, baselines=baselines, backend=backend,
                       source=source)
