"""Transport view figures: LSS per sample, the W2 path and its geodesic ratio (Gai & Zhang 2021)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow.plot._common import new_axes, result_of
from layerflow.plot._primitives import layer_curve
from layerflow.transport._lss import LineShapeResult, line_shape_score
from layerflow.transport._w2path import WassersteinPathResult
from layerflow.transport._w2path import wasserstein_path as _wasserstein_path


def line_shape(result: Any, *, bins: int = 30, ax: Any = None, **options: Any) -> Any:
    """Histogram of the line-shape score of every track, with its mean and median.

    ``LSS = n' / ‖x̃^(n) − x̃^(0)‖`` per sample (Gai & Zhang 2021): 1 for a straight
    track, larger the more it turns. NaN tracks (every step vanishes) and infinite ones are left
    out of the histogram and counted in the title.

    Parameters
    ----------
    result
        A :class:`~layerflow.transport.LineShapeResult`, or a Trajectory to compute it from with
        :func:`~layerflow.transport.line_shape_score`, which then takes ``**options`` (``run``,
        ``atol``).
    bins
        Bins of ``np.histogram`` over the finite values.
    ax
        Axes to draw on; default a new pyplot figure.

    Returns
    -------
    Axes
        ``ax.patches`` are the histogram bars; ``ax.lines[0]`` / ``ax.lines[1]`` the mean and
        median (vertical lines at ``result.mean`` / ``result.median``).
    """
    res = result_of(result, LineShapeResult, line_shape_score, "line_shape", **options)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ConfigError(f"bins={bins!r}: expected an int >= 1")
    ax = new_axes(ax)
    vals = res.per_sample[np.isfinite(res.per_sample)]
    if vals.size:
        lo, hi = float(vals.min()), float(vals.max())
        # values equal up to rounding (straight tracks: 1 ± 1e-16) get one visible bin width
        span = None if hi - lo > 1e-9 * max(1.0, abs(hi)) else (lo - 0.5, hi + 0.5)
        ax.hist(vals, bins=bins, range=span, color="0.6", edgecolor="white", linewidth=0.4)
    ax.axvline(res.mean, color="C3", lw=1.2, label=f"mean {res.mean:.3g}")
    ax.axvline(res.median, color="C0", lw=1.2, ls="--", label=f"median {res.median:.3g}")
    ax.legend(fontsize=7, frameon=False)
    extra = []
    if res.n_nan:
        extra.append(f"{res.n_nan} NaN")
    if res.n_inf:
        extra.append(f"{res.n_inf} infinite")
    note = f" ({', '.join(extra)} not shown)" if extra else ""
    ax.set_title(f"line-shape score per sample, states {res.run[0]}–{res.run[1]}{note}",
                 fontsize=9)
    ax.set_xlabel("LSS (1 = straight track)")
    ax.set_ylabel("samples")
    return ax


def wasserstein_path(result: Any, *, ax: Any = None, **options: Any) -> Any:
    """The W2 step between consecutive layers, ``w_l = W2(μ_l, μ_{l+1})``, with the geodesic ratio.

    ``geodesic_ratio = Σ_l w_l / W2(μ_start, μ_stop)`` (Gai & Zhang 2021) is 1 when the
    network moves its measure along a W2 geodesic. The dashed line is the step a constant-speed
    geodesic between the same end measures would take, ``W2(μ_start, μ_stop) / n``: a path at
    that line all along is a geodesic.

    Parameters
    ----------
    result
        A :class:`~layerflow.transport.WassersteinPathResult`, or a Trajectory to compute it
        from with :func:`~layerflow.transport.wasserstein_path`, which then takes ``**options``
        (``run``, ``solver``, ``max_bytes``).
    ax
        Axes to draw on; default a new pyplot figure.

    Returns
    -------
    Axes
        ``ax.lines[0]`` has ``xdata = arange(n)`` (step l goes from state ``start + l``) and
        ``ydata = result.steps``; ``ax.lines[1]`` is the constant-speed geodesic.
    """
    res = result_of(result, WassersteinPathResult, _wasserstein_path, "wasserstein_path",
                    **options)
    ax = new_axes(ax)
    n = res.steps.shape[0]
    x = np.arange(n)
    layer_curve(res.steps, x=x, color="C0", lw=1.5, label=r"W2 step $w_l$", ax=ax)
    ax.plot(x, np.full(n, res.end_to_end / n), color="0.4", ls="--", lw=1,
            label="constant-speed geodesic")
    start = res.run[0]
    ax.set_xticks(x, [f"{start + i}→{start + i + 1}" for i in x], fontsize=7,
                  rotation=45 if n > 8 else 0)
    ax.set_xlabel("states")
    ax.set_ylabel(r"$W_2(\mu_l, \mu_{l+1})$")
    ratio = "undefined" if np.isnan(res.geodesic_ratio) else f"{res.geodesic_ratio:.3g}"
    ax.set_title(f"W2 path: geodesic ratio {ratio}, speed CV {res.speed_cv:.2g}", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, frameon=False)
    return ax
