"""The transport view's declaration (see :mod:`layerflow.views`) and its one measurement.

``measure_transport`` computes every transport metric of one trajectory on the equal-width run,
sharing the work: the steps are computed once; the end-to-end W2 assignment is reused for the OT
score when it covers all samples. A metric added here (its column and one line in
``measure_transport``) reaches ``layerflow analyze``, sweeps and the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow.transport._common import check_trajectory, resolve_run, run_label
from layerflow.transport.assignment import SOLVERS, exact_assignment
from layerflow.transport.kinetic import angles_from_units, kinetic_from_stacked
from layerflow.transport.lss import lss_from_units, nan_mean_median, unit_steps
from layerflow.transport.ots import DEFAULT_M, ot_result, resolve_m
from layerflow.transport.w2path import w2_path_of
from layerflow.views import Column, Option, View, ViewResult, layer_row

__all__ = ["VIEW", "measure_transport"]


def measure_transport(traj: Any, *, model: Any = None, inputs: Any = None, m: int | None = DEFAULT_M,
                      seed: int = 0, solver: str = "auto",
                      run: tuple[int, int] | None = None) -> ViewResult:
    """LSS, OTS, W2 path, kinetic energy, path length and turning angles of ``traj``.

    Scalars: the columns of :data:`VIEW`; per-layer rows: the W2 step into each state of the
    run. ``results`` holds the objects behind them: ``lss`` (per-sample array, shape (N,)),
    ``ots``, ``path`` and ``angles``. As in :func:`~layerflow.transport.ot_score`, ``min(N, m)``
    samples are used for the OT score (``ot_m``); when that is all of them the score reuses the
    end-to-end assignment of the W2 path (the same problem).
    """
    traj = check_trajectory(traj, "summary")
    used, stacked = resolve_run(traj, run, "transport summary")
    n = traj.n_samples
    mm = resolve_m(m, n, "transport summary")
    norms, units, nonzero = unit_steps(stacked)
    lss = lss_from_units(units, nonzero)
    lss_mean, lss_median = nan_mean_median(lss)
    path, end = w2_path_of(stacked, used, solver=solver, max_bytes=None)
    if mm == n:
        ots = ot_result(stacked[0], stacked[-1], end, mm, seed, used)
    else:
        sub = traj.subsample(mm, seed)
        X = np.asarray(sub.states[used[0]], dtype=np.float64)
        Y = np.asarray(sub.states[used[1]], dtype=np.float64)
        ots = ot_result(X, Y, exact_assignment(X, Y, solver=solver, what="ot_score"), mm, seed,
                        used)
    angles = angles_from_units(units, nonzero, used)
    scalars: dict[str, Any] = {
        "lss_mean": lss_mean,
        "lss_median": lss_median,
        "lss_nan": int(np.isnan(lss).sum()),
        "lss_skipped_steps": int(nonzero.size - np.count_nonzero(nonzero)),
        "ots": ots.score,
        "ot_cost_ratio": ots.cost_ratio,
        "ot_m": ots.m,
        "w2_geodesic_ratio": path.geodesic_ratio,
        "w2_speed_cv": path.speed_cv,
        "kinetic_energy": kinetic_from_stacked(stacked),
        "path_length": float(norms.mean(axis=1).sum()),
        "turning_angle_mean": angles.mean,
        "transport_run": run_label(traj, used),
    }
    lss.setflags(write=False)
    names = traj.layer_names
    rows = tuple(layer_row(used[0] + i + 1, names[used[0] + i + 1], "w2_step", float(w))
                 for i, w in enumerate(np.asarray(path.steps, dtype=float).reshape(-1)))
    return ViewResult("transport", scalars, rows,
                      {"lss": lss, "ots": ots, "path": path, "angles": angles})


VIEW = View(
    name="transport",
    title="Transport view",
    paper="Gai & Zhang 2021; Karkar et al. 2020; Dong et al. 2017",
    options=(
        Option("m", "int", DEFAULT_M, "samples for the OT score (min(N, m) are used)", low=2),
        Option("seed", "int", 0, "seed of the OT-score subsample", low=0),
        Option("solver", "str", "auto", "exact assignment solver",
               choices=lambda: ("auto", *sorted(SOLVERS))),
    ),
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
        Column("w2_step", "W2 step", "W2 between the previous state and this one", per_layer=True,
               low=0.0),
    ),
    measure_fn=measure_transport,
)
