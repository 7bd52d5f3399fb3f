"""The transport view's declaration (see :mod:`layerflow.views`) and its one measurement.

``measure_transport`` computes every transport metric of one trajectory on the equal-width run,
sharing the work: the steps are computed once; the end-to-end W2 assignment is reused for the OT
score when it covers all samples. A metric added here (its column and one line in
``measure_transport``) reaches ``layerflow analyze``, sweeps and the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerflow._errors import BudgetError, ConfigError, NotComputableError
from layerflow.transport import _common
from layerflow.transport._assignment import Assignment, exact_assignment
from layerflow.transport._common import (
    check_memory,
    check_trajectory,
    run_indices,
    run_label,
)
from layerflow.transport._gw import DEFAULT_GW_M, gw_ot_score
from layerflow.transport._kinetic import (
    TurningAnglesResult,
    angles_from_units,
    kinetic_from_stacked,
    state_means,
)
from layerflow.transport._lss import lss_from_units, nan_mean_median, unit_steps
from layerflow.transport._options import DEFAULT_M, OPTIONS
from layerflow.transport._options import W2_FALLBACK_M as W2_FALLBACK_M
from layerflow.transport._ots import ot_result, resolve_m
from layerflow.transport._stages import MetricUse
from layerflow.transport._w2path import WassersteinPathResult, w2_path_of
from layerflow.views import Column, ViewResult, layer_row

#: bytes of float64 work per block of tracks (the steps, unit steps and norms of that many rows)
_TRACK_BLOCK_BYTES = 1 << 28


def _tracks(states: Any, used: tuple[int, int]) -> tuple[np.ndarray, int, float, float,
                                                         TurningAnglesResult]:
    """LSS per track, skipped steps, kinetic energy, path length and turning angles of the
    states of a run, in blocks of rows (one block when they fit, as one stacked array)."""
    from layerflow._npzmap import release, row_blocks

    n = int(states[0].shape[0])
    d = int(states[0].shape[1])
    rows = max(1, _TRACK_BLOCK_BYTES // (4 * len(states) * d * 8))
    if n <= rows:
        stacked = np.stack([np.asarray(s, dtype=np.float64) for s in states])
        norms, units, nonzero = unit_steps(stacked)
        lss = lss_from_units(units, nonzero)
        skipped = int(nonzero.size - np.count_nonzero(nonzero))
        return (lss, skipped, kinetic_from_stacked(stacked), float(norms.mean(axis=1).sum()),
                angles_from_units(units, nonzero, used))
    parts, thetas = [], []
    skipped = 0
    energy = np.zeros(len(states) - 1)
    length = np.zeros(len(states) - 1)
    for sl in row_blocks(n, rows):
        blocks = [s[sl] for s in states]
        stacked = np.stack([np.asarray(b, dtype=np.float64) for b in blocks])
        for b in blocks:
            release(b)
        norms, units, nonzero = unit_steps(stacked)
        parts.append(lss_from_units(units, nonzero))
        skipped += int(nonzero.size - np.count_nonzero(nonzero))
        steps = np.diff(stacked, axis=0)
        energy += np.einsum("lnd,lnd->ln", steps, steps).sum(axis=1)
        length += norms.sum(axis=1)
        thetas.append(np.array(angles_from_units(units, nonzero, used).per_sample))
    theta = np.concatenate(thetas)  # (N, n-1)
    ok = ~np.isnan(theta)
    per_state, mean, total = state_means(theta, ok, axis=0)
    theta.setflags(write=False)
    per_state.setflags(write=False)
    angles = TurningAnglesResult(theta, per_state, mean, int(ok.size - total), used)
    return (np.concatenate(parts), skipped, float((energy / n).sum()),
            float((length / n).sum()), angles)


def _w2(traj: Any, used: tuple[int, int], solver: str, w2_m: int | None,
        seed: int, max_bytes: int | None) -> tuple[WassersteinPathResult, Assignment, int, str]:
    """The W2 path on all N samples when they fit (``w2_m=None``) or on ``min(N, w2_m)``; else on
    a seeded subsample of :data:`W2_FALLBACK_M`. Returns the path, the end-to-end assignment,
    the number of samples and a note saying which subsample was used (``""`` for all)."""
    n = traj.n_samples
    start, stop = used
    note = ""
    if w2_m is None:
        d = traj.widths[start]
        stacked_bytes = (stop - start + 1) * n * d * 8
        try:
            check_memory(n, 3, "wasserstein_path", max_bytes)
            # the same budget as check_memory's (half the available memory by default)
            if stacked_bytes > (max_bytes if max_bytes is not None
                                else _common.available_bytes() // 2):
                raise BudgetError("the stacked states do not fit")
            m = n
        except BudgetError:
            budget = max_bytes if max_bytes is not None else _common.available_bytes() // 2
            fits = math.isqrt(max(budget, 0) // (3 * 8))  # three m×m float64 matrices
            m = min(n, W2_FALLBACK_M, fits)
            note = (f"W2 path on a subsample of {m} of the {n} samples (seed {seed}): the exact "
                    f"assignments on all of them do not fit in memory; w2_m sets the size")
    else:
        m = min(n, w2_m)
        if m < n:
            note = f"W2 path on a subsample of {m} of the {n} samples (seed {seed}; w2_m={w2_m})"
    if m < 2:
        raise BudgetError(f"wasserstein_path: not even 2 samples fit the memory budget "
                                f"({max_bytes if max_bytes is not None else 'half the available'}"
                                " bytes)")
    sub = traj if m == n else traj.subsample(m, seed)
    stacked = np.stack([np.asarray(s, dtype=np.float64) for s in sub.states[start : stop + 1]])
    path, end = w2_path_of(stacked, used, solver=solver, max_bytes=max_bytes)
    return path, end, m, note


def measure_transport(traj: Any, *, model: Any = None, inputs: Any = None, m: int | None = DEFAULT_M,
                      seed: int = 0, solver: str = "auto",
                      run: tuple[int, int] | None = None, final_norm: bool = False,
                      w2_m: int | None = None, w2_max_bytes: int | None = None) -> ViewResult:
    """LSS, OTS, W2 path, kinetic energy, path length and turning angles of ``traj``.

    Scalars: the columns of :data:`VIEW`; per-layer rows: the W2 step into each state of the
    run. ``results`` holds the objects behind them: ``lss`` (per-sample array, shape (N,)),
    ``ots``, ``path`` and ``angles``. As in :func:`~layerflow.transport.ot_score`, ``min(N, m)``
    samples are used for the OT score (``ot_m``); when that is all of them the score reuses the
    end-to-end assignment of the W2 path (the same problem).

    The tracks' metrics (LSS, kinetic energy, path length, turning angles) use every sample, in
    blocks of rows, so a corpus larger than memory (a mapped trajectory) is read once. The W2
    path uses every sample when its exact assignments fit in memory, else a seeded subsample
    (``w2_m``; default :data:`W2_FALLBACK_M`, or fewer if that many do not fit); ``w2_m`` and ``transport_note`` say which
    (``w2_max_bytes`` is the memory budget; default half the available memory). A W2
    or OT score that cannot be computed is NaN with its reason in ``transport_note``; the
    other metrics are still reported. The default run leaves out token ids and, unless
    ``final_norm``, a final-norm state (``transport_note`` names them).

    When the captured layers (the states after the input, whose width may differ: the lift into
    the network's width) change width (a conv net captured block by block across its
    downsampling, or stage by stage), the metrics above read one run — the longest
    equal-width run, or none when no two consecutive states have equal width (stage by stage:
    they are then NaN and ``transport_run`` is empty) — and ``transport_note`` names the
    transitions they read and each one they left out with the reason; every transition whose
    widths differ gets the Gromov–Wasserstein OT score (:func:`~layerflow.transport.gw_ot_score`,
    on ``min(N, m, 500)`` seeded samples) as a per-layer ``gw_ots`` row, and
    ``results["transitions"]`` holds the same accounting as
    :class:`~layerflow.transport._stages.MetricUse` records. A named ``run`` is read as named,
    with no such note. :func:`~layerflow.transport.stage_transport` reads every run and steps
    through projections the user names.
    """
    traj = check_trajectory(traj, "summary")
    n = traj.n_samples
    mm = resolve_m(m, n, "transport summary")
    notes: list[str] = []
    if run is None:
        _, left_out = traj.analysed(final_norm)
        if left_out:
            notes.append(left_out)
        if not traj.equal_width_runs(final_norm) and len(traj.analysed(final_norm)[0]) > 1:
            # stage by stage: no two consecutive states have equal width
            return _across_stages_only(traj, mm, seed, final_norm, notes)
    used = run_indices(traj, run, "transport summary", final_norm)
    across = _across(traj, used, final_norm, mm, seed) if run is None else None
    if across is not None:
        notes.append(across.note)
    states = traj.states[used[0] : used[1] + 1]
    lss, skipped, energy, length, angles = _tracks(states, used)
    lss_mean, lss_median = nan_mean_median(lss)
    path = end = None
    w2_n = 0
    try:
        path, end, w2_n, w2_note = _w2(traj, used, solver, w2_m, seed, w2_max_bytes)
        if w2_note:
            notes.append(w2_note)
    except (ConfigError, BudgetError, NotComputableError) as exc:
        notes.append(f"no W2 path: {exc}")
    ots = None
    try:
        if mm == n and end is not None and w2_n == n:
            X = np.asarray(states[0], dtype=np.float64)
            Y = np.asarray(states[-1], dtype=np.float64)
            ots = ot_result(X, Y, end, mm, seed, used)
        else:
            sub = traj.subsample(mm, seed)
            X = np.asarray(sub.states[used[0]], dtype=np.float64)
            Y = np.asarray(sub.states[used[1]], dtype=np.float64)
            ots = ot_result(X, Y, exact_assignment(X, Y, solver=solver, what="ot_score"), mm,
                            seed, used)
    except (ConfigError, BudgetError, NotComputableError) as exc:
        notes.append(f"no OT score: {exc}")
    nan = float("nan")
    scalars: dict[str, Any] = {
        "lss_mean": lss_mean,
        "lss_median": lss_median,
        "lss_nan": int(np.isnan(lss).sum()),
        "lss_skipped_steps": skipped,
        "ots": ots.score if ots is not None else nan,
        "ot_cost_ratio": ots.cost_ratio if ots is not None else nan,
        "ot_m": ots.m if ots is not None else mm,
        "w2_geodesic_ratio": path.geodesic_ratio if path is not None else nan,
        "w2_speed_cv": path.speed_cv if path is not None else nan,
        "kinetic_energy": energy,
        "path_length": length,
        "turning_angle_mean": angles.mean,
        "transport_run": run_label(traj, used),
        "w2_m": w2_n,
        "transport_note": "; ".join(notes),
    }
    lss.setflags(write=False)
    names = traj.layer_names
    steps = np.asarray(path.steps, dtype=float).reshape(-1) if path is not None else np.full(
        used[1] - used[0], np.nan)
    rows = tuple(layer_row(used[0] + i + 1, names[used[0] + i + 1], "w2_step", float(w))
                 for i, w in enumerate(steps))
    results: dict[str, Any] = {"lss": lss, "ots": ots, "path": path, "angles": angles}
    if across is not None:
        rows += across.rows
        results["transitions"] = across.uses
    return ViewResult("transport", scalars, rows, results)


#: the metrics read on the one equal-width run, as the transport note names them
_RUN_METRICS = "LSS, OTS, W2 path, kinetic energy, path length and turning angles"


@dataclass(frozen=True)
class _Across:
    """What a capture whose widths change adds to the transport view: the note naming the
    transitions each metric used and left out, the ``gw_ots`` rows and the
    :class:`~layerflow.transport._stages.MetricUse` records behind them."""

    note: str
    rows: tuple[dict[str, Any], ...]
    uses: tuple[MetricUse, ...]


def _across(traj: Any, used: tuple[int, int] | None, final_norm: bool, m: int = 0,
            seed: int = 0) -> _Across | None:
    """The transitions between states the views read, split into those the run metrics used
    (inside ``used``) and those they left out, with the reason; the Gromov–Wasserstein OT
    score (:func:`~layerflow.transport.gw_ot_score`) of each transition whose widths differ.
    ``None`` when every captured layer (the states after the input) has one width, or the run
    holds every transition: an equal-width capture, measured as it always was.
    """
    keep = set(traj.analysed(final_norm)[0])
    names, widths = traj.layer_names, traj.widths
    runs = traj.equal_width_runs(final_norm)
    steps = [i for i in range(len(names) - 1) if i in keep and i + 1 in keep]
    inside = [i for i in steps if used is not None and used[0] <= i < used[1]]
    if used is not None and len({widths[i] for i in keep if i > 0}) <= 1:
        return None  # the layers share one width (the input may differ: the lift into it)
    if len(inside) == len(steps):
        return None

    def label(i: int) -> str:
        return f"{names[i]} -> {names[i + 1]}"

    def why(i: int) -> str:
        if widths[i] != widths[i + 1]:
            return f"widths {widths[i]} -> {widths[i + 1]} differ"
        a, b = next(r for r in runs if r[0] <= i < r[1])
        return (f"in the equal-width run {names[a]}..{names[b]}; the run metrics read one run, "
                "the longest")

    out = [(label(i), why(i)) for i in steps if i not in inside]
    differ = [i for i in steps if widths[i] != widths[i + 1]]
    gw_m = min(m, DEFAULT_GW_M) if m else DEFAULT_GW_M
    rows, parts = [], []
    for i in differ:
        score = float(gw_ot_score(traj, m=min(gw_m, traj.n_samples), seed=seed, source=i,
                                  target=i + 1).score)
        rows.append(layer_row(i + 1, names[i + 1], "gw_ots", score))
        parts.append((label(i), score))
    run_use = MetricUse(_RUN_METRICS, (), math.nan, tuple(label(i) for i in inside), tuple(out))
    gw_use = MetricUse("gw_ots", tuple(parts), math.nan, tuple(label(i) for i in differ),
                       tuple((label(i), "equal widths: the run metrics apply") for i in steps
                             if i not in differ))
    read = (f"read {len(inside)} of {len(steps)} transitions "
            f"({', '.join(label(i) for i in inside)})" if inside else
            f"read none of the {len(steps)} transitions (no two consecutive states have equal "
            f"width: widths {list(widths)})")
    note = (
        f"widths change: {_RUN_METRICS} {read}; left out: "
        + ", ".join(f"{lab} ({reason})" for lab, reason in out)
        + f"; gw_ots (per layer, Gromov–Wasserstein on {min(gw_m, traj.n_samples)} samples) "
        f"read the {len(differ)} whose widths differ"
        + (f" ({', '.join(label(i) for i in differ)})" if differ else "")
        + "; layerflow.transport.stage_transport reads every run and steps through the "
        "projections you name"
    )
    return _Across(note, tuple(rows), (run_use, gw_use))


def _across_stages_only(traj: Any, m: int, seed: int, final_norm: bool,
                        notes: list[str]) -> ViewResult:
    """The view of a capture with no two consecutive equal-width states (stage by stage): the
    run metrics are NaN, and the note and the ``gw_ots`` rows say what was measured."""
    across = _across(traj, None, final_norm, m, seed)
    assert across is not None  # no run holds any transition
    scalars: dict[str, Any] = {name: math.nan for name, col in VIEW.scalar_columns({})
                               if col.kind != "str"}
    scalars["transport_run"] = ""
    scalars["transport_note"] = "; ".join([*notes, across.note])
    return ViewResult("transport", scalars, across.rows,
                      {"lss": None, "ots": None, "path": None, "angles": None,
                       "transitions": across.uses})


VIEW = OPTIONS.declare(
    title="Transport view",
    paper="Gai & Zhang 2021; Karkar et al. 2020; Dong et al. 2017",
    columns=(
        Column("lss_mean", "mean LSS", "line-shape score, mean over samples (1 = straight "
               "tracks)", low=1.0, headline=True),
        Column("lss_median", "median LSS", "line-shape score, median over samples", low=1.0),
        Column("lss_nan", "tracks without LSS", "tracks whose steps all vanish", kind="int",
               low=0),
        Column("lss_skipped_steps", "zero-length steps", "steps skipped by the LSS", kind="int",
               low=0),
        Column("ots", "OTS", "optimal transport score: share of samples whose optimal partner is "
               "their own image", low=0.0, high=1.0, headline=True),
        Column("ot_cost_ratio", "OT cost ratio", "network's pairing cost / optimal cost (1 = "
               "optimal)", low=1.0),
        Column("ot_m", "OT samples", "samples used for the OT score", kind="int", low=2),
        Column("w2_geodesic_ratio", "W2 geodesic ratio", "Σ_l W2(μ_l, μ_l+1) / W2(μ_0, μ_L) (1 = "
               "geodesic)", low=1.0, headline=True),
        Column("w2_speed_cv", "W2 speed CV", "coefficient of variation of the W2 steps (0 = "
               "constant speed)", low=0.0),
        Column("kinetic_energy", "kinetic energy", "Σ_l mean_i ‖x_l+1 − x_l‖²", low=0.0,
               headline=True),
        Column("path_length", "path length", "Σ_l mean_i ‖x_l+1 − x_l‖", low=0.0),
        Column("turning_angle_mean", "mean turning angle", "mean angle between consecutive "
               "steps (radians)", low=0.0, high=float(np.pi)),
        Column("transport_run", "equal-width run", "the states the transport metrics used",
               kind="str"),
        Column("w2_m", "W2 samples", "samples the W2 path used", kind="int", low=0),
        Column("transport_note", "transport note", "states left out, subsamples used and why a "
               "metric is missing, or empty", kind="str"),
        Column("w2_step", "W2 step", "W2 between the previous state and this one", per_layer=True,
               low=0.0),
        Column("gw_ots", "GW OT score", "Gromov–Wasserstein OT score from the previous state "
               "to this one, where their widths differ", per_layer=True, low=0.0, high=1.0),
    ),
    measure_fn=measure_transport,
)
