"""Kinetic energy (action), path length and turning angles of the tracks (Karkar 2020; Dong 2017)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._trajectory import Trajectory
from layerflow.transport._common import check_trajectory, resolve_run
from layerflow.transport._lss import unit_steps


def kinetic_energy(traj: Trajectory, run: tuple[int, int] | None = None) -> float:
    """Kinetic energy (discrete action) of the tracks (Karkar et al. 2020, least action):

    .. math::  E = \\sum_{l=0}^{n-1} \\frac1N \\sum_i \\lVert s_l(i) \\rVert^2,
               \\qquad s_l(i) = x_i^{(l+1)} - x_i^{(l)} ,

    over the equal-width run (default the longest, or the user's ``run=(start, stop)``; the
    transport :func:`~layerflow.transport._summary` reports which run). States ``(N, d)``.
    """
    traj = check_trajectory(traj, "kinetic_energy")
    _, stacked = resolve_run(traj, run, "kinetic_energy")
    return kinetic_from_stacked(stacked)


def kinetic_from_stacked(stacked: np.ndarray) -> float:
    steps = np.diff(stacked, axis=0)
    return float(np.einsum("lnd,lnd->ln", steps, steps).mean(axis=1).sum())


def path_length(traj: Trajectory, run: tuple[int, int] | None = None) -> float:
    """Mean track length (Dong et al. 2017, a network as a curve of maps):

    .. math::  \\sum_{l=0}^{n-1} \\frac1N \\sum_i \\lVert s_l(i) \\rVert .

    Same run convention as :func:`kinetic_energy`. States ``(N, d)``.
    """
    traj = check_trajectory(traj, "path_length")
    _, stacked = resolve_run(traj, run, "path_length")
    norms, _, _ = unit_steps(stacked)
    return float(norms.mean(axis=1).sum())


@dataclass(frozen=True)
class TurningAnglesResult(ResultDisplay, headline=("mean", "skipped", "run"),
                          rows=(("per_state", 1),), index="state", start="run"):
    """Turning angles (radians) of the tracks.

    Attributes
    ----------
    per_sample
        Shape ``(N, n-1)``: angle at state ``start + l`` (l = 1 … n−1) between ``s_{l−1}`` and
        ``s_l``; NaN where either step has zero length.
    per_state
        Shape ``(n-1,)``: mean over the samples with both steps non-zero (NaN if none).
    mean
        Mean over all defined (sample, state) angles; NaN if none (e.g. a single step).
    skipped
        Number of (sample, state) angles left undefined by a zero-length step.
    run
        The equal-width run ``(start, stop)`` used.
    """

    per_sample: np.ndarray
    per_state: np.ndarray
    mean: float
    skipped: int
    run: tuple[int, int]


def turning_angles(traj: Trajectory, run: tuple[int, int] | None = None) -> TurningAnglesResult:
    """Turning angle of each track at each inner state, a discrete curvature (Dong et al. 2017):

    .. math::  \\theta_l(i) = \\angle(s_{l-1}(i), s_l(i))
               = 2\\,\\operatorname{atan2}(\\lVert \\hat a - \\hat b\\rVert,
                                        \\lVert \\hat a + \\hat b\\rVert) \\in [0, \\pi],

    with ``â, b̂`` the unit steps (this form is accurate for angles near 0 and π, unlike
    ``arccos``). Angles next to a zero-length step are undefined and skipped (counted).
    States of the run have shape ``(N, d)``; the run has n steps and n−1 inner states.
    """
    traj = check_trajectory(traj, "turning_angles")
    used, stacked = resolve_run(traj, run, "turning_angles")
    _, units, nonzero = unit_steps(stacked)
    return angles_from_units(units, nonzero, used)


def state_means(theta: np.ndarray, ok: np.ndarray, axis: int) -> tuple[np.ndarray, float, int]:
    """Per state (along ``axis`` of ``theta``) the mean of the angles where ``ok``, NaN where
    none is; the mean of all of them (NaN where none is); how many there are."""
    counts = ok.sum(axis=axis)
    sums = np.where(ok, theta, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_state = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    total = int(ok.sum())
    mean = float(sums.sum() / total) if total else float("nan")
    return per_state, mean, total


def angles_from_units(units: np.ndarray, nonzero: np.ndarray, used: tuple[int, int]) -> TurningAnglesResult:
    a, b = units[:-1], units[1:]
    ok = nonzero[:-1] & nonzero[1:]
    diff = np.sqrt(np.einsum("lnd,lnd->ln", a - b, a - b))
    summ = np.sqrt(np.einsum("lnd,lnd->ln", a + b, a + b))
    theta = np.where(ok, 2.0 * np.arctan2(diff, summ), np.nan)  # (n-1, N)
    per_state, mean, total = state_means(theta, ok, axis=1)
    per_sample = np.ascontiguousarray(theta.T)
    per_sample.setflags(write=False)
    per_state.setflags(write=False)
    return TurningAnglesResult(per_sample, per_state, mean, int(ok.size - total), used)
