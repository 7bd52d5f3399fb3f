"""What every figure of :mod:`layerflow.plot` shares: axes, label colours, the shared projection.

matplotlib is imported inside the functions only, so ``import layerflow.plot`` stays light and
``import layerflow`` never imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory

MAX_LEGEND_CLASSES = 10
"""Classes beyond this many get a colour bar instead of a legend (tab10 has 10 colours)."""


def shared_pca(states: Sequence[Any], n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Project equal-width states on the top principal axes of all of them together.

    One PCA is fitted on the ``S·N`` rows of the S states stacked (centred by their common mean),
    so the projection is *shared*: a point that does not move between two states lands on the
    same spot in both panels, and a track drawn through the projections is the projection of the
    track. Signs are fixed so that the largest-magnitude loading of each axis is positive
    (deterministic, like scikit-learn's ``svd_flip``).

    Parameters
    ----------
    states
        S arrays of shape ``(N, d)`` (one width d).
    n_components
        Number of axes; states narrower than that are padded with zero columns.

    Returns
    -------
    coords, explained
        ``coords`` of shape ``(S, N, n_components)``; ``explained`` of shape ``(n_components,)``:
        the share of the stacked variance each axis keeps (0 for padded axes).
    """
    arrays = [np.asarray(s, dtype=np.float64) for s in states]
    if not arrays:
        raise ConfigError("shared_pca got no states; expected at least one array of shape (N, d)")
    widths = sorted({a.shape[1] if a.ndim == 2 else -1 for a in arrays})
    rows = sorted({a.shape[0] for a in arrays})
    if any(a.ndim != 2 for a in arrays) or len(widths) != 1 or len(rows) != 1:
        raise ConfigError(
            f"shared_pca needs states of one shape (N, d); got shapes {[a.shape for a in arrays]}"
        )
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise ConfigError(f"n_components={n_components!r}: expected an int >= 1")
    S, N = len(arrays), arrays[0].shape[0]
    flat = np.concatenate(arrays, axis=0)
    centred = flat - flat.mean(axis=0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(n_components, vt.shape[0])
    comps = vt[:k]
    signs = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    total = float((sv**2).sum())
    explained = np.zeros(n_components)
    if total > 0:
        explained[:k] = sv[:k] ** 2 / total
    coords = np.zeros((S * N, n_components))
    coords[:, :k] = centred @ comps.T
    return coords.reshape(S, N, n_components), explained


def input_coords(X: np.ndarray) -> tuple[np.ndarray, tuple[str, str]]:
    """2-D coordinates of one state: the state itself when it is 2-D, ``(x, 0)`` when 1-D, else its
    top-2 principal axes; with the two axis labels."""
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] == 2:
        return X, ("x₁", "x₂")
    if X.shape[1] == 1:
        return np.column_stack([X[:, 0], np.zeros(X.shape[0])]), ("x₁", "")
    coords, ex = shared_pca([X])
    return coords[0], (f"PC1 ({ex[0]:.0%})", f"PC2 ({ex[1]:.0%})")


def new_axes(ax: Any, figsize: tuple[float, float] = (4.5, 3.5)) -> Any:
    """``ax`` itself, or a fresh pyplot Axes (constrained layout) when ``ax`` is None."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def new_axes_row(ax: Any, n: int, panel: tuple[float, float] = (2.6, 2.6)) -> list[Any]:
    """``n`` Axes: the ones given (a sequence of exactly n), or a new pyplot row of n panels."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, grid = plt.subplots(1, n, figsize=(panel[0] * n, panel[1]), layout="constrained",
                               squeeze=False)
        return list(grid[0])
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n:
        raise ConfigError(f"ax has {len(axes)} Axes; this figure draws {n} panels, one per Axes")
    return axes


def as_trajectory(traj: Any, func: str) -> Trajectory:
    if not isinstance(traj, Trajectory):
        raise ConfigError(f"{func} needs a layerflow Trajectory; got {type(traj).__name__}")
    return traj


def label_colours(labels: np.ndarray | None) -> dict[str, Any]:
    """Scatter keywords that colour points by class: ``c`` = class codes 0…C−1 (in the order of
    ``np.unique(labels)``), a discrete colormap with one colour per class, and the class names
    (``classes``, popped by :func:`class_legend`). Empty when there are no labels."""
    if labels is None:
        return {}
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    classes, codes = np.unique(np.asarray(labels), return_inverse=True)
    n = len(classes)
    if n <= 2:
        colours = [colormaps["coolwarm"](x) for x in (0.1, 0.9)][:n]
    elif n <= MAX_LEGEND_CLASSES:
        colours = [colormaps["tab10"](i) for i in range(n)]
    else:
        colours = [colormaps["viridis"](x) for x in np.linspace(0, 1, n)]
    return {"c": codes.astype(np.float64), "cmap": ListedColormap(colours), "vmin": -0.5,
            "vmax": n - 0.5, "classes": classes}


def class_legend(ax: Any, scatter: Any, classes: np.ndarray) -> None:
    """A legend naming each class (up to :data:`MAX_LEGEND_CLASSES` classes)."""
    if len(classes) > MAX_LEGEND_CLASSES:
        return
    handles, _ = scatter.legend_elements()
    ax.legend(handles, [str(c) for c in classes], title="label", fontsize=7, title_fontsize=7,
              loc="best", frameon=False)


def result_of(obj: Any, cls: type, compute: Any, func: str, **options: Any) -> Any:
    """``obj`` when it is already a ``cls`` (options must then be empty), else ``compute(obj,
    **options)`` — the library's own metric, so a figure never computes a number itself."""
    if isinstance(obj, cls):
        if options:
            raise ConfigError(
                f"{func} got a {cls.__name__} and options {sorted(options)}; options are passed to "
                "the metric only when a Trajectory is given"
            )
        return obj
    if isinstance(obj, Trajectory):
        return compute(obj, **options)
    raise ConfigError(f"{func} needs a Trajectory or a {cls.__name__}; got {type(obj).__name__}")
