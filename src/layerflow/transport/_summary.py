"""Every transport metric of one trajectory as one flat, JSON-friendly dict (the transport view's
scalars, :mod:`layerflow.transport._view`, with the equal-width run under the key ``run``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from layerflow._trajectory import Trajectory
from layerflow.transport._common import check_trajectory, run_indices
from layerflow.transport._kinetic import TurningAnglesResult
from layerflow.transport._ots import OTScoreResult
from layerflow.transport._view import VIEW, measure_transport
from layerflow.transport._w2path import WassersteinPathResult

# the view's scalar columns, in order; the run is ``run`` here and ``transport_run`` in a store
SUMMARY_KEYS = tuple("run" if name == "transport_run" else name
                     for name, _ in VIEW.scalar_columns({}))


@dataclass(frozen=True)
class TransportSummary:
    """:func:`summary_with_results`: the flat summary and the result objects it was read from.

    Attributes
    ----------
    values
        The flat dict of :func:`summary` (keys :data:`SUMMARY_KEYS`).
    lss
        Per-sample line-shape scores, shape (N,).
    ots
        The OT score.
    path
        The W2 path (``.steps`` shape (n,), one per step of the run ``path.run``).
    angles
        The turning angles.
    """

    values: dict[str, float | int | str]
    lss: np.ndarray
    ots: OTScoreResult
    path: WassersteinPathResult
    angles: TurningAnglesResult


def summary(
    traj: Trajectory,
    m: int | None = 1000,
    seed: int = 0,
    run: tuple[int, int] | None = None,
    *,
    solver: str = "auto",
) -> dict[str, float | int | str]:
    """LSS, OTS, W2 path, kinetic energy, path length and turning angles in one flat dict.

    Keys: ``lss_mean, lss_median, lss_nan, lss_skipped_steps, ots, ot_cost_ratio, ot_m,
    w2_geodesic_ratio, w2_speed_cv, kinetic_energy, path_length, turning_angle_mean, run``
    (``run`` is a string like ``"1..6 (layer1..layer6)"``). :func:`summary_with_results` also
    returns the per-layer results (e.g. the W2 steps) without solving any assignment twice.

    As in :func:`ot_score`, ``min(N, m)`` samples are used; ``ot_m`` reports how many. When
    ``m >= N`` the OT score reuses the end-to-end assignment of the W2 path (same problem).
    The steps are computed once and shared by all metrics.
    """
    return summary_with_results(traj, m=m, seed=seed, run=run, solver=solver).values


def summary_with_results(traj: Trajectory, *args: Any, **kwargs: Any) -> TransportSummary:
    """:func:`summary` and the result objects behind it (the same arguments, the same numbers)."""
    names = ("m", "seed", "run")
    if len(args) > len(names):
        raise TypeError(f"summary_with_results takes at most {len(names) + 1} positional "
                        f"arguments ({len(args) + 1} given)")
    given = {**dict(zip(names, args, strict=False)), **kwargs}
    # the flat summary is of one equal-width run: a capture with none is refused, naming
    # stage_transport (the transport view reports such a capture transition by transition)
    run_indices(check_trajectory(traj, "summary"), given.get("run"), "transport summary",
                bool(given.get("final_norm", False)))
    res = measure_transport(traj, **given)
    values = {("run" if k == "transport_run" else k): v for k, v in res.scalars.items()}
    r = res.results
    return TransportSummary(values, r["lss"], r["ots"], r["path"], r["angles"])
