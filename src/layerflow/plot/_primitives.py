"""The two drawings the per-layer and per-variant figures are made of: a curve over the layers
with an optional interval band, and bars with optional interval whiskers.

A figure of one network (:func:`~layerflow.plot.wasserstein_path`,
:func:`~layerflow.plot.layer_coefficients`, :func:`~layerflow.plot.jacobian`) and the report's
figures over many networks (means with their 95 % intervals, several variants on one axis) both
draw through these, so each thing is drawn one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow.plot._common import new_axes


def _vector(values: Any, name: str, func: str, n: int | None = None) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or a.size == 0 or (n is not None and a.shape[0] != n):
        want = f"shape ({n},)" if n is not None else "a non-empty 1-D array"
        raise ConfigError(f"{func}: {name} has shape {a.shape}; expected {want}")
    return a


def _interval(low: Any, high: Any, n: int, func: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``(low, high)`` as float arrays of length n, or None when neither is given; NaN marks a
    position without an interval."""
    if low is None and high is None:
        return None
    if low is None or high is None:
        given = "low" if high is None else "high"
        raise ConfigError(f"{func} got {given} alone; an interval needs both low and high")
    lo, hi = _vector(low, "low", func, n), _vector(high, "high", func, n)
    bad = np.flatnonzero(np.isfinite(lo) & np.isfinite(hi) & (lo > hi))
    if bad.size:
        i = int(bad[0])
        raise ConfigError(f"{func}: low > high at position {i} ({lo[i]:g} > {hi[i]:g}); expected "
                        "low <= high")
    return lo, hi


def layer_curve(
    values: Any,
    low: Any = None,
    high: Any = None,
    *,
    x: Any = None,
    label: str | None = None,
    band_alpha: float = 0.2,
    ax: Any = None,
    **line: Any,
) -> Any:
    """One per-layer quantity as a line with markers, with an optional interval band.

    Draws ``values[l]`` at ``x[l]`` and, where ``low[l]`` and ``high[l]`` are both finite, a
    translucent band from ``low`` to ``high`` in the line's colour. A single network's per-layer
    numbers (the W2 steps of :func:`~layerflow.plot.wasserstein_path`) and the report's means over
    networks with their 95 % intervals, one call per variant on a shared Axes, are drawn by this
    one function.

    Parameters
    ----------
    values
        Shape ``(L,)``: the value at each layer (NaN leaves a gap).
    low, high
        Shape ``(L,)`` each, or both None (no band): the interval at each layer, ``low <= high``;
        NaN at a layer leaves the band open there.
    x
        Shape ``(L,)``: positions of the layers; default ``arange(L)``.
    label
        Legend label of the line (the band has none).
    band_alpha
        Opacity of the band.
    ax
        Axes to draw on; default a new pyplot figure.
    **line
        Passed to ``ax.plot`` (``color``, ``ls``, ``lw``, ``ms``, …); ``marker`` defaults to
        ``"o"``.

    Returns
    -------
    Axes
        ``ax.lines[-1]`` is the line (``xdata = x``, ``ydata = values``); the band, when drawn,
        is the last collection with gid ``"interval"``.
    """
    y = _vector(values, "values", "layer_curve")
    xs = np.arange(y.size, dtype=np.float64) if x is None else _vector(x, "x", "layer_curve",
                                                                      y.size)
    band = _interval(low, high, y.size, "layer_curve")
    ax = new_axes(ax)
    line.setdefault("marker", "o")
    (drawn,) = ax.plot(xs, y, label=label, **line)
    if band is not None:
        lo, hi = band
        ok = np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            ax.fill_between(xs, np.where(ok, lo, 0.0), np.where(ok, hi, 0.0), where=ok,
                            color=drawn.get_color(), alpha=band_alpha, linewidth=0,
                            zorder=drawn.get_zorder() - 0.1, gid="interval")
    return ax


def interval_bars(
    values: Any,
    low: Any = None,
    high: Any = None,
    *,
    x: Any = None,
    width: float = 0.8,
    color: Any = None,
    label: str | None = None,
    capsize: float = 3.0,
    ax: Any = None,
    **bar: Any,
) -> Any:
    """Bars of estimates, with a whisker from ``low`` to ``high`` where an interval is given.

    One bar per value: a layer's coefficient or Jacobian fraction of one network, or a
    variant's mean over networks with its 95 % interval (the report's LSS and OTS). Calls with
    offset ``x`` and a smaller ``width`` make grouped bars.

    Parameters
    ----------
    values
        Shape ``(B,)``: the bar heights (a NaN bar is not drawn).
    low, high
        Shape ``(B,)`` each, or both None: the interval of each bar, ``low <= high``; a bar with
        a NaN end gets no whisker.
    x
        Shape ``(B,)``: bar centres; default ``arange(B)``.
    width
        Bar width.
    color
        One colour, or a sequence of B colours (one per bar); default the next colour of the
        Axes' cycle.
    label
        Legend label of the bars.
    capsize
        Length of the whiskers' caps (points).
    ax
        Axes to draw on; default a new pyplot figure.
    **bar
        Passed to ``ax.bar`` (``alpha``, ``edgecolor``, …).

    Returns
    -------
    Axes
        The bars are the ``BarContainer`` this call added to ``ax.containers`` (heights =
        ``values``); the whiskers, when drawn, the ``ErrorbarContainer`` after it, whose artists
        have gid ``"interval"`` and whose error lines go from ``low`` to ``high``.
    """
    y = _vector(values, "values", "interval_bars")
    xs = np.arange(y.size, dtype=np.float64) if x is None else _vector(x, "x", "interval_bars",
                                                                      y.size)
    band = _interval(low, high, y.size, "interval_bars")
    if color is not None and not isinstance(color, str) and isinstance(color, Sequence) \
            and len(color) != y.size and not _is_rgb(color):
        raise ConfigError(f"interval_bars: color has {len(color)} entries for {y.size} bars; "
                        "expected one colour or one per bar")
    ax = new_axes(ax)
    ax.bar(xs, y, width, color=color, label=label, **bar)
    if band is not None:
        lo, hi = band
        ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(y)
        if ok.any():
            # centred on the interval, not on the bar: an estimate outside its own (bootstrap)
            # interval would otherwise be a negative error, which matplotlib refuses
            mid, half = (lo[ok] + hi[ok]) / 2, (hi[ok] - lo[ok]) / 2
            whiskers = ax.errorbar(xs[ok], mid, yerr=half, fmt="none", ecolor="k", elinewidth=1,
                                   capsize=capsize)
            for artist in whiskers.get_children():
                artist.set_gid("interval")
    return ax


def _is_rgb(color: Sequence[Any]) -> bool:
    """An RGB(A) tuple of numbers is one colour, not one per bar."""
    return len(color) in (3, 4) and all(isinstance(c, int | float) for c in color)
