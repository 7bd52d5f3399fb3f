"""Transport across states of different widths: every transition accounted for.

A conv net read stage by stage (``layer1 … layer4`` of a ResNet with ``pool="mean"``: widths
64, 128, 256, 512) has no two consecutive states of equal width, and a block-level capture has
several equal-width runs separated by changes of width. :func:`stage_transport` measures every
transition ``x^(l) -> x^(l+1)`` with the metrics that are defined on it and lists, per metric,
the transitions it used and those it left out with the reason — never one run chosen silently:

* a transition between states of equal width is a step ``s_l = x^(l+1) − x^(l)``;
* a transition whose widths differ is a step only through a projection the user names
  (``projections={target_name: P}``, ``s_l = x^(l+1) − P(x^(l))``); without one the step
  metrics leave it out, and the Gromov–Wasserstein OT score (:func:`gw_ot_score`, which compares
  the two clouds through their own distances only) measures it;
* the line-shape score and the OT score are read on each run of consecutive equal-width states.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory
from layerflow.transport._assignment import exact_assignment
from layerflow.transport._common import check_trajectory
from layerflow.transport._gw import DEFAULT_GW_M, gw_ot_score
from layerflow.transport._lss import line_shape_score
from layerflow.transport._ots import ot_score, resolve_m

#: the metrics of :func:`stage_transport`, in order, and what their ``parts`` are
STAGE_METRICS = {
    "kinetic_energy": "per step: mean_i ‖s_l(i)‖² (total: the sum)",
    "path_length": "per step: mean_i ‖s_l(i)‖ (total: the sum)",
    "w2_step": "per step: W2 between the (projected) source and the target measure (total: sum)",
    "lss": "per equal-width run of at least 2 steps: mean line-shape score",
    "ots": "per equal-width run: OT score between its first and last state",
    "gw_ots": "per transition whose widths differ: Gromov–Wasserstein OT score",
}

Projection = Callable[[np.ndarray], np.ndarray] | np.ndarray


@dataclass(frozen=True)
class Transition(ResultDisplay, headline=("index", "source", "target", "source_width",
                                          "target_width", "space")):
    """One transition ``x^(index) -> x^(index+1)``.

    ``space`` is ``"same"`` (equal widths), ``"projected"`` (widths differ; the user's
    projection maps the source into the target's space) or ``"different"`` (widths differ, no
    projection: no step).
    """

    index: int
    source: str
    target: str
    source_width: int
    target_width: int
    space: str

    @property
    def label(self) -> str:
        return f"{self.source} -> {self.target}"


@dataclass(frozen=True)
class MetricUse(ResultDisplay, headline=("name", "total", "used", "left_out")):
    """One metric of :func:`stage_transport` and the transitions behind it.

    Attributes
    ----------
    name
        A key of :data:`STAGE_METRICS`.
    parts
        ``(label, value)`` per transition (``"a -> b"``) or per run (``"a .. b"``) it was
        computed on.
    total
        The sum of the parts for the additive metrics (kinetic energy, path length, W2 steps);
        NaN for the others (a mean over runs or transitions of different kinds is not a
        quantity of the papers) and when nothing was used.
    used
        The transitions the metric read (``"a -> b"``).
    left_out
        ``(transition, reason)`` for each transition it did not read.
    """

    name: str
    parts: tuple[tuple[str, float], ...]
    total: float
    used: tuple[str, ...]
    left_out: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class StageTransport(ResultDisplay, headline=("m", "seed", "projected"), records="metrics"):
    """:func:`stage_transport`: every transition and every metric with what it used.

    Attributes
    ----------
    transitions
        One :class:`Transition` per pair of consecutive states.
    metrics
        One :class:`MetricUse` per key of :data:`STAGE_METRICS`, in that order;
        ``result["lss"]`` picks one.
    m, seed
        Samples (seeded subsample) of the OT, W2 and GW scores.
    projected
        The transitions measured through a user's projection.
    """

    transitions: tuple[Transition, ...]
    metrics: tuple[MetricUse, ...]
    m: int
    seed: int
    projected: tuple[str, ...]

    def __getitem__(self, name: str) -> MetricUse:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(f"no metric {name!r}; metrics: {list(STAGE_METRICS)}")


def _projections(traj: Trajectory, projections: Mapping[str, Projection] | None
                 ) -> dict[int, Projection]:
    """``{target state index: projection}``, checked against the trajectory's names."""
    if projections is None:
        return {}
    if not isinstance(projections, Mapping):
        raise ConfigError(f"projections is a {type(projections).__name__}; expected a "
                             "mapping {target state name: matrix or function}")
    names = list(traj.layer_names)
    out: dict[int, Projection] = {}
    for key, proj in projections.items():
        if key not in names[1:]:
            raise ConfigError(
                f"projections names {key!r}, which is not a state after the first; states: "
                f"{names[1:]}"
            )
        if not (callable(proj) or isinstance(proj, np.ndarray)):
            raise ConfigError(f"projections[{key!r}] is a {type(proj).__name__}; expected "
                                 "an array of shape (d_source, d_target) or a function")
        out[names.index(key)] = proj
    return out


