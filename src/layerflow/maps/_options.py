"""The Jacobian view's options, in a module that imports neither NumPy nor torch, so that
``layerflow --help`` reads them without loading the view (:data:`layerflow.views.VIEW_OPTIONS`).
"""

from __future__ import annotations

from layerflow.maps._budget import DEFAULT_MAX_SECONDS, METHODS
from layerflow.views import Option, ViewOptions

DEFAULT_COND_MAX = 1e8
"""Condition numbers at or above this count as "not invertible". Float32 networks resolve about
7 digits (eps ≈ 1.2e-7), so a Jacobian with ``cond >= 1e8`` is singular at the precision the
network itself computes in."""

OPTIONS = ViewOptions(
    "jacobian",
    (
        Option("cond_max", "float", DEFAULT_COND_MAX, "condition number below which a layer "
               "counts as a local diffeomorphism", low=1.0),
        Option("method", "str", "auto", "exact per-sample Jacobians, matrix-free estimates "
               "(Lanczos / stochastic Lanczos quadrature), or auto (exact where it fits)",
               choices=METHODS),
        Option("max_seconds", "float", DEFAULT_MAX_SECONDS, "time budget per network; an "
               "estimate above it is refused before any work", low=0.0),
    ),
    needs_model=True,
)
