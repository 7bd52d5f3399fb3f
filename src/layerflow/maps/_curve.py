"""A network as a curve: per-layer speed, constant-speed check and turning curvature (Dong 2017)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._trajectory import Trajectory
from layerflow.transport._common import check_trajectory, resolve_run
from layerflow.transport._kinetic import angles_from_units
from layerflow.transport._lss import unit_steps


@dataclass(frozen=True)
class CurveResult(ResultDisplay, headline=("speed_cv", "length", "action", "action_ratio",
                                          "curvature_mean", "run"),
                  rows=("speed", ("curvature", 1)), index="state", start="run"):
    """Shape of the tracks as discrete curves.

    Attributes
    ----------
    speed
        Shape ``(n,)``: mean step length ``mean_i ‖s_l(i)‖`` of each layer (the curve's speed).
    speed_cv
        ``std(speed)/mean(speed)`` (population std): 0 for a constant-speed parametrisation;
        NaN when nothing moves.
    length
        ``Σ_l speed_l`` (= :func:`layerflow.transport.path_length`).
    action
        ``Σ_l mean_i ‖s_l(i)‖²`` (= :func:`layerflow.transport.kinetic_energy`).
    action_ratio
        Mean over the moving tracks of ``n Σ_l ‖s_l‖² / (Σ_l ‖s_l‖)²``: ≥ 1 by Cauchy–Schwarz,
        1 iff every track moves at constant speed (NaN if no track moves).
    curvature
        Shape ``(n−1,)``: mean turning angle (radians) at each inner state.
    curvature_mean
        Mean over all defined turning angles.
    run
        The equal-width run used.
    """

    speed: np.ndarray
    speed_cv: float
    length: float
    action: float
    action_ratio: float
    curvature: np.ndarray
    curvature_mean: float
    run: tuple[int, int]


def track_curvature(traj: Trajectory, run: tuple[int, int] | None = None) -> CurveResult:
    """Speed profile and turning curvature of the tracks (Dong et al. 2017, a network as a curve).

    With steps ``s_l(i) = x_i^(l+1) − x_i^(l)`` on the equal-width run (states ``(N, d)``):
    ``speed_l = mean_i ‖s_l(i)‖``; per track the constant-speed ratio
    ``n Σ_l ‖s_l‖² / (Σ_l ‖s_l‖)² ≥ 1`` (equality iff the step lengths are equal, Cauchy–Schwarz);
    the turning angle ``∠(s_{l−1}, s_l)`` at each inner state (zero steps skipped).
    """
    traj = check_trajectory(traj, "track_curvature")
    used, stacked = resolve_run(traj, run, "track_curvature")
    norms, units, nonzero = unit_steps(stacked)
    n = norms.shape[0]
    speed = norms.mean(axis=1)
    mean_speed = float(speed.mean())
    cv = float(speed.std() / mean_speed) if mean_speed > 0 else float("nan")
    per_len = norms.sum(axis=0)
    moving = per_len > 0
    if moving.any():
        ratios = n * (norms[:, moving] ** 2).sum(axis=0) / per_len[moving] ** 2
        action_ratio = float(ratios.mean())
    else:
        action_ratio = float("nan")
    angles = angles_from_units(units, nonzero, used)
    speed.setflags(write=False)
    return CurveResult(
        speed=speed,
        speed_cv=cv,
        length=float(speed.sum()),
        action=float((norms**2).mean(axis=1).sum()),
        action_ratio=action_ratio,
        curvature=angles.per_state,
        curvature_mean=angles.mean,
        run=used,
    )
