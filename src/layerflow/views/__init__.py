"""The view contract: one declaration per way of reading a trajectory, read by every layer above.

A **view** (transport, ricci, jacobian) declares in one place

- its **options** (:class:`Option`: name, kind, default, allowed values, one line of help) — the
  ``layerflow analyze`` flags, the sweep config's ``analysis:`` keys and the report's protocol
  column are generated from these, never re-typed;
- its **columns** (:class:`Column`): the scalars it adds to a run's row and the per-layer metrics
  it adds to the long table, each with a label, a help line and the range of its values;
- one ``measure(traj, *, model=None, inputs=None, **options) -> ViewResult`` returning those
  scalars and per-layer rows (NaN with a reason where a value is undefined).

:data:`VIEWS` maps a view name to where its declaration lives (imported on first use, so
``import layerflow`` stays light); :data:`VIEW_OPTIONS` maps it to its options alone
(:class:`ViewOptions`, in a module that imports neither NumPy nor torch), which the command
line's flags are built from. ``layerflow analyze``, the sweep task, config validation and the
report all read it: a metric added to a view's ``measure`` and ``columns`` reaches all of them.

::

    from layerflow.views import get_view, measure_views
    view = get_view("ricci")
    opts = view.resolve({"k": 10})                # defaults filled in, every value checked
    res = view.measure(traj, **opts)              # ViewResult(.scalars, .layers, .results)
    measure_views(traj, ["transport", "ricci"], k=10, m=200)   # {name: ViewResult}
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from layerflow._errors import ConfigError
from layerflow._moved import answer_moved
from layerflow._suggest import did_you_mean

__all__ = [
    "VIEWS",
    "VIEW_OPTIONS",
    "Column",
    "Option",
    "View",
    "ViewOptions",
    "ViewResult",
    "coefficient_row",
    "column_declarations",
    "get_view",
    "layer_row",
    "measure_views",
    "metric_names",
    "registry_keys",
    "resolve_options",
    "view_options",
]

# view name -> "module:attribute" of its View declaration
VIEWS: dict[str, str] = {
    "transport": "layerflow.transport._view:VIEW",
    "ricci": "layerflow.ricci._view:VIEW",
    "jacobian": "layerflow.maps._view:VIEW",
}

# view name -> "module:attribute" of its options (:class:`ViewOptions`), declared in a module that
# imports neither NumPy nor torch, so that ``layerflow --help`` lists them without loading a view
VIEW_OPTIONS: dict[str, str] = {
    "transport": "layerflow.transport._options:OPTIONS",
    "ricci": "layerflow.ricci._options:OPTIONS",
    "jacobian": "layerflow.maps._options:OPTIONS",
}

_KINDS = ("int", "float", "str", "bool", "ints", "strs")


def _tname(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


@dataclass(frozen=True)
class Option:
    """One option of a view.

    ``kind`` is ``int``, ``float``, ``str``, ``bool``, ``ints`` (a list of distinct ints,
    returned sorted) or ``strs`` (a list of distinct strings, order kept; ``choices`` apply to
    each). ``choices`` is a tuple or a zero-argument callable returning one (read when
    checking, so a registry such as the curvature kinds is the single source). ``low`` is an
    inclusive lower bound for numbers (and for each element of ``ints``); ``nullable`` admits
    ``None``. ``resolved_default``: where ``default`` is ``None`` and the view's ``finalize``
    chooses the value, the value it chooses when nothing else decides (shown as the default in
    help); ``None`` when ``default`` is what a left-out option takes.
    """

    name: str
    kind: str
    default: Any
    help: str
    choices: tuple[Any, ...] | Callable[[], Sequence[Any]] | None = None
    low: float | None = None
    nullable: bool = False
    resolved_default: Any = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"option {self.name!r}: kind {self.kind!r} is not one of {_KINDS}")

    def shown_default(self) -> Any:
        """The default a user sees in help: ``resolved_default`` if declared, else ``default``."""
        return self.default if self.resolved_default is None else self.resolved_default

    def allowed(self) -> tuple[Any, ...] | None:
        """The allowed values (``None``: any value of the kind)."""
        if self.choices is None:
            return None
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def check(self, value: Any, key: str | None = None) -> Any:
        """``value`` normalised to the option's kind, or :class:`ConfigError` naming ``key``."""
        key = key or self.name
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(key, f"null is not allowed; expected {self._expected()}")
        if self.kind in ("ints", "strs"):
            what = "integers" if self.kind == "ints" else "strings"
            if not isinstance(value, list | tuple) or not value:
                raise ConfigError(key, f"expected a non-empty list of {what}, got "
                                       f"{_tname(value)} {value!r}")
            out = [self._scalar(v, f"{key}[{i}]", self.kind[:-1]) for i, v in enumerate(value)]
            if len(set(out)) != len(out):
                raise ConfigError(key, f"{list(value)!r} repeats a value")
            return sorted(out) if self.kind == "ints" else out
        return self._scalar(value, key, self.kind)

    def _expected(self, kind: str | None = None) -> str:
        allowed = self.allowed()
        if allowed is not None:
            return "one of " + ", ".join(map(str, allowed))
        bound = f" >= {self.low:g}" if self.low is not None else ""
        return {"int": "an integer", "float": "a finite number", "str": "a string",
                "bool": "true or false", "ints": "a list of integers",
                "strs": "a list of strings"}[kind or self.kind] + bound

    def _scalar(self, v: Any, key: str, kind: str) -> Any:
        if kind == "bool":
            if not isinstance(v, bool):
                raise ConfigError(key, f"expected true or false, got {_tname(v)} {v!r}")
            out: Any = v
        elif kind == "int":
            if not _is_int(v):
                raise ConfigError(key, f"expected an integer, got {_tname(v)} {v!r}")
            out = int(v)
        elif kind == "float":
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(key, f"expected a finite number, got {_tname(v)} {v!r}")
            out = float(v)
        else:
            if not isinstance(v, str):
                raise ConfigError(key, f"expected a string, got {_tname(v)} {v!r}")
            out = v
        if self.low is not None and kind in ("int", "float") and out < self.low:
            raise ConfigError(key, f"{v!r} is too small; expected {self._expected(kind)}")
        allowed = self.allowed()
        if allowed is not None and out not in allowed:
            raise ConfigError(key, f"{v!r} is not allowed{did_you_mean(v, allowed)}; expected "
                                  f"{self._expected(kind)}")
        return out


