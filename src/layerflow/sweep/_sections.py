"""Checking each section of a sweep config against the library's own objects.

Every function takes the raw YAML value of one section and returns it resolved (defaults filled
in, lists kept as grids), or raises :class:`ConfigError` with the dotted key of the bad entry.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from layerflow._errors import ConfigError
from layerflow._suggest import did_you_mean
from layerflow.sweep._grid import grid_product

SWEEP_ANALYSIS: dict[str, Any] = {"metrics": ["transport", "ricci"], "test_points": 500,
                                  "save_trajectories": 1}
#: analysis switches that are off by default and, when off, absent from the resolved analysis (so
#: the runs of configs written before they existed keep their ids); on, they are part of each
#: run's identity
SWEEP_SWITCHES: dict[str, str] = {
    "per_token": "one point per token: states (N, T, d) become N·T rows (layerflow.capture's "
                 "per_token=True); a model over token ids starts its tracks at the embedding",
}
BACKEND_DEFAULTS: dict[str, Any] = {"name": "local", "workers": None, "address": None,
                                    "chunk_size": 32}


# ----------------------------------------------------------------------------- small checks
def type_name(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def check_mapping(v: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ConfigError(key, f"expected a mapping, got {type_name(v)} {v!r}")
    for k in v:
        if not isinstance(k, str):
            raise ConfigError(key, f"keys must be strings, got {k!r}")
    return v


def check_keys(m: Mapping[str, Any], allowed: tuple[str, ...] | list[str], key: str) -> None:
    for k in m:
        if k not in allowed:
            path = f"{key}.{k}" if key else k
            raise ConfigError(path, f"unknown key{did_you_mean(k, allowed)}; allowed keys here: "
                                   f"{', '.join(allowed)}")


def _int(v: Any, key: str, lo: int, null: bool = False) -> int | None:
    if v is None and null:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(key, f"expected an integer{' or null' if null else ''}, "
                               f"got {type_name(v)} {v!r}")
    if v < lo:
        raise ConfigError(key, f"{v!r} is too small; expected an integer >= {lo}")
    return int(v)


def check_text(v: Any, key: str) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(key, f"expected a non-empty string, got {type_name(v)} {v!r}")
    return v


def check_seeds(v: Any, key: str) -> list[int]:
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 1:
            raise ConfigError(key, f"{v!r}: a seed count must be >= 1 (or give a list of seeds)")
        return list(range(int(v)))
    if isinstance(v, list) and v:
        out = [_int(s, f"{key}[{i}]", 0) or 0 for i, s in enumerate(v)]  # never None here
        if len(set(out)) != len(out):
            raise ConfigError(key, f"{v!r} repeats a seed; seeds must be distinct")
        return out
    raise ConfigError(key, f"expected a count (int >= 1) or a non-empty list of ints, "
                           f"got {type_name(v)} {v!r}")


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
_FIELDS_IN_MESSAGE = re.compile(r"\b(\w+)(?:\[\d+\])?=")


def _build(cls: Callable[..., Any], kwargs: Mapping[str, Any], key: str,
           per_field: Mapping[str, str] | None = None, prefer: tuple[str, ...] = ()) -> Any:
    """``cls(**kwargs)``; its error comes back as a :class:`ConfigError` keyed ``key`` — or the
    key (from ``per_field``) of a field the library's message names (``heads=4: must divide
    width=6``): the first named field in ``prefer`` (the fields an arm overrides), else the
    first named field in ``per_field``."""
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        fields = per_field or {}
        named = [n for n in _FIELDS_IN_MESSAGE.findall(msg) if n in fields]
        chosen = next((n for n in named if n in prefer), named[0] if named else None)
        raise ConfigError(fields[chosen] if chosen else key, msg) from exc


def _field_keys(key: str, grid: Mapping[str, list[Any]], combo: Mapping[str, Any],
                names: Any) -> dict[str, str]:
    """``field -> dotted key`` for one combination of a grid: ``key.field``, with the index of
    the combination's value where the field lists several (``training.lr[1]``)."""
    out = {}
    for n in names:
        values = grid.get(n, [])
        idx = next((i for i, v in enumerate(values) if v is combo.get(n)), None) \
            if len(values) > 1 else None
        out[n] = f"{key}.{n}" + (f"[{idx}]" if idx is not None else "")
    return out


