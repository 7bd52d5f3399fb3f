"""Curve-of-maps figures: Jacobian summaries per layer (Dong et al. 2017)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow.plot._common import new_axes
from layerflow.plot._primitives import interval_bars

JACOBIAN_QUANTITIES = ("fraction", "logabsdet", "condition")
"""What :func:`jacobian` can draw per layer."""


def jacobian(diagnostics: Any, *, quantity: str = "fraction",
             ax: Any = None) -> Any:
    """Per-layer summaries of :func:`~layerflow.maps.jacobian_diagnostics`.

    For every equal-width layer ``x^(l+1) = f_l(x^(l))`` and sample, ``J = ∂f_l/∂x`` (Dong et al.
    2017: residual networks with small steps act as local diffeomorphisms, plain ones need not):

    - ``"fraction"``: bars of the fraction of samples where the layer is a local
      orientation-preserving diffeomorphism (``det J > 0`` and ``cond J < cond_max``) and where it
      keeps orientation (``det J > 0``);
    - ``"logabsdet"``: box plots of ``log|det J|`` per layer (volume change; 0 = volume kept),
      over the samples where it is finite (``-inf`` = singular, counted in the title);
    - ``"condition"``: box plots of ``σ_max/σ_min`` on a log axis, with the ``cond_max`` line.

    Layers of unequal width (no square Jacobian) are left out and named in the title.

    Parameters
    ----------
    diagnostics
        A :class:`~layerflow.maps.JacobianDiagnostics`.
    quantity
        One of :data:`JACOBIAN_QUANTITIES`.
    ax
        Axes to draw on; default a new pyplot figure.

    Returns
    -------
    Axes
        For ``"fraction"``, ``ax.containers[0]`` / ``[1]`` are the two bar groups (heights the
        fractions, one bar per applicable layer); for the others, the lines with gid ``"median"``
        are the box plots' medians (``np.median`` of the finite per-sample values).
    """
    from layerflow.maps import JacobianDiagnostics  # torch, on first use only

    if not isinstance(diagnostics, JacobianDiagnostics):
        raise ConfigError(f"jacobian needs JacobianDiagnostics; got {type(diagnostics).__name__}")
    if quantity not in JACOBIAN_QUANTITIES:
        raise ConfigError(f"quantity={quantity!r}: expected one of {list(JACOBIAN_QUANTITIES)}")
    layers = [lay for lay in diagnostics.layers if lay.applicable]
    skipped = [lay.name for lay in diagnostics.layers if not lay.applicable]
    if not layers:
        raise ConfigError("no layer has equal input and output widths; there is no Jacobian "
                        f"summary to draw (layers: {[lay.name for lay in diagnostics.layers]})")
    ax = new_axes(ax)
    x = np.arange(len(layers))
    names = [lay.name for lay in layers]
    note = f"\n(not square, left out: {', '.join(skipped)})" if skipped else ""
    if quantity == "fraction":
        w = 0.4
        interval_bars([lay.fraction_diffeomorphic for lay in layers], x=x - w / 2, width=w,
                      color="C2", label="local orientation-preserving diffeomorphism", ax=ax)
        interval_bars([lay.fraction_orientation_preserved for lay in layers], x=x + w / 2,
                      width=w, color="C0", alpha=0.6, label="det J > 0", ax=ax)
        ax.set_ylim(0, 1.3)
        ax.set_yticks(np.linspace(0, 1, 6))
        ax.set_ylabel("fraction of samples")
        ax.legend(fontsize=7, frameon=False, loc="upper center", ncol=2)
        ax.set_title(f"local diffeomorphism at every layer: {diagnostics.fraction_all:.0%} of "
                     f"samples{note}", fontsize=9)
    else:
        field = "logabsdet" if quantity == "logabsdet" else "condition"
        data = [getattr(lay, field)[np.isfinite(getattr(lay, field))] for lay in layers]
        n_bad = sum(int((~np.isfinite(getattr(lay, field))).sum()) for lay in layers)
        ax.boxplot(data, positions=x, widths=0.6, showfliers=False,
                   medianprops={"gid": "median", "color": "C1"})
        bad = f"; {n_bad} singular sample(s) not shown" if n_bad else ""
        if quantity == "logabsdet":
            ax.axhline(0, color="0.5", lw=0.6, ls="--")
            ax.set_ylabel("log|det J|")
            ax.set_title(f"volume change per layer{bad}{note}", fontsize=9)
        else:
            ax.set_yscale("log")
            top = max((float(d.max()) for d in data if d.size), default=1.0)
            if top >= diagnostics.cond_max / 100:  # the threshold line only where it is near
                ax.axhline(diagnostics.cond_max, color="C3", lw=0.8, ls="--",
                           label=f"cond_max = {diagnostics.cond_max:.0e}")
                ax.legend(fontsize=7, frameon=False)
            ax.set_ylabel(r"condition number $\sigma_{max}/\sigma_{min}$")
            ax.set_title(f"condition number per layer (invertible below "
                         f"{diagnostics.cond_max:.0e}){bad}{note}", fontsize=9)
    ax.set_xticks(x, names, fontsize=7, rotation=45 if len(layers) > 6 else 0)
    ax.set_xlabel("layer")
    return ax