def registry_keys(module: str, attribute: str,
                  initial: tuple[str, ...]) -> Callable[[], tuple[str, ...]]:
    """The ``choices`` of an option whose values are the keys of a registry (a dict such as the
    curvature kinds), declared without importing it: once ``module`` is imported, the keys of
    its ``attribute`` as they are then (a key added at run time is allowed); before, ``initial``,
    the keys the registry is created with (a test holds them equal), so listing the allowed
    values loads nothing."""

    def keys() -> tuple[str, ...]:
        loaded = sys.modules.get(module)
        return initial if loaded is None else tuple(getattr(loaded, attribute))

    return keys


@dataclass(frozen=True)
class ViewOptions:
    """The options of the view ``view`` and whether it reads the model as well as the trajectory:
    the part of its declaration that the command line reads before anything is measured, kept
    in a light module (:data:`VIEW_OPTIONS`) and handed to its :class:`View` as they are."""

    view: str
    options: tuple[Option, ...]
    needs_model: bool = False

    def declare(self, *, title: str, paper: str, columns: tuple[Column, ...],
                measure_fn: Callable[..., ViewResult],
                finalize: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> View:
        """The :class:`View` these options belong to: its name, options and need of the model
        as declared here."""
        return View(name=self.view, title=title, paper=paper, options=self.options,
                    columns=columns, measure_fn=measure_fn, needs_model=self.needs_model,
                    finalize=finalize)


@dataclass(frozen=True)
class Column:
    """A value a view adds: a scalar column of the runs table or a per-layer ``metric``.

    ``name`` may hold ``{option}`` placeholders expanded from the resolved options (e.g.
    ``w2_k{ks}`` would give one column per value of a list option ``ks``); ``names``, when given, computes the concrete
    names from the options instead (the template then only describes them, and its placeholders
    match any text). ``kind`` is the stored type (``float``, ``int``,
    ``str``, ``bool``). ``low``/``high`` bound the quantity (e.g. OTS in [0, 1], LSS ≥ 1), so
    intervals across runs can respect its range. ``headline`` columns are those a report
    summarises for every view.
    """

    name: str
    label: str
    help: str
    kind: str = "float"
    per_layer: bool = False
    low: float | None = None
    high: float | None = None
    headline: bool = False
    names: Callable[[Mapping[str, Any]], list[str]] | None = None

    def expand(self, options: Mapping[str, Any]) -> list[str]:
        """The concrete column names under ``options`` (one per value of a list option)."""
        if self.names is not None:
            return list(self.names(options))
        if "{" not in self.name:
            return [self.name]
        field_name = self.name[self.name.index("{") + 1 : self.name.index("}")]
        values = options.get(field_name)
        values = values if isinstance(values, list | tuple) else [values]
        return [self.name.replace("{" + field_name + "}", str(v)) for v in values]

    def pattern(self) -> str:
        """A regular expression every concrete name of this column matches."""
        import re

        return "^" + re.sub(r"\\\{\w+\\\}", r"\\w*?", re.escape(self.name)) + "$"


def layer_row(layer: int, layer_name: str, metric: str, value: float,
              k: int | None = None, protocol: str = "") -> dict[str, Any]:
    """One row of the long per-layer table (the sweep adds ``run_id``); ``protocol`` names the
    Ricci protocol of a Ricci metric (``""`` for every other metric)."""
    return {"layer": int(layer), "layer_name": str(layer_name), "metric": metric, "k": k,
            "protocol": protocol, "value": float(value)}


def coefficient_row(protocol: str, k: int, rho: float, first_pair: int,
                    reason: str = "") -> dict[str, Any]:
    """One row of the long coefficients table (the sweep adds ``run_id``): the global Ricci
    coefficient ``rho`` under ``protocol`` at ``k``, the first layer pair it correlates, and why
    it is undefined (``""`` when it is defined)."""
    return {"protocol": str(protocol), "k": int(k), "rho": float(rho),
            "first_pair": int(first_pair), "reason": str(reason)}


@dataclass(frozen=True)
class ViewResult:
    """What a view measured on one trajectory.

    ``scalars``: column name -> value (float, int, str or bool; NaN where undefined);
    ``layers``: per-layer rows (:func:`layer_row`); ``coefficients``: rows of the long
    coefficients table (:func:`coefficient_row`, one per protocol and k); ``results``: the
    library's result objects the numbers were read from (for plots and notebooks; never stored).
    """

    view: str
    scalars: dict[str, Any]
    layers: tuple[dict[str, Any], ...] = ()
    results: Mapping[str, Any] = field(default_factory=dict)
    coefficients: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class View:
    """A declared view: see the module docstring."""

    name: str
    title: str
    paper: str
    options: tuple[Option, ...]
    columns: tuple[Column, ...]
    #: the view's function, called only through :meth:`measure` (options checked, defaults
    #: filled in, the model required where the view needs one)
    measure_fn: Callable[..., ViewResult]
    needs_model: bool = False
    finalize: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)

    def resolve(self, options: Mapping[str, Any] | None = None, where: str = "") -> dict[str, Any]:
        """Defaults filled in and every value checked; unknown names are errors.

        ``where`` prefixes error keys (``analysis`` gives ``analysis.k``). A view may declare a
        ``finalize`` step for relations between options (e.g. the primary k among the ks).
        """
        given = dict(options or {})
        unknown = sorted(set(given) - set(self.option_names))
        if unknown:
            raise ConfigError(_dotted(where, unknown[0]),
                              f"unknown option of the {self.name} view"
                              f"{did_you_mean(unknown[0], self.option_names)}; its options: "
                              f"{', '.join(self.option_names) or '(none)'}")
        out = {o.name: o.check(given[o.name], _dotted(where, o.name)) if o.name in given
               else o.default for o in self.options}
        if self.finalize is not None:
            try:
                out = self.finalize(out)
            except ConfigError as exc:
                raise ConfigError(_dotted(where, exc.key), str(exc).split(": ", 1)[-1]) from exc
        return out

    def scalar_columns(self, options: Mapping[str, Any]) -> list[tuple[str, Column]]:
        """(concrete name, declaration) of every scalar column under resolved ``options``."""
        return [(n, c) for c in self.columns if not c.per_layer for n in c.expand(options)]

    def layer_metrics(self) -> list[Column]:
        return [c for c in self.columns if c.per_layer]

    def nan_scalars(self, options: Mapping[str, Any]) -> dict[str, float]:
        """Every numeric scalar column as NaN (the row of a run that diverged or failed)."""
        return {n: math.nan for n, c in self.scalar_columns(options) if c.kind != "str"}

    def measure(self, traj: Any, *, model: Any = None, inputs: Any = None,
                **options: Any) -> ViewResult:
        """Check ``options`` and measure ``traj`` (``model``/``inputs`` for model views)."""
        opts = self.resolve(options)
        if self.needs_model and model is None:
            raise ConfigError(f"the {self.name} view needs the model (and its inputs), not "
                              "only a trajectory")
        return self.measure_fn(traj, model=model, inputs=inputs, **opts)


