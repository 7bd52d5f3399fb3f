"""Figures of one network, one trajectory or one result (matplotlib, imported on first use).

Each function draws one thing, takes ``ax=`` (an Axes, or a sequence of Axes for figures with
several panels) and returns what it drew on, so figures compose and the report can call the
same functions. A function that accepts a Trajectory calls the library's own metric on it; given
a result, it only reads the result's fields — no figure computes a number of its own.

====================================  ==========================================================
``tracks(traj)``                      tracks ``x^(0) … x^(L)`` in one 2-D projection shared by the
                                      states (Dong et al. 2017; Gai & Zhang 2021)
``layers(traj)``                      the states side by side, coloured by label
``line_shape(res | traj)``            LSS per sample (Gai & Zhang 2021)
``wasserstein_path(res | traj)``      W2 steps and geodesic ratio (Gai & Zhang 2021)
``ricci_coefficient(res|traj)``       η_l against Ric_l with the coefficient ρ (Baptista et al.)
``local_coefficients(traj)``          local Ricci coefficients on the input (Baptista et al.)
``layer_coefficients(res|traj)``      per-layer Ricci coefficients (Baptista et al.)
``jacobian(diag)``                    Jacobian summaries per layer (Dong et al. 2017)
``training(train_result)``            transport cost and Uzawa weight over training (Karkar et al.)
``overview(traj)``                    six panels of one network
``shared_pca(states)``                the projection behind ``tracks`` and ``layers``
``layer_curve(values, low, high)``    a per-layer line with an optional interval band
``interval_bars(values, low, high)``  bars with optional interval whiskers
====================================  ==========================================================

The last two are the primitives the per-layer and bar figures draw with — here for one network,
in the report (:mod:`layerflow.report`) for means over networks with their 95 % intervals, one
call per variant on a shared Axes — so each thing has one drawing.

With ``ax=None`` a function makes a new pyplot figure (constrained layout); pass an Axes of a
``matplotlib.figure.Figure`` to stay clear of pyplot's global state.
"""

from __future__ import annotations

from layerflow._moved import answer_moved
from layerflow.plot._common import shared_pca
from layerflow.plot._maps import JACOBIAN_QUANTITIES, jacobian
from layerflow.plot._overview import overview
from layerflow.plot._primitives import interval_bars, layer_curve
from layerflow.plot._ricci import layer_coefficients, local_coefficients, ricci_coefficient
from layerflow.plot._tracks import PROJECTIONS, layers, panel_states, tracks
from layerflow.plot._training import training
from layerflow.plot._transport import line_shape, wasserstein_path

__all__ = [
    "JACOBIAN_QUANTITIES",
    "PROJECTIONS",
    "interval_bars",
    "jacobian",
    "layer_coefficients",
    "layer_curve",
    "layers",
    "line_shape",
    "local_coefficients",
    "overview",
    "panel_states",
    "ricci_coefficient",
    "shared_pca",
    "tracks",
    "training",
    "wasserstein_path",
]

answer_moved(__name__)
