"""Local and per-layer Ricci coefficients (Baptista et al. 2024).

**Local coefficient** of a sample x: ``corr_l(c_l(x), δ_l(x))`` over l = 0 … L−1 with
``c_l(x)`` the mean curvature of the edges at x in ``G_l`` and
``δ_l(x) = mean_{y ~ x in G_l} (d_{l+1}(x, y) − d_l(x, y))`` (``d_l(x, y) = 1`` for neighbours).
**Layer coefficient** of layer l: ``corr_x(c_l(x), δ_l(x))`` over the N samples.
NaN cases (documented, counted in the results): zero variance of either quantity (e.g. a sample
whose neighbourhood curvature is the same in every layer), or a neighbour unreachable in
``G_{l+1}`` (disconnected graph, δ = ∞). These are layerflow's own quantities (the authors' R code
computes only the global coefficient); they use union kNN graphs.

Cost: the neighbour distances ``d_{l+1}(x, y)`` come from a bit-parallel BFS in ``G_{l+1}`` from
every x that stops once all of x's ``G_l``-neighbours are found; memory O(N·W) per thread, never
an N×N matrix. Time is at most that of the exact geodesic mass, usually far less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory
from layerflow.ricci._core import LayerGraph, layer_graphs, neighbour_tables, trajectory_states
from layerflow.ricci._curvature import CURVATURES, check_kind
from layerflow.ricci._graphs import DEFAULT_K, check_k_type, check_knn
from layerflow.stats._correlation import pearson_rows


@dataclass(frozen=True)
class LocalQuantities:
    """Per layer pair and sample: ``curvature[l, x] = c_l(x)`` and ``delta[l, x] = δ_l(x)``,
    both of shape (L, N)."""

    curvature: np.ndarray
    delta: np.ndarray


class _ArrayOfValues:
    """Results "per sample (N,)" / "per layer": they are array-like over
    their ``values``, so ``np.asarray(result)``, ``len(result)`` and ``result[i]`` work as on the
    plain array while the diagnostics stay attributes."""

    values: np.ndarray

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.values, dtype=dtype)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __getitem__(self, index: Any) -> Any:
        return self.values[index]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.values.shape)


@dataclass(frozen=True)
class LocalCoefficients(_ArrayOfValues, ResultDisplay, rows=("values",), index="sample",
                        headline=("mean", "n_undefined", "n_unreachable", "k", "curvature_kind")):
    """Per-sample Ricci coefficients (:func:`local_coefficients`).

    ``values`` (N,): ``corr_l(c_l(x), δ_l(x))``; ``curvature``, ``delta`` (L, N) the two
    quantities; ``n_undefined`` NaN values (zero variance or an unreachable neighbour);
    ``n_unreachable`` samples with an unreachable neighbour in some layer; ``mean`` the mean of
    the defined values (NaN if none).
    """

    values: np.ndarray
    curvature: np.ndarray
    delta: np.ndarray
    n_undefined: int
    n_unreachable: int
    k: int
    curvature_kind: str

    @property
    def mean(self) -> float:
        v = self.values[np.isfinite(self.values)]
        return float(v.mean()) if v.size else float("nan")


@dataclass(frozen=True)
class LayerCoefficients(_ArrayOfValues, ResultDisplay, headline=("k", "curvature_kind"),
                        rows=("values",), index="layer", names="layer_names"):
    """Per-layer Ricci coefficients (:func:`layer_coefficients`).

    ``values`` (L,): ``corr_x(c_l(x), δ_l(x))`` over the samples for l = 0 … L−1; NaN where a
    quantity has zero variance over the samples or some δ is infinite (disconnected
    ``G_{l+1}``); ``layer_names`` the names of the states l.
    """

    values: np.ndarray
    curvature: np.ndarray
    delta: np.ndarray
    k: int
    curvature_kind: str
    layer_names: tuple[str, ...]


def local_quantities(graphs: list[LayerGraph], curvature: str, alpha: float) -> LocalQuantities:
    """``c_l(x)`` and ``δ_l(x)`` of the union graphs of a network's states."""
    from layerflow.ricci._shortest_paths import bfs

    L = len(graphs) - 1
    n = graphs[0].n
    curv = np.empty((L, n))
    delta = np.empty((L, n))
    sources = np.arange(n, dtype=np.int64)
    for layer in range(L):
        G = graphs[layer]
        vals = CURVATURES[curvature](G.csr(), "union", alpha=alpha)
        deg = np.diff(G.indptr)
        curv[layer] = np.add.reduceat(vals, G.indptr[:-1]) / deg
        H = graphs[layer + 1]
        d = bfs.pair_distances(H.indptr, H.indices, sources, (G.indptr, G.indices)).astype(
            np.float64
        )
        d[d < 0] = np.inf
        delta[layer] = np.add.reduceat(d, G.indptr[:-1]) / deg - 1.0
    return LocalQuantities(curv, delta)


