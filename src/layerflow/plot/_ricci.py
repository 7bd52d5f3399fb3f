"""Ricci view figures: η_l against Ric_l with the coefficient, local and per-layer coefficients
(Baptista et al. 2024)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory
from layerflow.plot._common import as_trajectory, input_coords, new_axes, result_of
from layerflow.plot._primitives import interval_bars
from layerflow.ricci._coefficients import RicciCoefficient
from layerflow.ricci._coefficients import ricci_coefficient as _ricci_coefficient
from layerflow.ricci._local import LayerCoefficients, LocalCoefficients
from layerflow.ricci._local import layer_coefficients as _layer_coefficients
from layerflow.ricci._local import local_coefficients as _local_coefficients


def ricci_coefficient(result: Any, *, annotate: bool = True, ax: Any = None,
                      **options: Any) -> Any:
    """The pairs ``(Ric_l, η_l)`` of one network, with its global Ricci coefficient.

    ``η_l = g_{l+1} − g_l`` (change of geodesic mass) against ``Ric_l`` (scalar curvature of layer
    l's kNN graph) for l = 0 … L−1; ``ρ = corr_l(η_l, Ric_l)`` (Baptista et al. 2024).
    Negative ρ is Ricci-flow-like: the more positively curved a layer, the more the next one
    contracts. Points are joined in layer order and numbered l. When the result's protocol leaves
    the input pair out (``protocol="baptista"``), that pair is drawn hollow. Pairs with a
    non-finite η (a disconnected graph) cannot be drawn and are counted in the title.

    Parameters
    ----------
    result
        A :class:`~layerflow.ricci.RicciCoefficient`, or a Trajectory to compute it from with
        :func:`~layerflow.ricci.ricci_coefficient`, which then takes ``**options`` (``k``,
        ``curvature``, ``protocol``, ``degree``, ``geodesics``, ``knn``, …).
    annotate
        Number each point with its layer index l.
    ax
        Axes to draw on; default a new pyplot figure.

    Returns
    -------
    Axes
        ``ax.collections[0]`` holds the pairs used by ρ (offsets ``(Ric_l, η_l)``);
        ``ax.texts[0]`` states ρ.
    """
    res = result_of(result, RicciCoefficient, _ricci_coefficient, "ricci_coefficient", **options)
    ax = new_axes(ax)
    L = res.eta.shape[0]
    ric, eta = np.asarray(res.scalar_curvature[:L], dtype=np.float64), res.eta
    layer = np.arange(L)
    used = layer >= int(getattr(res, "first_pair", 0))  # the pairs the protocol correlates
    finite = np.isfinite(eta) & np.isfinite(ric)
    sel = used & finite
    ax.plot(ric[finite], eta[finite], color="0.75", lw=0.8, zorder=1)
    ax.scatter(ric[sel], eta[sel], c=layer[sel], cmap="viridis", vmin=0, vmax=max(L - 1, 1),
               s=30, zorder=2, label="pairs in ρ")
    left = ~used & finite
    if left.any():
        ax.scatter(ric[left], eta[left], s=30, facecolors="none", edgecolors="0.3", zorder=2,
                   label="left out of ρ (protocol)")
        ax.legend(fontsize=7, frameon=False)
    coef = "ρ undefined" if np.isnan(res.coefficient) else f"ρ = {res.coefficient:.3f}"
    ax.text(0.02, 0.98, coef, transform=ax.transAxes, va="top", ha="left", fontsize=9,
            bbox={"boxstyle": "round", "fc": "white", "ec": "0.8"})
    if annotate:
        for i in layer[finite]:
            ax.annotate(str(i), (ric[i], eta[i]), xytext=(3, 3), textcoords="offset points",
                        fontsize=6, color="0.3")
    missing = int((~finite).sum())
    note = f"; {missing} pair(s) with infinite η not drawn" if missing else ""
    ax.set_title(rf"$\eta_l$ against $\mathrm{{Ric}}_l$ (k={res.k}, {res.curvature}){note}",
                 fontsize=9)
    if np.isnan(res.coefficient) and res.reason:
        ax.text(0.02, 0.02, res.reason, transform=ax.transAxes, va="bottom", ha="left",
                fontsize=6, wrap=True, color="C3")
    ax.margins(x=0.08, y=0.18)  # room for the ρ box in the corner
    ax.set_xlabel(r"scalar curvature $\mathrm{Ric}_l$")
    ax.set_ylabel(r"$\eta_l = g_{l+1} - g_l$")
    return ax


def local_coefficients(traj: Trajectory, result: LocalCoefficients | None = None, *,
                       state: int = 0, ax: Any = None, **options: Any) -> Any:
    """Each sample's local Ricci coefficient, as the colour of its point in one state (the input
    by default).

    The local coefficient of x is ``corr_l(c_l(x), δ_l(x))``: mean curvature of the edges at x
    against the mean change of distance to its neighbours (Baptista et al. 2024). Blue
    (negative) points are where the network flows like Ricci flow. A 2-D state is drawn as is,
    a wider one through its top-2 principal axes; undefined (NaN) coefficients are grey.

    Parameters
    ----------
    traj
        The trajectory (its state ``state`` gives the positions).
    result
        The :class:`~layerflow.ricci.LocalCoefficients` of ``traj``; default
        :func:`~layerflow.ricci.local_coefficients` ``(traj, **options)``.
    state
        Which state's positions to draw.
    ax
        Axes to draw on; default a new pyplot figure (with a colour bar).

    Returns
    -------
    Axes
        ``ax.collections[0]``: offsets the positions, ``get_array()`` the coefficients.
    """
    traj = as_trajectory(traj, "local_coefficients")
    if result is None:
        result = _local_coefficients(traj, **options)
    elif options:
        raise ConfigError(f"local_coefficients got a result and options {sorted(options)}; "
                        "options are passed to the metric only when no result is given")
    if not isinstance(result, LocalCoefficients):
        raise ConfigError(f"result: expected LocalCoefficients, got {type(result).__name__}")
    if result.values.shape[0] != traj.n_samples:
        raise ConfigError(f"result has {result.values.shape[0]} samples but the trajectory has "
                        f"{traj.n_samples}; pass the result of this trajectory")
    if isinstance(state, bool) or not isinstance(state, int) or not 0 <= state < len(traj.states):
        raise ConfigError(f"state={state!r}: expected an index in 0…{len(traj.states) - 1}")
    from matplotlib import colormaps

    xy, (xlabel, ylabel) = input_coords(traj.states[state])
    ax = new_axes(ax)
    cmap = colormaps["RdBu_r"].with_extremes(bad="0.8")
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=result.values, cmap=cmap, vmin=-1, vmax=1, s=8,
                    linewidths=0, plotnonfinite=True)
    ax.figure.colorbar(sc, ax=ax, label="local Ricci coefficient")
    mean = "undefined" if np.isnan(result.mean) else f"{result.mean:.3f}"
    ax.set_title(f"local coefficients on {traj.layer_names[state]} (k={result.k}): mean {mean}, "
                 f"{result.n_undefined} undefined", fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def layer_coefficients(result: Any, *, ax: Any = None, **options: Any) -> Any:
    """Per-layer Ricci coefficients ``corr_x(c_l(x), δ_l(x))`` over the samples, as bars.

    Parameters
    ----------
    result
        A :class:`~layerflow.ricci.LayerCoefficients`, or a Trajectory to compute it from with
        :func:`~layerflow.ricci.layer_coefficients`, which then takes ``**options`` (``k``,
        ``curvature``, ``alpha``, ``knn``).
    ax
        Axes to draw on; default a new pyplot figure.

    Returns
    -------
    Axes
        ``ax.patches[l]`` has height ``result.values[l]`` (NaN bars are not drawn).
    """
    res = result_of(result, LayerCoefficients, _layer_coefficients, "layer_coefficients",
                    **options)
    ax = new_axes(ax)
    L = res.values.shape[0]
    x = np.arange(L)
    colours = ["C0" if v < 0 else "C3" for v in np.nan_to_num(res.values)]
    interval_bars(res.values, color=colours, ax=ax)
    names = res.layer_names if len(res.layer_names) == L else tuple(str(i) for i in x)
    ax.set_xticks(x, names, fontsize=6, rotation=45 if L > 6 else 0,
                  ha="right" if L > 6 else "center")
    ax.set_xlabel("layer l (the pair of states l, l+1)")
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_ylim(-1, 1)
    ax.set_ylabel("layer Ricci coefficient")
    undefined = int(np.isnan(res.values).sum())
    note = f"; {undefined} undefined (not drawn)" if undefined else ""
    ax.set_title(f"per-layer coefficients (k={res.k}){note}", fontsize=9)
    return ax
