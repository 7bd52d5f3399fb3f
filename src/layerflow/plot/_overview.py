"""One figure of one network: tracks, first and last layer, LSS, W2 path, η against Ric."""

from __future__ import annotations

from typing import Any

from layerflow._trajectory import Trajectory
from layerflow.plot._common import as_trajectory
from layerflow.plot._ricci import ricci_coefficient
from layerflow.plot._tracks import layers, tracks
from layerflow.plot._transport import line_shape, wasserstein_path
from layerflow.ricci._coefficients import RicciCoefficient
from layerflow.ricci._coefficients import ricci_coefficient as _ricci_coefficient
from layerflow.ricci._graphs import DEFAULT_K
from layerflow.transport._lss import LineShapeResult, line_shape_score
from layerflow.transport._w2path import WassersteinPathResult
from layerflow.transport._w2path import wasserstein_path as _wasserstein_path


def overview(
    traj: Trajectory,
    *,
    k: int = DEFAULT_K,
    lss: LineShapeResult | None = None,
    path: WassersteinPathResult | None = None,
    ricci: RicciCoefficient | None = None,
    n_tracks: int | None = 60,
    seed: int = 0,
    fig: Any = None,
) -> Any:
    """Six panels that show what one network does to its data, one per view.

    Top: :func:`tracks` in the shared projection, then the first and the last state
    (:func:`layers`). Bottom: :func:`line_shape`, :func:`wasserstein_path` and
    :func:`ricci_coefficient`. Results not given are computed with the library's defaults
    (``line_shape_score(traj)``, ``wasserstein_path(traj)``, ``ricci_coefficient(traj, k=k)``);
    pass them to reuse what you computed, or to choose other options.

    Parameters
    ----------
    traj
        The trajectory.
    k
        Neighbours of the kNN graphs when ``ricci`` is not given (default :data:`layerflow.ricci.DEFAULT_K`).
    lss, path, ricci
        Results of ``traj`` to draw instead of computing them.
    n_tracks, seed
        Passed to :func:`tracks`.
    fig
        A matplotlib Figure (or SubFigure) to draw into; default a new pyplot figure.

    Returns
    -------
    Figure
        The figure; ``fig.axes[:6]`` are the six panels in reading order.
    """
    traj = as_trajectory(traj, "overview")
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(12.5, 7.5), layout="constrained")
    axes = fig.subplots(2, 3)
    tracks(traj, n_tracks=n_tracks, seed=seed, ax=axes[0, 0])
    layers(traj, states=[0, len(traj.states) - 1], ax=axes[0, 1:])
    line_shape(lss if lss is not None else line_shape_score(traj), ax=axes[1, 0])
    wasserstein_path(path if path is not None else _wasserstein_path(traj), ax=axes[1, 1])
    ricci_coefficient(ricci if ricci is not None else _ricci_coefficient(traj, k=k),
                      ax=axes[1, 2])
    name = traj.metadata.get("model") or "network"
    fig.suptitle(f"{name}: N={traj.n_samples}, {traj.n_layers} layers", fontsize=11)
    return fig
