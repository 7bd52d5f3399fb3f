"""Sweep configuration: a YAML file -> a validated :class:`SweepConfig` -> a grid of runs.

A config is read with ``yaml.safe_load`` semantics only (tags such as ``!!python/object`` are
refused, duplicate keys are errors) and validated completely before anything is trained. Every
error is a :class:`ConfigError` naming the bad key as a dotted path (``training.lr``,
``models[1].width``) together with the value and what was expected. Unknown keys are errors.

Schema (every key but ``datasets`` and ``models`` is optional; defaults shown)::

    name: my-study                 # free text, recorded in OUT/config.yaml
    out: results/my-study          # output folder (``layerflow run --out`` overrides it)
    seeds: 3                       # a count (seeds 0, 1, 2) or a list of distinct ints [0, 7, 9]
    datasets:                      # names as in ``layerflow datasets`` or mappings
      - moons
      - {name: spirals, n: 2000, noise: 0.1, seed: 0, test_fraction: 0.25}
      - {name: "digits:6,8", args: {}}   # args: extra keyword arguments for the loader
    models:                        # list-valued fields expand as a grid inside each entry
      - {kind: mlp, width: [25, 50], depth: [5, 11], activation: relu}
      - {kind: bottleneck, width: 50, depth: 5, bottleneck_width: 25}
      - {kind: resnet, width: 16, depth: 10, h: null}      # h null: 1/depth
    training:                      # list-valued fields expand as a grid
      optimizer: adam              # adam | adamw | sgd | rmsprop
      lr: 0.001
      epochs: 50
      batch_size: 32
      weight_decay: 0.0            # optimizer-side decay
      l2: 0.0                      # explicit penalty in the loss
      loss: auto                   # auto | ce | bce
      transport_weight: 0.0        # fixed weight of the transport cost (residual nets)
      uzawa: false                 # adaptive (Uzawa) transport weight
      uzawa_tau: 1.0
      uzawa_every: 1
      train_fraction: 1.0          # stratified subset of the training split (seeded by the
                                   # dataset seed, so every seed of a group sees the same data)
    arms:                          # optional named training overrides, crossed with the grid;
      plain: {}                    # recorded in column ``arm`` ("default" without arms)
      weight_decay: {weight_decay: 0.001}
      transport: {transport_weight: 0.1}
    analysis:
      metrics: [transport, ricci]  # subset of transport, ricci, jacobian
      ks: [30]                     # k values of the Ricci sweep
      k: 30                        # the primary k (column ricci_rho); must be one of ks
      test_points: 500             # test samples captured and analysed per network
      m: 1000                      # samples for the OT score
      seed: 0                      # seed of the analysis subsampling
      save_trajectories: 1         # trajectories saved per group (first seeds), or false
    baselines:
      untrained: false             # also analyse untrained networks of the same shapes
      seeds: null                  # their seeds (count or list); null: the same as ``seeds``
    backend: local                 # or {name: local|dask|ray|serial, workers: null,
                                   #     address: null, chunk_size: 32}

Each run (one network) gets a ``run_id``: a hash of the canonical JSON of its content (dataset,
model, training, arm, seed, trained, analysis settings) — independent of key order, of the
config's name and of the output folder, so re-running a config finds its finished runs.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from layerflow.errors import LayerflowError

__all__ = [
    "ConfigError",
    "RunSpec",
    "SweepConfig",
    "builtin_configs",
    "expand_runs",
    "load_config",
    "run_id_of",
]

MODEL_KINDS = ("mlp", "bottleneck", "resnet")
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
LOSSES = ("auto", "ce", "bce")
METRICS = ("transport", "ricci", "jacobian")
BACKENDS = ("local", "dask", "ray", "serial")
DATASET_KEYS = ("name", "n", "noise", "seed", "test_fraction", "args")

TRAINING_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 1e-3,
    "epochs": 50,
    "batch_size": 32,
    "weight_decay": 0.0,
    "l2": 0.0,
    "loss": "auto",
    "transport_weight": 0.0,
    "uzawa": False,
    "uzawa_tau": 1.0,
    "uzawa_every": 1,
    "train_fraction": 1.0,
}
MODEL_DEFAULTS: dict[str, Any] = {
    "kind": "mlp",
    "width": 50,
    "depth": 5,
    "h": None,
    "activation": "relu",
    "bottleneck_width": None,
}
ANALYSIS_DEFAULTS: dict[str, Any] = {
    "metrics": ["transport", "ricci"],
    "ks": None,
    "k": 30,
    "test_points": 500,
    "m": 1000,
    "seed": 0,
    "save_trajectories": 1,
}
BACKEND_DEFAULTS: dict[str, Any] = {
    "name": "local",
    "workers": None,
    "address": None,
    "chunk_size": 32,
}
TOP_KEYS = ("name", "out", "seeds", "datasets", "models", "training", "arms", "analysis",
            "baselines", "backend")


class ConfigError(LayerflowError):
    """A sweep config is invalid; ``key`` is the dotted path of the offending entry."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}" if key else message)


