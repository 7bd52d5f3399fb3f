"""The Jacobian view's declaration (see :mod:`layerflow.views`): Dong et al.'s curve-of-maps
diagnostics of a model's equal-width layers, summarised per layer and per network.

This view needs the model and its inputs (a trajectory alone has no Jacobians).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from layerflow.maps._budget import DEFAULT_MAX_SECONDS
from layerflow.maps._jacobian import jacobian_diagnostics
from layerflow.maps._options import DEFAULT_COND_MAX, OPTIONS
from layerflow.views import Column, ViewResult, layer_row


def _nanmin(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return min(known) if known else math.nan


def _nanmean(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return float(np.mean(known)) if known else math.nan


def measure_jacobian(traj: Any, *, model: Any = None, inputs: Any = None,
                     cond_max: float = DEFAULT_COND_MAX, method: str = "auto",
                     max_seconds: float = DEFAULT_MAX_SECONDS) -> ViewResult:
    """Orientation-preserving and diffeomorphic fractions per equal-width layer of ``model`` at
    ``inputs`` (shape ``(N, …)``); per layer also the mean log|det J| and median condition
    number. Layers whose widths differ are not applicable and add no rows. A layer measured
    matrix-free has no orientation (NaN fractions); the network summaries are over the layers
    where it is known."""
    res = jacobian_diagnostics(model, inputs, cond_max=cond_max, method=method,
                               max_seconds=max_seconds)
    orient: list[float] = []
    diffeo: list[float] = []
    rows = []
    for lay in res.layers:
        if not lay.applicable:
            continue
        orient.append(float(lay.fraction_orientation_preserved))
        diffeo.append(float(lay.fraction_diffeomorphic))
        finite = np.isfinite(lay.logabsdet)
        for metric, value in (
            ("orientation_fraction", orient[-1]),
            ("diffeomorphic_fraction", diffeo[-1]),
            ("logabsdet_mean", float(np.mean(lay.logabsdet[finite])) if finite.any()
             else math.nan),
            ("condition_median", float(np.median(lay.condition))),
        ):
            rows.append(layer_row(int(lay.index) + 1, str(lay.name), metric, value))
    scalars = {
        "jacobian_orientation_min": _nanmin(orient),
        "jacobian_orientation_mean": _nanmean(orient),
        "jacobian_diffeomorphic_min": _nanmin(diffeo),
        "jacobian_fraction_all": float(res.fraction_all),
    }
    return ViewResult("jacobian", scalars, tuple(rows), {"diagnostics": res})


VIEW = OPTIONS.declare(
    title="Curve of maps: Jacobians",
    paper="Dong et al. 2017",
    columns=(
        Column("jacobian_orientation_min", "min orientation-preserving share", "smallest share "
               "of samples with det J > 0 over the equal-width layers", low=0.0, high=1.0,
               headline=True),
        Column("jacobian_orientation_mean", "mean orientation-preserving share", "mean over the "
               "equal-width layers", low=0.0, high=1.0),
        Column("jacobian_diffeomorphic_min", "min diffeomorphic share", "smallest share of "
               "samples where a layer is a local orientation-preserving diffeomorphism",
               low=0.0, high=1.0),
        Column("jacobian_fraction_all", "all-layers diffeomorphic share", "share of samples at "
               "which every equal-width layer is one", low=0.0, high=1.0),
        Column("orientation_fraction", "orientation-preserving share", "share of samples with "
               "det J > 0", per_layer=True, low=0.0, high=1.0),
        Column("diffeomorphic_fraction", "diffeomorphic share", "share of samples where the "
               "layer is a local orientation-preserving diffeomorphism", per_layer=True,
               low=0.0, high=1.0),
        Column("logabsdet_mean", "mean log|det J|", "volume change (finite values)",
               per_layer=True),
        Column("condition_median", "median condition number", "σ_max / σ_min of J",
               per_layer=True, low=1.0),
    ),
    measure_fn=measure_jacobian,
)