def _project(proj: Projection, X: np.ndarray, d_target: int, label: str) -> np.ndarray:
    Y = X @ proj if isinstance(proj, np.ndarray) else np.asarray(proj(X), dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if Y.shape != (X.shape[0], d_target):
        raise ConfigError(
            f"the projection of {label} maps shape {X.shape} to {Y.shape}; expected "
            f"{(X.shape[0], d_target)} (the target state's shape)"
        )
    return Y


def stage_transport(
    traj: Trajectory,
    m: int | None = None,
    seed: int = 0,
    *,
    projections: Mapping[str, Projection] | None = None,
    solver: str = "auto",
) -> StageTransport:
    """Transport metrics of every transition of ``traj``, whatever the widths, each metric with
    the transitions it used and those it left out.

    For each transition ``x^(l) -> x^(l+1)`` (states of shape ``(N, d_l)``):

    * equal widths: the step ``s_l = x^(l+1) − x^(l)``; widths that differ, with a projection
      named for the target state (``projections={name: P}``, ``P`` an array of shape
      ``(d_l, d_{l+1})`` applied as ``x P``, or a function of an ``(N, d_l)`` array): the step
      ``s_l = x^(l+1) − P(x^(l))``. On those steps: ``kinetic_energy`` ``mean_i ‖s_l(i)‖²``
      and ``path_length`` ``mean_i ‖s_l(i)‖`` (Karkar et al. 2020) and ``w2_step``, the exact
      W2 between the (projected) source and the target measure on ``m`` samples (Gai & Zhang
      2021); totals are their sums.
    * widths that differ without a projection: no step; ``gw_ots``, the Gromov–Wasserstein OT
      score between the two states on ``m`` samples (:func:`gw_ot_score`: it compares the
      clouds through their own distance matrices, so no common space is needed).
    * on each run of consecutive equal-width states: ``lss`` (mean line-shape score, runs of at
      least 2 steps: one step has LSS 1 by construction) and ``ots`` (OT score between the
      run's first and last state, :func:`ot_score`).

    Parameters
    ----------
    traj
        Any trajectory (e.g. ``capture(resnet, X, layers=["layer1", …, "layer4"],
        pool="mean")``).
    m, seed
        Seeded subsample size of the OT, W2 and GW scores (default ``min(N, 500)``: a GW
        iteration costs O(m³)).
    projections
        ``{target state name: P}``: the transitions into those states become steps through P
        (the user's choice of how the smaller space sits in the larger; none by default).
    solver
        Exact assignment solver (see :func:`exact_assignment`).

    Raises
    ------
    ConfigError
        A projection named for an unknown state, of a bad type or giving the wrong shape; a
        bad ``m``.
    """
    traj = check_trajectory(traj, "stage_transport")
    n = traj.n_samples
    mm = resolve_m(m, n, "stage_transport", default=DEFAULT_GW_M)
    projs = _projections(traj, projections)
    names, widths = list(traj.layer_names), list(traj.widths)
    transitions = []
    for i in range(len(names) - 1):
        space = ("same" if widths[i] == widths[i + 1] else
                 "projected" if i + 1 in projs else "different")
        transitions.append(Transition(i, names[i], names[i + 1], int(widths[i]),
                                      int(widths[i + 1]), space))
    sub = traj.subsample(mm, seed) if mm < n else traj
    steps: dict[str, list[tuple[str, float]]] = {"kinetic_energy": [], "path_length": [],
                                                 "w2_step": []}
    step_out: list[tuple[str, str]] = []
    for t in transitions:
        if t.space == "different":
            step_out.append((t.label, f"widths {t.source_width} -> {t.target_width} differ and "
                             "no projection is named for it (projections={"
                             f"{t.target!r}: P}})"))
            continue
        X = np.asarray(traj.states[t.index], dtype=np.float64)
        Y = np.asarray(traj.states[t.index + 1], dtype=np.float64)
        Xs = np.asarray(sub.states[t.index], dtype=np.float64)
        Ys = np.asarray(sub.states[t.index + 1], dtype=np.float64)
        if t.space == "projected":
            X = _project(projs[t.index + 1], X, t.target_width, t.label)
            Xs = _project(projs[t.index + 1], Xs, t.target_width, t.label)
        norms = np.linalg.norm(Y - X, axis=1)
        steps["kinetic_energy"].append((t.label, float(np.mean(norms ** 2))))
        steps["path_length"].append((t.label, float(np.mean(norms))))
        w2 = exact_assignment(Xs, Ys, solver=solver, what="stage_transport W2 step").cost
        steps["w2_step"].append((t.label, math.sqrt(max(w2, 0.0))))
    metrics = []
    for key in ("kinetic_energy", "path_length", "w2_step"):
        parts = tuple(steps[key])
        metrics.append(MetricUse(key, parts, float(sum(v for _, v in parts)) if parts
                                 else math.nan, tuple(p for p, _ in parts), tuple(step_out)))
    metrics.extend(_run_metrics(traj, transitions, mm, seed, solver))
    metrics.append(_gw_metric(traj, transitions, mm, seed))
    return StageTransport(tuple(transitions), tuple(metrics), mm, int(seed),
                          tuple(t.label for t in transitions if t.space == "projected"))


def _run_metrics(traj: Trajectory, transitions: list[Transition], m: int, seed: int,
                 solver: str) -> list[MetricUse]:
    """LSS and OTS on every run of consecutive equal-width states."""
    names = traj.layer_names
    runs = traj.equal_width_runs()
    in_run = {i for a, b in runs for i in range(a, b)}
    across = tuple((t.label, f"widths {t.source_width} -> {t.target_width} differ: read on runs "
                    "of equal width only") for t in transitions if t.index not in in_run)
    lss_parts, lss_used, lss_out = [], [], list(across)
    ots_parts, ots_used = [], []
    for a, b in runs:
        label = f"{names[a]} .. {names[b]}"
        inside = [t.label for t in transitions if a <= t.index < b]
        if b - a >= 2:
            lss_parts.append((label, float(line_shape_score(traj, run=(a, b)).mean)))
            lss_used.extend(inside)
        else:
            lss_out.extend((lab, "a run of one step has LSS 1 by construction")
                           for lab in inside)
        ots_parts.append((label, float(ot_score(traj, m=m, seed=seed, run=(a, b),
                                                solver=solver).score)))
        ots_used.extend(inside)
    return [
        MetricUse("lss", tuple(lss_parts), math.nan, tuple(lss_used), tuple(lss_out)),
        MetricUse("ots", tuple(ots_parts), math.nan, tuple(ots_used), across),
    ]


def _gw_metric(traj: Trajectory, transitions: list[Transition], m: int, seed: int) -> MetricUse:
    parts, used, out = [], [], []
    for t in transitions:
        if t.source_width == t.target_width:
            out.append((t.label, "equal widths: the plain OT score applies (ots)"))
            continue
        score = gw_ot_score(traj, m=m, seed=seed, source=t.index, target=t.index + 1).score
        parts.append((t.label, float(score)))
        used.append(t.label)
    return MetricUse("gw_ots", tuple(parts), math.nan, tuple(used), tuple(out))
