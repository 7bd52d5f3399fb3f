"""Transport view of a network: Gai & Zhang 2021, Karkar et al. 2020, Dong et al. 2017.

Pure functions over a :class:`~layerflow.Trajectory`, each on the run of consecutive equal-width
states (the longest by default, or ``run=(start, stop)``), each result saying which run it used::

    line_shape_score(traj)        # LineShapeResult: .per_sample (N,), .mean, .median, .skipped_steps
    ot_score(traj, m, seed)       # OTScoreResult: .score, .cost_ratio, .m
    wasserstein_path(traj)        # WassersteinPathResult: .steps (n,), .geodesic_ratio, .speed_cv
    kinetic_energy(traj)          # float, Σ_l mean_i ‖s_l(i)‖²
    path_length(traj)             # float, Σ_l mean_i ‖s_l(i)‖
    turning_angles(traj)          # TurningAnglesResult: .per_state (n-1,), .mean
    gw_ot_score(traj, m, seed)    # OTS across different widths via Gromov–Wasserstein (extension)
    stage_transport(traj, m, seed, projections=None)
                                  # every transition, whatever the widths: each metric lists the
                                  # transitions it used and those it left out (with the reason)
    summary(traj, m, seed)        # all of the above (but GW) as one flat dict
    summary_with_results(...)     # the same dict and the result objects (W2 steps, OTS, ...)

The names above are imported on first use (:mod:`layerflow._lazy`): ``import layerflow.transport``
loads neither NumPy nor the OT solvers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerflow._lazy import lazy_face

if TYPE_CHECKING:
    from layerflow.transport._assignment import Assignment, exact_assignment
    from layerflow.transport._gw import GWScoreResult, gw_ot_score
    from layerflow.transport._kinetic import (
        TurningAnglesResult,
        kinetic_energy,
        path_length,
        turning_angles,
    )
    from layerflow.transport._lss import LineShapeResult, line_shape_score
    from layerflow.transport._ots import OTScoreResult, ot_score
    from layerflow.transport._stages import (
        STAGE_METRICS,
        MetricUse,
        StageTransport,
        Transition,
        stage_transport,
    )
    from layerflow.transport._summary import (
        SUMMARY_KEYS,
        TransportSummary,
        summary,
        summary_with_results,
    )
    from layerflow.transport._w2path import WassersteinPathResult, wasserstein_path

__all__ = [
    "STAGE_METRICS",
    "SUMMARY_KEYS",
    "Assignment",
    "GWScoreResult",
    "LineShapeResult",
    "MetricUse",
    "OTScoreResult",
    "StageTransport",
    "Transition",
    "TransportSummary",
    "TurningAnglesResult",
    "WassersteinPathResult",
    "exact_assignment",
    "gw_ot_score",
    "kinetic_energy",
    "line_shape_score",
    "ot_score",
    "path_length",
    "stage_transport",
    "summary",
    "summary_with_results",
    "turning_angles",
    "wasserstein_path",
]

lazy_face(__name__, __file__)