def _dotted(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _registered(registry: Mapping[str, str], name: str) -> Any:
    """The object ``registry[name]`` names (``"module:attribute"``), imported."""
    if name not in registry:
        raise ConfigError("", f"unknown view {name!r}{did_you_mean(name, registry)}; views: "
                              f"{', '.join(registry)}")
    module, attr = registry[name].split(":")
    return getattr(importlib.import_module(module), attr)


def get_view(name: str) -> View:
    """The declared view called ``name`` (see :data:`VIEWS`)."""
    view = _registered(VIEWS, name)
    if not isinstance(view, View):  # pragma: no cover - a broken registry entry
        raise TypeError(f"{VIEWS[name]} is a {type(view).__name__}, not a View")
    return view


def view_options(name: str) -> ViewOptions:
    """The options of the view ``name`` (see :data:`VIEW_OPTIONS`), read without importing the
    view's measurement (nor NumPy, SciPy, Numba or torch)."""
    declared = _registered(VIEW_OPTIONS, name)
    if not isinstance(declared, ViewOptions):  # pragma: no cover - a broken registry entry
        raise TypeError(f"{VIEW_OPTIONS[name]} is a {type(declared).__name__}, not ViewOptions")
    return declared


def resolve_options(names: Sequence[str], options: Mapping[str, Any] | None = None,
                    where: str = "") -> dict[str, dict[str, Any]]:
    """Split one flat options mapping among the views ``names``; each value checked once.

    An option name may be shared by several views (each gets it); a name no chosen view declares
    is an error naming the options they do declare.
    """
    views = [get_view(n) for n in names]
    given = dict(options or {})
    known = {o for v in views for o in v.option_names}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(_dotted(where, unknown[0]),
                          f"no chosen view ({', '.join(names)}) has this option"
                          f"{did_you_mean(unknown[0], known)}; their options: "
                          f"{', '.join(sorted(known)) or '(none)'}")
    return {v.name: v.resolve({k: x for k, x in given.items() if k in v.option_names}, where)
            for v in views}


def measure_views(traj: Any, names: Sequence[str] | None = None, *, model: Any = None,
                  inputs: Any = None, **options: Any) -> dict[str, ViewResult]:
    """Measure ``traj`` with each view in ``names`` (default: every view that needs no model)."""
    chosen = list(names) if names is not None else [
        n for n in VIEWS if model is not None or not get_view(n).needs_model]
    resolved = resolve_options(chosen, options)
    return {n: get_view(n).measure(traj, model=model, inputs=inputs, **resolved[n])
            for n in chosen}


def _specificity(col: Column) -> tuple[bool, int]:
    """Sort key of a declaration, most specific first: no placeholder, then the longest
    literal part (``w2_step_k{ks}`` before ``w2{suffix}``)."""
    import re

    return ("{" in col.name, -len(re.sub(r"\{\w+\}", "", col.name)))


def column_declarations(columns: Sequence[str]) -> dict[str, tuple[str, Column]]:
    """``column -> (view name, declaration)`` for those of ``columns`` (a runs table's) that a
    view declares as a scalar, each given to exactly one declaration: the most specific one it
    matches (declarations without placeholders first, then by the longest literal part)."""
    import re

    decls = sorted(((name, col) for name in VIEWS for col in get_view(name).columns
                    if not col.per_layer), key=lambda nc: _specificity(nc[1]))
    patterns = [(name, col, re.compile(col.pattern())) for name, col in decls]
    out: dict[str, tuple[str, Column]] = {}
    for c in columns:
        match = next(((name, col) for name, col, p in patterns if p.match(str(c))), None)
        if match is not None:
            out[str(c)] = match
    return out


def metric_names(columns: Sequence[str]) -> list[str]:
    """Those of ``columns`` that a view declares as a float scalar (a template such as
    ``w2_k{ks}`` matches ``w2_k30``; each column read by its most specific declaration,
    :func:`column_declarations`)."""
    decl = column_declarations(columns)
    return [c for c in columns if str(c) in decl and decl[str(c)][1].kind == "float"]

answer_moved(__name__)