# ----------------------------------------------------------------------------- YAML reading
class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and reads ``1e-3`` as a float."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise ConfigError(
                str(key), f"duplicate key at line {mark.line + 1}; each key may appear once"
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)
# YAML 1.1 needs a dot in floats ("1.0e-3"); accept the usual "1e-3" too.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, source: str = "<string>") -> Any:
    """Parse YAML text safely (no tags that build Python objects; no duplicate keys)."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a yaml.SafeLoader subclass
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(
            "", f"{source}: refused YAML ({exc.problem}); configs may only hold plain mappings, "
            "lists, strings and numbers (yaml.safe_load)"
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError("", f"{source}: not valid YAML: {exc}") from exc


# ----------------------------------------------------------------------------- built-ins
def builtin_configs() -> dict[str, Path]:
    """Built-in config names -> their YAML files (``src/layerflow/configs/*.yaml``)."""
    root = importlib.resources.files("layerflow") / "configs"
    out: dict[str, Path] = {}
    try:
        entries = list(root.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return out
    for entry in entries:
        if entry.name.endswith(".yaml"):
            out[entry.name[: -len(".yaml")]] = Path(str(entry))
    return dict(sorted(out.items()))


def resolve_source(source: str | Path) -> tuple[str, str]:
    """A YAML path or a built-in name -> (text, description)."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError("", f"config file {str(path)!r} does not exist")
        return path.read_text(encoding="utf-8"), str(path)
    builtins = builtin_configs()
    if str(source) in builtins:
        return builtins[str(source)].read_text(encoding="utf-8"), f"built-in {source!r}"
    raise ConfigError(
        "", f"config {str(source)!r} is neither a YAML file nor a built-in config; built-ins: "
        f"{sorted(builtins)}"
    )


# ----------------------------------------------------------------------------- checkers
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _tname(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _check_mapping(v: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ConfigError(key, f"expected a mapping, got {_tname(v)} {v!r}")
    for k in v:
        if not isinstance(k, str):
            raise ConfigError(key, f"keys must be strings, got {k!r}")
    return v


def _check_keys(m: Mapping[str, Any], allowed: Sequence[str], key: str) -> None:
    for k in m:
        if k not in allowed:
            path = f"{key}.{k}" if key else k
            raise ConfigError(path, f"unknown key; allowed keys here: {', '.join(allowed)}")


def _int(v: Any, key: str, lo: int | None = None, null: bool = False) -> int | None:
    if v is None and null:
        return None
    if not _is_int(v):
        raise ConfigError(key, f"expected an integer{' or null' if null else ''}, "
                               f"got {_tname(v)} {v!r}")
    if lo is not None and v < lo:
        raise ConfigError(key, f"{v!r} is too small; expected an integer >= {lo}")
    return int(v)


def _float(v: Any, key: str, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, null: bool = False) -> float | None:
    if v is None and null:
        return None
    if not _is_num(v) or not math.isfinite(float(v)):
        raise ConfigError(key, f"expected a finite number{' or null' if null else ''}, "
                               f"got {_tname(v)} {v!r}")
    f = float(v)
    if lo is not None and (f < lo or (lo_open and f == lo)):
        raise ConfigError(key, f"{v!r} is out of range; expected a number "
                               f"{'>' if lo_open else '>='} {lo}"
                               + (f" and <= {hi}" if hi is not None else ""))
    if hi is not None and f > hi:
        raise ConfigError(key, f"{v!r} is out of range; expected a number <= {hi}")
    return f


def _choice(v: Any, key: str, allowed: Sequence[str]) -> str:
    if not isinstance(v, str) or v not in allowed:
        raise ConfigError(key, f"{v!r} is not allowed; expected one of {', '.join(allowed)}")
    return v


def _bool(v: Any, key: str) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(key, f"expected true or false, got {_tname(v)} {v!r}")
    return v


def _seed_list(v: Any, key: str) -> list[int]:
    if _is_int(v):
        if v < 1:
            raise ConfigError(key, f"{v!r}: a seed count must be >= 1 (or give a list of seeds)")
        return list(range(int(v)))
    if isinstance(v, list) and v:
        out = []
        for i, s in enumerate(v):
            out.append(_int(s, f"{key}[{i}]", lo=0))
        if len(set(out)) != len(out):
            raise ConfigError(key, f"{v!r} repeats a seed; seeds must be distinct")
        return [int(s) for s in out if s is not None]
    raise ConfigError(key, f"expected a count (int >= 1) or a non-empty list of ints, "
                           f"got {_tname(v)} {v!r}")


def _grid_values(v: Any, key: str, check: Any) -> list[Any]:
    """A scalar or a non-empty list of scalars, each passed through ``check(value, key)``."""
    if isinstance(v, list):
        if not v:
            raise ConfigError(key, "an empty list; give at least one value")
        vals = [check(x, f"{key}[{i}]") for i, x in enumerate(v)]
        if len({json.dumps(x) for x in vals}) != len(vals):
            raise ConfigError(key, f"{v!r} repeats a value")
        return vals
    return [check(v, key)]


_TRAINING_CHECKS: dict[str, Any] = {
    "optimizer": lambda v, k: _choice(v, k, OPTIMIZERS),
    "lr": lambda v, k: _float(v, k, lo=0.0, lo_open=True),
    "epochs": lambda v, k: _int(v, k, lo=0),
    "batch_size": lambda v, k: _int(v, k, lo=1),
    "weight_decay": lambda v, k: _float(v, k, lo=0.0),
    "l2": lambda v, k: _float(v, k, lo=0.0),
    "loss": lambda v, k: _choice(v, k, LOSSES),
    "transport_weight": lambda v, k: _float(v, k, lo=0.0),
    "uzawa": _bool,
    "uzawa_tau": lambda v, k: _float(v, k, lo=0.0, lo_open=True),
    "uzawa_every": lambda v, k: _int(v, k, lo=1),
    "train_fraction": lambda v, k: _float(v, k, lo=0.0, hi=1.0, lo_open=True),
}

_MODEL_CHECKS: dict[str, Any] = {
    "kind": lambda v, k: _choice(v, k, MODEL_KINDS),
    "width": lambda v, k: _int(v, k, lo=1),
    "depth": lambda v, k: _int(v, k, lo=1),
    "h": lambda v, k: _float(v, k, lo=0.0, lo_open=True, null=True),
    "activation": lambda v, k: _str(v, k),
    "bottleneck_width": lambda v, k: _int(v, k, lo=1, null=True),
}


def _str(v: Any, key: str) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(key, f"expected a non-empty string, got {_tname(v)} {v!r}")
    return v


def _check_training(raw: Any, key: str, base: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Training mapping -> {field: list of values} (grid), on top of ``base``."""
    m = _check_mapping(raw, key)
    _check_keys(m, tuple(_TRAINING_CHECKS), key)
    out = {k: list(v) for k, v in base.items()}
    for k, v in m.items():
        out[k] = _grid_values(v, f"{key}.{k}", _TRAINING_CHECKS[k])
    return out


def _check_dataset(raw: Any, key: str) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = {"name": raw}
    m = _check_mapping(raw, key)
    _check_keys(m, DATASET_KEYS, key)
    if "name" not in m:
        raise ConfigError(f"{key}.name", "missing; every dataset needs a name")
    out: dict[str, Any] = {"name": _str(m["name"], f"{key}.name")}
    if "n" in m:
        out["n"] = _int(m["n"], f"{key}.n", lo=2)
    if "noise" in m:
        out["noise"] = _float(m["noise"], f"{key}.noise", lo=0.0)
    if "seed" in m:
        out["seed"] = _int(m["seed"], f"{key}.seed", lo=0)
    if "test_fraction" in m:
        out["test_fraction"] = _float(m["test_fraction"], f"{key}.test_fraction", lo=0.0,
                                      hi=1.0, lo_open=True)
    if "args" in m:
        args = _check_mapping(m["args"], f"{key}.args")
        for k, v in args.items():
            if not (v is None or isinstance(v, str | int | float | bool)):
                raise ConfigError(f"{key}.args.{k}", f"expected a scalar, got {_tname(v)} {v!r}")
            if k in out:
                raise ConfigError(f"{key}.args.{k}", f"set {k!r} directly, not under args")
        out.update(args)
    return out


def _check_model(raw: Any, key: str) -> dict[str, list[Any]]:
    m = _check_mapping(raw, key)
    _check_keys(m, tuple(_MODEL_CHECKS), key)
    if "kind" not in m:
        raise ConfigError(f"{key}.kind", f"missing; expected one of {', '.join(MODEL_KINDS)}")
    out = {k: [v] for k, v in MODEL_DEFAULTS.items()}
    for k, v in m.items():
        out[k] = _grid_values(v, f"{key}.{k}", _MODEL_CHECKS[k])
    return out


def _check_analysis(raw: Any, key: str) -> dict[str, Any]:
    m = _check_mapping(raw, key)
    _check_keys(m, tuple(ANALYSIS_DEFAULTS), key)
    out = dict(ANALYSIS_DEFAULTS)
    if "metrics" in m:
        v = m["metrics"]
        if not isinstance(v, list):
            raise ConfigError(f"{key}.metrics", f"expected a list (subset of {list(METRICS)}), "
                                                f"got {_tname(v)} {v!r}")
        mets = [_choice(x, f"{key}.metrics[{i}]", METRICS) for i, x in enumerate(v)]
        if len(set(mets)) != len(mets):
            raise ConfigError(f"{key}.metrics", f"{v!r} repeats a metric")
        out["metrics"] = [x for x in METRICS if x in mets]
    if "k" in m:
        out["k"] = _int(m["k"], f"{key}.k", lo=1)
    if "ks" in m and m["ks"] is not None:
        v = m["ks"]
        if not isinstance(v, list) or not v:
            raise ConfigError(f"{key}.ks", f"expected a non-empty list of ints, got {v!r}")
        ks = [_int(x, f"{key}.ks[{i}]", lo=1) for i, x in enumerate(v)]
        if len(set(ks)) != len(ks):
            raise ConfigError(f"{key}.ks", f"{v!r} repeats a value")
        out["ks"] = sorted(int(x) for x in ks if x is not None)
        if "k" not in m:
            out["k"] = 30 if 30 in out["ks"] else out["ks"][0]
    if out["ks"] is None:
        out["ks"] = [out["k"]]
    if out["k"] not in out["ks"]:
        raise ConfigError(f"{key}.k", f"{out['k']!r} is not one of ks={out['ks']}; the primary "
                                      "k must be among the swept ks")
    if "test_points" in m:
        out["test_points"] = _int(m["test_points"], f"{key}.test_points", lo=2)
    if out["test_points"] <= max(out["ks"]) and "ricci" in out["metrics"]:
        raise ConfigError(f"{key}.test_points", f"{out['test_points']} points cannot carry "
                          f"k={max(out['ks'])} neighbours; expected more than {max(out['ks'])}")
    if "m" in m:
        out["m"] = _int(m["m"], f"{key}.m", lo=1)
    if "seed" in m:
        out["seed"] = _int(m["seed"], f"{key}.seed", lo=0)
    if "save_trajectories" in m:
        v = m["save_trajectories"]
        if v is False or v is None:
            out["save_trajectories"] = 0
        elif v is True:
            out["save_trajectories"] = 1
        else:
            out["save_trajectories"] = _int(v, f"{key}.save_trajectories", lo=0)
    return out


def _check_backend(raw: Any, key: str) -> dict[str, Any]:
    if isinstance(raw, str):
        raw = {"name": raw}
    m = _check_mapping(raw, key)
    _check_keys(m, tuple(BACKEND_DEFAULTS), key)
    out = dict(BACKEND_DEFAULTS)
    if "name" in m:
        out["name"] = _choice(m["name"], f"{key}.name", BACKENDS)
    if "workers" in m:
        out["workers"] = _int(m["workers"], f"{key}.workers", lo=1, null=True)
    if "address" in m and m["address"] is not None:
        out["address"] = _str(m["address"], f"{key}.address")
    if "chunk_size" in m:
        out["chunk_size"] = _int(m["chunk_size"], f"{key}.chunk_size", lo=1)
    return out


# ----------------------------------------------------------------------------- config object
@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep config (all defaults filled in). Build it with :func:`load_config`."""

    name: str
    out: str | None
    seeds: tuple[int, ...]
    datasets: tuple[dict[str, Any], ...]
    models: tuple[dict[str, list[Any]], ...]
    training: dict[str, list[Any]]
    arms: dict[str, dict[str, list[Any]]] | None
    analysis: dict[str, Any]
    baselines: dict[str, Any]
    backend: dict[str, Any]
    source: str = field(default="<dict>", compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain data (what ``--print-config`` and OUT/config.yaml show)."""

        def unlist(d: Mapping[str, list[Any]]) -> dict[str, Any]:
            return {k: (v[0] if len(v) == 1 else list(v)) for k, v in d.items()}

        out: dict[str, Any] = {"name": self.name}
        if self.out is not None:
            out["out"] = self.out
        out["seeds"] = list(self.seeds)
        out["datasets"] = [dict(d) for d in self.datasets]
        out["models"] = [unlist(m) for m in self.models]
        out["training"] = unlist(self.training)
        if self.arms is not None:
            out["arms"] = {
                name: {k: (v[0] if len(v) == 1 else list(v)) for k, v in arm.items()}
                for name, arm in self.arms.items()
            }
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
    m = _check_mapping(raw, "")
    _check_keys(m, TOP_KEYS, "")
    for required in ("datasets", "models"):
        if required not in m:
            raise ConfigError(required, "missing; a sweep needs datasets and models")
    name = _str(m["name"], "name") if "name" in m else "sweep"
    out = _str(m["out"], "out") if m.get("out") is not None else None
    seeds = _seed_list(m.get("seeds", 1), "seeds")
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
    mv = m["models"]
    if not isinstance(mv, list) or not mv:
        raise ConfigError("models", f"expected a non-empty list, got {_tname(mv)} {mv!r}")
    models = [_check_model(x, f"models[{i}]") for i, x in enumerate(mv)]
    base = {k: [v] for k, v in TRAINING_DEFAULTS.items()}
    training = _check_training(m.get("training", {}), "training", base)
    arms = None
    if m.get("arms") is not None:
        am = _check_mapping(m["arms"], "arms")
        if not am:
            raise ConfigError("arms", "an empty mapping; give at least one arm or drop the key")
        arms = {}
        for arm_name, over in am.items():
            if arm_name in ("untrained",):
                raise ConfigError(f"arms.{arm_name}", "this arm name is reserved for baselines")
            arms[arm_name] = _check_training(over if over is not None else {},
                                             f"arms.{arm_name}", {})
    analysis = _check_analysis(m.get("analysis", {}), "analysis")
    bm = _check_mapping(m.get("baselines", {}) or {}, "baselines")
    _check_keys(bm, ("untrained", "seeds"), "baselines")
    baselines = {
        "untrained": _bool(bm.get("untrained", False), "baselines.untrained"),
        "seeds": None if bm.get("seeds") is None else _seed_list(bm["seeds"], "baselines.seeds"),
    }
    backend = _check_backend(m.get("backend", "local"), "backend")
    cfg = SweepConfig(name=name, out=out, seeds=tuple(seeds), datasets=tuple(datasets),
                      models=tuple(models), training=training, arms=arms, analysis=analysis,
                      baselines=baselines, backend=backend, source=source)
    _check_against_library(cfg)
    return cfg


def _check_against_library(cfg: SweepConfig) -> None:
    """Cross-check names and shapes with the data/model registries when they are importable."""
    try:
        from layerflow.data import list_datasets
    except ImportError:  # pragma: no cover - data package always ships
        list_datasets = None  # type: ignore[assignment]
    if list_datasets is not None:
        known = {e.name.split(":")[0].split("@")[0] for e in list_datasets()}
        for i, d in enumerate(cfg.datasets):
            base = d["name"].split(":")[0].split("@")[0]
            if known and base not in known:
                raise ConfigError(f"datasets[{i}].name", f"unknown dataset {d['name']!r}; "
                                  f"known: {', '.join(sorted(known))}")
    try:
        from layerflow.models import ModelSpec
    except ImportError:
        return
    for i, model in enumerate(cfg.models):
        for combo in _product(model):
            try:
                ModelSpec(**combo)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"models[{i}]", f"{combo}: {exc}") from exc
    try:
        from layerflow.training import TrainConfig
    except ImportError:  # pragma: no cover - train package always ships
        return
    arms = cfg.arms if cfg.arms is not None else {"": {}}
    for arm_name, over in arms.items():
        key = f"arms.{arm_name}" if arm_name else "training"
        for combo in _product({**cfg.training, **over}):
            kwargs = {k: v for k, v in combo.items() if k != "train_fraction"}
            try:
                TrainConfig(**kwargs)
            except (TypeError, ValueError) as exc:
                raise ConfigError(key, f"{exc}") from exc


# ----------------------------------------------------------------------------- grid expansion
def _product(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
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
    """One network of a sweep: what to build, how to train it, how to analyse it."""

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

    def columns(self) -> dict[str, Any]:
        """The config fields of this run as flat table columns."""
        extra = {k: v for k, v in self.dataset.items() if k != "name"}
        t = self.training or {}
        return {
            "run_id": self.run_id,
            "dataset": self.dataset["name"],
            "dataset_args": canonical_json(extra),
            "model_kind": self.model["kind"],
            "width": self.model["width"],
            "depth": self.model["depth"],
            "h": self.model["h"],
            "activation": self.model["activation"],
            "bottleneck_width": self.model["bottleneck_width"],
            "arm": self.arm,
            "optimizer": t.get("optimizer"),
            "lr": t.get("lr"),
            "epochs": t.get("epochs", 0),
            "batch_size": t.get("batch_size"),
            "weight_decay": t.get("weight_decay"),
            "l2": t.get("l2"),
            "transport_weight": t.get("transport_weight"),
            "uzawa": t.get("uzawa"),
            "uzawa_tau": t.get("uzawa_tau"),
            "uzawa_every": t.get("uzawa_every"),
            "train_fraction": t.get("train_fraction", 1.0),
            "seed": self.seed,
            "trained": self.trained,
        }


def _make_run(dataset: dict[str, Any], model: dict[str, Any], training: dict[str, Any] | None,
              arm: str, seed: int, trained: bool, analysis: dict[str, Any]) -> RunSpec:
    content = {"dataset": dataset, "model": model, "training": training, "arm": arm,
               "seed": seed, "trained": trained, "analysis": analysis}
    return RunSpec(run_id=run_id_of(content), dataset=dict(dataset), model=dict(model),
                   training=None if training is None else dict(training), arm=arm, seed=seed,
                   trained=trained, analysis=dict(analysis))


def _analysis_content(cfg: SweepConfig) -> dict[str, Any]:
    a = dict(cfg.analysis)
    a.pop("save_trajectories", None)  # what is saved does not change the numbers
    return a


def expand_runs(cfg: SweepConfig) -> list[RunSpec]:
    """The grid: datasets × model grid × arms × training grid × seeds (+ untrained baselines).

    Order is deterministic. Baselines (``trained=False``, arm ``"untrained"``) take one run per
    dataset × model × baseline seed; training fields are null for them. Combinations that put
    the transport penalty (``transport_weight > 0`` or ``uzawa``) on a non-residual model are not
    expanded (SPEC §4: the cost is that of a residual network), so one config can compare plain
    and residual networks and penalise only the residual ones.
    """
    analysis = _analysis_content(cfg)
    arms = cfg.arms if cfg.arms is not None else {"default": {}}
    runs: list[RunSpec] = []
    seen: set[str] = set()
    for ds in cfg.datasets:
        for model_grid in cfg.models:
            for model in _product(model_grid):
                for arm_name, over in arms.items():
                    grid = {**cfg.training, **over}
                    for training in _product(grid):
                        if model["kind"] != "resnet" and (
                            training.get("transport_weight", 0.0) > 0 or training.get("uzawa")
                        ):
                            continue  # the transport cost is defined for residual nets only
                        for seed in cfg.seeds:
                            r = _make_run(ds, model, training, arm_name, seed, True, analysis)
                            if r.run_id not in seen:
                                seen.add(r.run_id)
                                runs.append(r)
                if cfg.baselines["untrained"]:
                    bseeds = cfg.baselines["seeds"] or list(cfg.seeds)
                    for seed in bseeds:
                        r = _make_run(ds, model, None, "untrained", seed, False, analysis)
                        if r.run_id not in seen:
                            seen.add(r.run_id)
                            runs.append(r)
    return runs