def _section(raw: Any, key: str, cls: type, skip: tuple[str, ...] = (),
             required: bool = True) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """A mapping of ``cls`` fields (lists as grids) -> ``({field: [values]}, type hints)``.

    Each value is checked by building ``cls`` with it (and the section's first values), so a bad
    value is reported at its own key (``training.lr[1]``); fields without a default are required.
    """
    m = check_mapping(raw, key)
    fields = {n: fh for n, fh in _dataclass_fields(cls).items() if n not in skip}
    check_keys(m, list(fields), key)
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
    given_required = {n: first[n] for n, (d, _) in fields.items()
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
            if err is not None and _field_error(cls, {**defaults, **given_required, name: v},
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


def check_models(raw: Any) -> tuple[dict[str, list[Any]], ...]:
    """Each model entry as a grid of :class:`~layerflow.ModelSpec` fields; an optional field
    left unset (:data:`~layerflow.models.OPTIONAL_FIELDS`) is left out of the runs."""
    from layerflow.models import OPTIONAL_FIELDS, ModelSpec

    if not isinstance(raw, list) or not raw:
        raise ConfigError("models", f"expected a non-empty list, got {type_name(raw)} {raw!r}")
    out = []
    for i, entry in enumerate(raw):
        key = f"models[{i}]"
        if isinstance(entry, Mapping) and "kind" not in entry:
            raise ConfigError(f"{key}.kind", "missing; every model needs a kind")
        grid, _ = _section(entry, key, ModelSpec)
        for combo in grid_product(grid):
            _build(ModelSpec, combo, key,
                   _field_keys(key, grid, combo, _dataclass_fields(ModelSpec)))
        out.append({k: v for k, v in grid.items() if not (k in OPTIONAL_FIELDS and v == [None])})
    return tuple(out)


def training_fields() -> tuple[str, ...]:
    """The :class:`~layerflow.TrainConfig` fields a sweep sets (all but the execution fields)."""
    from layerflow.training import TrainConfig

    return tuple(n for n in _dataclass_fields(TrainConfig)
                 if n not in TrainConfig.EXECUTION_FIELDS)


def check_training(raw: Any, key: str, base: Mapping[str, list[Any]] | None
                    ) -> dict[str, list[Any]]:
    """Training fields as a grid; with ``base`` (an arm) only the overrides are returned."""
    from layerflow.training import TrainConfig

    m = check_mapping(raw if raw is not None else {}, key)
    if "train_fraction" in m:
        raise ConfigError(f"{key}.train_fraction", "not a training field; give train_fraction "
                                                   "at the top level of the config")
    grid, _ = _section(m, key, TrainConfig, skip=TrainConfig.EXECUTION_FIELDS)
    for name in ("val_fraction", "val_seed"):  # one split per sweep, so the stored column holds
        if name in m and any(v != 0 for v in grid[name]):  # the fraction the runs used
            raise ConfigError(f"{key}.{name}", f"{m[name]!r}: a sweep holds out one validation "
                              "split per dataset, seeded by the dataset's seed; give "
                              "val_fraction at the top level of the config (and leave "
                              f"{name} out of training and arms)")
    if base is None:
        return grid
    return {k: v for k, v in grid.items() if k in m}


def check_combos(training: Mapping[str, list[Any]],
                  arms: Mapping[str, Mapping[str, list[Any]]] | None) -> None:
    from layerflow.training import TrainConfig

    names = list(_dataclass_fields(TrainConfig))
    for arm_name, over in (arms or {"": {}}).items():
        key = f"arms.{arm_name}" if arm_name else "training"
        for combo in grid_product({**training, **over}):
            per_field = {**_field_keys("training", training, combo, names),
                         **_field_keys(key, over, combo, over)}
            _build(TrainConfig, combo, key, per_field, prefer=tuple(over))


def check_dataset_entry(raw: Any, key: str, substitute: bool = True) -> dict[str, Any]:
    """A dataset entry: a registry name or a mapping of a name and its loader's arguments, plus
    optionally ``substitute`` (an entry used when the data set's files are not in the cache;
    :func:`layerflow.data._provenance.resolve_entry`) and ``stands_for`` (the name it replaces)."""
    from layerflow.data import check_dataset

    if isinstance(raw, str):
        raw = {"name": raw}
    m = dict(check_mapping(raw, key))
    extra: dict[str, Any] = {}
    if "substitute" in m:
        if not substitute:
            raise ConfigError(f"{key}.substitute", "a substitute cannot have a substitute")
        extra["substitute"] = check_dataset_entry(m.pop("substitute"), f"{key}.substitute",
                                                  substitute=False)
    if "stands_for" in m:
        extra["stands_for"] = check_text(m.pop("stands_for"), f"{key}.stands_for")
    if "name" not in m:
        raise ConfigError(f"{key}.name", "missing; every dataset needs a name")
    out: dict[str, Any] = {"name": check_text(m["name"], f"{key}.name")}
    args = dict(check_mapping(m["args"], f"{key}.args")) if "args" in m else {}
    for k in args:
        if k in m:
            raise ConfigError(f"{key}.args.{k}", f"set {k!r} directly, not under args")
    for k, v in [*((k, v) for k, v in m.items() if k not in ("name", "args")), *args.items()]:
        where = f"{key}.args.{k}" if k in args else f"{key}.{k}"
        if not (v is None or isinstance(v, str | int | float | bool)):
            raise ConfigError(where, f"expected a scalar, got {type_name(v)} {v!r}")
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
    return {**out, **extra}


def check_analysis(raw: Any) -> dict[str, Any]:
    from layerflow.views import VIEWS, get_view, resolve_options

    key = "analysis"
    m = dict(check_mapping(raw if raw is not None else {}, key))
    options = {o.name: o for n in VIEWS for o in get_view(n).options}
    check_keys(m, [*SWEEP_ANALYSIS, *SWEEP_SWITCHES, *options], key)
    out: dict[str, Any] = dict(SWEEP_ANALYSIS)
    for switch in SWEEP_SWITCHES:
        if switch in m:
            v = m.pop(switch)
            if not isinstance(v, bool):
                raise ConfigError(f"{key}.{switch}", f"expected true or false, got "
                                                     f"{type_name(v)} {v!r}")
            if v:
                out[switch] = True
    if "metrics" in m:
        v = m.pop("metrics")
        if not isinstance(v, list):
            raise ConfigError(f"{key}.metrics", f"expected a list (subset of {list(VIEWS)}), "
                                                f"got {type_name(v)} {v!r}")
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
        out["save_trajectories"] = (int(bool(v)) if isinstance(v, bool) or v is None
                                    else _int(v, f"{key}.save_trajectories", 0))
    for name in VIEWS:  # every given option is checked, even one of a view not chosen
        get_view(name).resolve({k: v for k, v in m.items()
                                if k in get_view(name).option_names}, key)
    per_view = resolve_options(out["metrics"], {k: v for k, v in m.items() if any(
        k in get_view(n).option_names for n in out["metrics"])}, key)
    for opts in per_view.values():
        out.update(opts)
    # per token, test_points counts sequences of T tokens each (T known once the data load)
    if ("ricci" in out["metrics"] and not out.get("per_token")
            and out["test_points"] <= max(out["ks"])):
        raise ConfigError(f"{key}.test_points", f"{out['test_points']} points cannot carry "
                          f"k={max(out['ks'])} neighbours; expected more than {max(out['ks'])}")
    return out


def check_backend(raw: Any) -> dict[str, Any]:
    from layerflow.sweep._backends import BACKENDS

    key = "backend"
    m = check_mapping({"name": raw} if isinstance(raw, str) else raw, key)
    check_keys(m, tuple(BACKEND_DEFAULTS), key)
    out = dict(BACKEND_DEFAULTS)
    if "name" in m and m["name"] not in BACKENDS:
        raise ConfigError(f"{key}.name", f"{m['name']!r} is not allowed; expected one of "
                                         f"{', '.join(BACKENDS)}")
    out["name"] = m.get("name", out["name"])
    if "workers" in m:
        out["workers"] = _int(m["workers"], f"{key}.workers", 1, null=True)
    if m.get("address") is not None:
        out["address"] = check_text(m["address"], f"{key}.address")
    if "chunk_size" in m:
        out["chunk_size"] = _int(m["chunk_size"], f"{key}.chunk_size", 1)
    return out


def check_train_fractions(raw: Any) -> list[float]:
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


def check_val_fraction(raw: Any) -> float:
    """The validation share held out of every training split (0: none)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not (0.0 <= raw < 1.0):
        raise ConfigError("val_fraction", f"{raw!r}: expected a number with 0 <= val_fraction "
                                          "< 1")
    return float(raw)
