"""A network as a curve of maps (Dong et al. 2017).

The names below are imported on first use (:mod:`layerflow._lazy`): ``import layerflow.maps``
loads neither torch nor the Jacobian code.

::

    jacobian_diagnostics(model, X)   # per layer: log|det J|, det J > 0, condition number,
                                     # fraction of samples where the layer is a local
                                     # orientation-preserving diffeomorphism; the time and
                                     # memory estimated first, exact or matrix-free per layer
    track_curvature(traj)            # speed per layer, constant-speed check, turning angles
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from layerflow._lazy import lazy_face

if TYPE_CHECKING:
    from layerflow.maps._budget import DEFAULT_MAX_SECONDS, JacobianCost, LayerCost
    from layerflow.maps._curve import CurveResult, track_curvature
    from layerflow.maps._jacobian import (
        DEFAULT_COND_MAX,
        JacobianDiagnostics,
        LayerJacobian,
        jacobian_diagnostics,
    )
    from layerflow.maps._matfree import MatfreeLayer, MatfreeOptions

__all__ = [
    "DEFAULT_COND_MAX",
    "DEFAULT_MAX_SECONDS",
    "CurveResult",
    "JacobianCost",
    "JacobianDiagnostics",
    "LayerCost",
    "LayerJacobian",
    "MatfreeLayer",
    "MatfreeOptions",
    "jacobian_diagnostics",
    "track_curvature",
]

lazy_face(__name__, __file__)
