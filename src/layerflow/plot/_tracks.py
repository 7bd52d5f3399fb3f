"""The data through the layers: tracks in one shared projection, and the layers side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory
from layerflow.plot._common import (
    as_trajectory,
    class_legend,
    label_colours,
    new_axes,
    new_axes_row,
    shared_pca,
)

DEFAULT_MAX_PANELS = 6
"""Panels :func:`layers` draws by default (evenly spaced states, first and last included)."""

PROJECTIONS = ("shared", "own")
"""How :func:`layers` projects its panels: one PCA per width, or each state its own."""


def tracks(
    traj: Trajectory,
    *,
    run: tuple[int, int] | None = None,
    n_tracks: int | None = 60,
    seed: int = 0,
    ax: Any = None,
) -> Any:
    """Each sample's track ``x^(start), …, x^(stop)`` through an equal-width run of states, drawn
    in one 2-D projection shared by all those states.

    The projection is :func:`shared_pca` of the states of the run (Dong et al. 2017 view the
    network as a curve of maps; Gai & Zhang 2021 measure how straight these tracks are). Start
    points are hollow, end points filled; colours are the class labels.

    Parameters
    ----------
    traj
        The trajectory; states of the run have shape ``(N, d)``.
    run
        ``(start, stop)`` state indices (inclusive) of equal width; default the longest run (as
        the transport metrics use).
    n_tracks
        Tracks drawn, chosen with ``np.random.default_rng(seed).choice(N, n_tracks,
        replace=False)`` and sorted; ``None`` (or ``>= N``) draws all N in order.
    seed
        Seed of that choice.
    ax
        A matplotlib Axes to draw on; default a new pyplot figure.

    Returns
    -------
    Axes
        The Axes (its ``.figure`` is the figure). ``ax.collections[0]`` is the
        ``LineCollection`` of tracks (one segment list of ``stop − start + 1`` points per track).
    """
    traj = as_trajectory(traj, "tracks")
    start, stop = traj.equal_width_run(run)
    coords, explained = shared_pca(traj.states[start:stop + 1])  # (S, N, 2)
    N = traj.n_samples
    if n_tracks is not None and (isinstance(n_tracks, bool) or not isinstance(n_tracks, int)
                                 or n_tracks < 1):
        raise ConfigError(f"n_tracks={n_tracks!r}: expected an int >= 1 or None (all tracks)")
    if n_tracks is None or n_tracks >= N:
        idx = np.arange(N)
    else:
        idx = np.sort(np.random.default_rng(seed).choice(N, size=n_tracks, replace=False))
    from matplotlib.collections import LineCollection

    ax = new_axes(ax)
    segs = np.transpose(coords[:, idx, :], (1, 0, 2))  # (tracks, states, 2)
    colour = label_colours(None if traj.labels is None else traj.labels[idx])
    classes = colour.pop("classes", None)
    lines = LineCollection(list(segs), linewidths=0.8, alpha=0.7)
    if colour:
        lines.set_array(colour["c"])
        lines.set_cmap(colour["cmap"])
        lines.set_clim(colour["vmin"], colour["vmax"])
    ax.add_collection(lines)
    ax.scatter(segs[:, 0, 0], segs[:, 0, 1], s=14, facecolors="none", edgecolors="0.3",
               linewidths=0.6, label="start")
    end = ax.scatter(segs[:, -1, 0], segs[:, -1, 1], s=14, **colour, label="end")
    if classes is not None:
        class_legend(ax, end, classes)
    ax.autoscale_view()
    names = traj.layer_names
    ax.set_title(f"tracks: {names[start]} → {names[stop]} (states {start}–{stop})", fontsize=9)
    ax.set_xlabel(f"PC1 ({explained[0]:.0%})")
    ax.set_ylabel(f"PC2 ({explained[1]:.0%})")
    return ax


def panel_states(n_states: int, max_panels: int = DEFAULT_MAX_PANELS) -> list[int]:
    """The states :func:`layers` draws by default: all ``n_states`` when there are at most
    ``max_panels``, else ``max_panels`` evenly spaced ones, ``round(linspace(0, n_states − 1,
    max_panels))``, first and last included."""
    if isinstance(max_panels, bool) or not isinstance(max_panels, int) or max_panels < 1:
        raise ConfigError(f"max_panels={max_panels!r}: expected an int >= 1")
    if n_states <= max_panels:
        return list(range(n_states))
    return sorted({round(float(x)) for x in np.linspace(0, n_states - 1, max_panels)})


def layers(
    traj: Trajectory,
    *,
    states: Sequence[int] | None = None,
    max_panels: int = DEFAULT_MAX_PANELS,
    projection: str = "shared",
    ax: Any = None,
) -> list[Any]:
    """The states side by side, each a scatter of its N points coloured by label.

    With ``projection="shared"`` (default), states of one width share one projection:
    :func:`shared_pca` fitted on **all** states of the trajectory with that width, so panels of a
    residual stream are directly comparable (and match :func:`tracks`); those panels also share
    their axis limits. With ``projection="own"``, each state is drawn on its own top-2 principal
    axes (``shared_pca([state])``), which keep the most of that state's variance; the axis labels
    give the share each keeps. A state of width 2 is still drawn through its PCA (a rotation).

    Parameters
    ----------
    traj
        The trajectory.
    states
        Indices of the states to draw; default all when there are at most ``max_panels``, else
        ``max_panels`` evenly spaced ones (first and last included).
    max_panels
        See ``states``.
    projection
        One of :data:`PROJECTIONS`: ``"shared"`` or ``"own"`` (see above).
    ax
        A sequence of ``len(states)`` Axes; default a new pyplot row.

    Returns
    -------
    list of Axes
        One per drawn state; panel ``j``'s ``collections[0]`` holds state ``states[j]``'s points.
    """
    traj = as_trajectory(traj, "layers")
    n_states = len(traj.states)
    if projection not in PROJECTIONS:
        raise ConfigError(f"projection={projection!r}: expected one of {list(PROJECTIONS)}")
    if states is None:
        chosen = panel_states(n_states, max_panels)
    else:
        chosen = [int(s) for s in states]
        bad = [s for s in chosen if not 0 <= s < n_states]
        if bad or not chosen:
            raise ConfigError(f"states={list(states)!r}: expected indices in 0…{n_states - 1}")
    axes = new_axes_row(ax, len(chosen))
    groups: list[list[int]]  # the states fitted by one PCA
    if projection == "own":
        groups = [[s] for s in dict.fromkeys(chosen)]
    else:
        by_width: dict[int, list[int]] = {}
        for i, w in enumerate(traj.widths):
            by_width.setdefault(w, []).append(i)
        groups = list(by_width.values())
    proj: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for members in groups:
        if any(s in members for s in chosen):
            coords, explained = shared_pca([traj.states[i] for i in members])
            for j, i in enumerate(members):
                proj[i] = (coords[j], explained)
    colour = label_colours(traj.labels)
    classes = colour.pop("classes", None)
    for j, (a, s) in enumerate(zip(axes, chosen, strict=True)):
        xy, explained = proj[s]
        sc = a.scatter(xy[:, 0], xy[:, 1], s=5, alpha=0.85, linewidths=0, **colour)
        a.set_title(f"{traj.layer_names[s]} (d={traj.widths[s]})", fontsize=9)
        a.set_xlabel(f"PC1 ({explained[0]:.0%})", fontsize=7)
        a.set_ylabel(f"PC2 ({explained[1]:.0%})", fontsize=7)
        a.tick_params(labelsize=6)
        if j == 0 and classes is not None:
            class_legend(a, sc, classes)
    for members in groups:
        shown = [(a, s) for a, s in zip(axes, chosen, strict=True) if s in members]
        if len(shown) > 1:
            pts = np.concatenate([proj[s][0] for _, s in shown])
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            pad = 0.05 * np.where(hi > lo, hi - lo, 1.0)
            for a, _ in shown:
                a.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
                a.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    return axes
