"""The network as a path in Wasserstein space: W2 steps, geodesic ratio, speed (Gai & Zhang 2021)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._trajectory import Trajectory
from layerflow.transport._assignment import Assignment, exact_assignment
from layerflow.transport._common import check_memory, check_trajectory, resolve_run

GEODESIC_RTOL = 1e-9
"""``W2(μ_0, μ_L) <= GEODESIC_RTOL · Σ_l w_l`` counts as "endpoints coincide": ratio NaN."""


@dataclass(frozen=True)
class WassersteinPathResult(ResultDisplay,
                            headline=("geodesic_ratio", "speed_cv", "end_to_end", "note", "run"),
                            rows=("steps",), index="state", start="run"):
    """W2 path of one trajectory.

    Attributes
    ----------
    steps
        Shape ``(n,)``: ``w_l = W2(μ_l, μ_{l+1})`` for consecutive states of the run.
    end_to_end
        ``W2(μ_start, μ_stop)``.
    geodesic_ratio
        ``Σ_l w_l / W2(μ_start, μ_stop)`` (>= 1; 1 on a geodesic); NaN when the endpoints
        coincide as measures (see ``note``).
    speed_cv
        ``std(w) / mean(w)`` with the population std (ddof = 0); 0 at constant speed; NaN when
        nothing moves.
    note
        Why a value is NaN, else ``""``.
    run
        The equal-width run ``(start, stop)`` used.
    """

    steps: np.ndarray
    end_to_end: float
    geodesic_ratio: float
    speed_cv: float
    note: str
    run: tuple[int, int]


def wasserstein_path(
    traj: Trajectory,
    run: tuple[int, int] | None = None,
    *,
    solver: str = "auto",
    max_bytes: int | None = None,
) -> WassersteinPathResult:
    """Exact W2 distances along the trajectory, seen as a curve of empirical measures.

    With ``μ_l = (1/N) Σ_i δ_{x_i^(l)}`` (uniform weights, equal N, so an assignment problem;
    Gai & Zhang 2021, Dong et al. 2017):

    .. math::  w_l = W_2(\\mu_l, \\mu_{l+1}) = \\min_\\sigma \\Big(\\frac1N\\sum_i
               \\lVert x_i^{(l)} - x_{\\sigma(i)}^{(l+1)}\\rVert^2\\Big)^{1/2},\\qquad
               \\text{geodesic ratio} = \\frac{\\sum_l w_l}{W_2(\\mu_0, \\mu_n)},\\qquad
               \\text{speed cv} = \\frac{\\operatorname{std}(w)}{\\operatorname{mean}(w)} .

    The ratio is >= 1 by the triangle inequality and 1 on a (constant- or variable-speed)
    geodesic, such as a displacement interpolation. Floating point: every W2 is recomputed from
    the points in float64; when ``W2(μ_0, μ_n) <= 1e-9 · Σ w_l`` (the path returns to where it
    started, up to rounding) the ratio is NaN with a note instead of a meaningless huge number;
    when nothing moves at all both the ratio and the speed cv are NaN.

    Parameters
    ----------
    traj
        Trajectory; states of the run have shape ``(N, d)``. Uses all N samples (subsample first
        for large N; a budget check refuses N×N matrices that would not fit in memory).
    run
        Equal-width run ``(start, stop)``; default the longest.
    solver, max_bytes
        See :func:`layerflow.transport._assignment.exact_assignment`.
    """
    traj = check_trajectory(traj, "wasserstein_path")
    used, stacked = resolve_run(traj, run, "wasserstein_path")
    res, _ = w2_path_of(stacked, used, solver=solver, max_bytes=max_bytes)
    return res


def w2_path_of(
    stacked: np.ndarray, used: tuple[int, int], *, solver: str, max_bytes: int | None
) -> tuple[WassersteinPathResult, Assignment]:
    """W2 path of stacked states ``(n+1, N, d)``; also returns the end-to-end assignment."""
    n = stacked.shape[0] - 1
    check_memory(stacked.shape[1], 3, "wasserstein_path", max_bytes)
    asgs = [
        exact_assignment(stacked[k], stacked[k + 1], solver=solver, max_bytes=max_bytes,
                         what="wasserstein_path")
        for k in range(n)
    ]
    end = asgs[0] if n == 1 else exact_assignment(
        stacked[0], stacked[n], solver=solver, max_bytes=max_bytes, what="wasserstein_path"
    )
    w = np.sqrt(np.array([a.cost for a in asgs]))
    total = float(w.sum())
    w_end = float(np.sqrt(end.cost))
    note = ""
    if total == 0.0:
        ratio = float("nan")
        note = "no transport: every W2 step is 0, so the ratio and the speed cv are undefined"
    elif w_end <= GEODESIC_RTOL * total:
        ratio = float("nan")
        note = (
            f"the endpoints coincide as measures (W2(μ_start, μ_stop) = {w_end:.3g} <= "
            f"{GEODESIC_RTOL:g} · Σ w_l = {total:.3g}); the geodesic ratio is undefined"
        )
    else:
        ratio = total / w_end
    mean_w = float(w.mean())
    cv = float(w.std() / mean_w) if mean_w > 0 else float("nan")
    w.setflags(write=False)
    return WassersteinPathResult(w, w_end, ratio, cv, note, used), end