def local_from_quantities(q: LocalQuantities, k: int, curvature: str) -> LocalCoefficients:
    vals = pearson_rows(q.curvature.T, q.delta.T)
    unreachable = int((~np.isfinite(q.delta)).any(axis=0).sum())
    return LocalCoefficients(
        vals, q.curvature, q.delta, int(np.isnan(vals).sum()), unreachable, k, curvature
    )


def layer_from_quantities(
    q: LocalQuantities, k: int, curvature: str, names: Sequence[str]
) -> LayerCoefficients:
    vals = pearson_rows(q.curvature, q.delta)
    return LayerCoefficients(
        vals, q.curvature, q.delta, k, curvature, tuple(str(n) for n in names[:-1])
    )


def _prepare_local(
    traj: Any, k: Any, curvature: Any, min_pairs: int, what: str, knn: Any
) -> tuple[list[LayerGraph], tuple[str, ...], int, str]:
    curvature = check_kind(curvature)
    k = check_k_type(k)
    knn = check_knn(knn)
    states, names = trajectory_states(traj)
    L = len(states) - 1
    if L < min_pairs:
        raise ConfigError(
            f"{what} need at least {min_pairs} layer pairs ({min_pairs + 1} states); got "
            f"{len(states)} states"
        )
    nbrs = neighbour_tables(states, names, k, knn=knn)
    return layer_graphs(nbrs, k, "union"), names, k, curvature


def local_coefficients(
    traj: Trajectory | Sequence[Any],
    k: int = DEFAULT_K,
    curvature: str = "forman",
    *,
    alpha: float = 0.5,
    knn: str = "auto",
) -> LocalCoefficients:
    """Per-sample Ricci coefficient ``corr_l(c_l(x), δ_l(x))``, union kNN graphs.

    ``c_l(x)``: mean curvature of the edges at x in ``G_l``; ``δ_l(x)``: mean over the
    neighbours y of x in ``G_l`` of ``d_{l+1}(x, y) − d_l(x, y)``. Correlated over l = 0 … L−1;
    needs L ≥ 3 (otherwise :class:`ConfigError`). NaN for a sample whose ``c`` or ``δ`` has
    zero variance over the layers or that has a neighbour unreachable in the next layer's graph.

    Returns
    -------
    LocalCoefficients
        ``.values`` (N,), ``.curvature`` and ``.delta`` (L, N), NaN counts.
    """
    graphs, _, k, curvature = _prepare_local(traj, k, curvature, 3, "local coefficients", knn)
    return local_from_quantities(local_quantities(graphs, curvature, alpha), k, curvature)


def layer_coefficients(traj: Trajectory | Sequence[Any], k: int = DEFAULT_K, curvature: str = "forman",
                       *, alpha: float = 0.5, knn: str = "auto") -> LayerCoefficients:
    """Per-layer Ricci coefficient ``corr_x(c_l(x), δ_l(x))`` over the N samples.

    Same quantities as :func:`local_coefficients`; one value per l = 0 … L−1 (needs L ≥ 1).
    NaN where either quantity has zero variance over the samples (e.g. every point has the same
    mean curvature) or a neighbour is unreachable in ``G_{l+1}``.
    """
    graphs, names, k, curvature = _prepare_local(traj, k, curvature, 1, "layer coefficients",
                                                 knn)
    return layer_from_quantities(local_quantities(graphs, curvature, alpha), k, curvature, names)
