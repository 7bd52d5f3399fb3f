"""The Jacobian view's declaration (see :mod:`layerflow.views`): Dong et al.'s curve-of-maps
diagnostics of a model's equal-width layers, summarised per layer and per network.

This view needs the model and its inputs (a trajectory alone has no Jacobians).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from layerflow.maps.jacobian import DEFAULT_COND_MAX, jacobian_diagnostics
from layerflow.views import Column, Option, View, ViewResult, layer_row

__all__ = ["VIEW", "measure_jacobian"]


def measure_jacobian(traj: Any, *, model: Any = None, inputs: Any = None,
                     cond_max: float = DEFAULT_COND_MAX) -> ViewResult:
    """Orientation-preserving and diffeomorphic fractions per equal-width layer of ``model`` at
    ``inputs`` (shape ``(N, …)``); per layer also the mean log|det J| and median condition
    number. Layers whose widths differ are not applicable and add no rows."""
    res = jacobian_diagnostics(model, inputs, cond_max=cond_max)
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
        "jacobian_orientation_min": min(orient) if orient else math.nan,
        "jacobian_orientation_mean": float(np.mean(orient)) if orient else math.nan,
        "jacobian_diffeomorphic_min": min(diffeo) if diffeo else math.nan,
        "jacobian_fraction_all": float(res.fraction_all),
    }
    return ViewResult("jacobian", scalars, tuple(rows), {"diagnostics": res})


VIEW = View(
    name="jacobian",
    title="Curve of maps: Jacobians",
    paper="Dong et al. 2017",
    options=(
        Option("cond_max", "float", DEFAULT_COND_MAX, "condition number below which a layer "
               "counts as a local diffeomorphism", low=1.0),
    ),
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
    needs_model=True,
)
