"""Ricci coefficients of a network: does the data flow like a Ricci flow? (SPEC §3)

Baptista et al. 2024, "Deep Learning as Ricci Flow". For a trajectory ``X_0 … X_L`` build the kNN
graph ``G_l`` of every state once, then

* scalar curvature ``Ric_l = Σ_{edges e of G_l} F(e)`` (Forman by default),
* geodesic mass ``g_l = Σ_{i<j} d_l(i, j)`` (hop distances in ``G_l``),
* ``η_l = g_{l+1} − g_l`` for l = 0 … L−1, and the **global Ricci coefficient**
  ``ρ = Pearson corr_l(η_l, Ric_l)`` over the L pairs. ρ < 0 is Ricci-flow-like: positively
  curved layers contract.

A network with fewer than 3 pairs (L < 3) has no coefficient (NaN, with a reason). A disconnected
``G_l`` has ``g_l = ∞``: by default the coefficient is NaN and the result names every such layer
with its component count; ``on_disconnected="raise"`` raises :class:`DisconnectedGraphError`.
Pairs are never dropped silently.

**Local coefficient** of a sample x: ``corr_l(c_l(x), δ_l(x))`` over l = 0 … L−1 with
``c_l(x)`` the mean curvature of the edges at x in ``G_l`` and
``δ_l(x) = mean_{y ~ x in G_l} (d_{l+1}(x, y) − d_l(x, y))`` (``d_l(x, y) = 1`` for neighbours).
**Layer coefficient** of layer l: ``corr_x(c_l(x), δ_l(x))`` over the N samples.
NaN cases (documented, counted in the results): zero variance of either quantity (e.g. a sample
whose neighbourhood curvature is the same in every layer), or a neighbour unreachable in
``G_{l+1}`` (disconnected graph, δ = ∞).

Cost: the neighbour distances ``d_{l+1}(x, y)`` come from a bit-parallel BFS in ``G_{l+1}`` from
every x that stops once all of x's ``G_l``-neighbours are found; memory O(N·W) per thread, never
an N×N matrix. Time is at most that of the exact geodesic mass, usually far less.

Threads: from N = 1,024 points on (:data:`~layerflow.ricci.graphs.LAYER_THREADS_MIN_N`) the
layers of a network are independent jobs spread over ``numba.get_num_threads()`` threads
(``NUMBA_NUM_THREADS``; 1 = serial); BLAS is held to one thread meanwhile. Smaller networks run
serially with no thread launch at all (the sweep's many small networks per worker process).
Graphs built here skip the validation that public graph functions apply, and Forman's scalar
curvature uses the exact closed form ``2·nnz − Σ deg²`` (union) / ``4·arcs − Σ D²`` (directed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from layerflow._display import ResultDisplay
from layerflow.ricci.curvature import CURVATURES, _check_kind
from layerflow.ricci.geodesics import (
    GEODESIC_METHODS,
    GeodesicMass,
    _geodesic_from_arrays,
    _pair_distances_arrays,
)
from layerflow.ricci.graphs import (
    DEGREE_MODES,
    RicciInputError,
    check_k,
    check_points,
    graph_from_indices,
    knn_indices,
)
from layerflow.stats.correlation import pearson_rows, pearson_with_reason
from layerflow.trajectory import Trajectory

__all__ = [
    "DisconnectedGraphError",
    "LayerCoefficients",
    "LocalCoefficients",
    "RicciCoefficient",
    "RicciSweep",
    "layer_coefficients",
    "local_coefficients",
    "ricci_coefficient",
    "ricci_sweep",
    "summary",
]

ON_DISCONNECTED = ("nan", "raise")


class DisconnectedGraphError(RicciInputError):
    """A layer's kNN graph is disconnected and ``on_disconnected="raise"`` was asked for."""


# ---------------------------------------------------------------------------- small helpers
def _states(traj: Any) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """States and names of a Trajectory or of a plain sequence of (N, d) arrays (checked)."""
    if isinstance(traj, Trajectory):
        return [np.asarray(s, dtype=np.float64) for s in traj.states], traj.layer_names
    if isinstance(traj, np.ndarray) and traj.ndim == 2:
        traj = [traj]
    if not isinstance(traj, Sequence) and not isinstance(traj, np.ndarray):
        raise RicciInputError(
            f"expected a Trajectory or a sequence of (N, d) arrays, got {type(traj).__name__}"
        )
    names = ("input", *(f"layer{i}" for i in range(1, len(traj))))
    states = [check_points(s, layer=f"state {i} ({names[i]!r})") for i, s in enumerate(traj)]
    if not states:
        raise RicciInputError("no states given; expected a sequence of (N, d) arrays")
    n = states[0].shape[0]
    for i, s in enumerate(states):
        if s.shape[0] != n:
            raise RicciInputError(
                f"state {i} ({names[i]!r}) has {s.shape[0]} rows but state 0 has {n}; every "
                "state must hold the same samples"
            )
    return states, names


def _layer_desc(i: int, name: str) -> str:
    return f"layer {i} ({name!r})"


def _check_option(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise RicciInputError(f"{name}={value!r}: expected one of {list(allowed)}")
    return str(value)


def _map_layers(fn: Any, items: Sequence[Any], n: int) -> list[Any]:
    """``[fn(x) for x in items]``, the layers spread over threads for large N (see
    :func:`layerflow.ricci.graphs.layer_threads`): one independent job per layer, no barrier
    inside, so a busy machine costs no spinning; the kernels release the GIL."""
    from layerflow.ricci.graphs import _blas_one_thread, _serial_kernels, layer_threads

    threads = min(layer_threads(n), len(items))
    if threads <= 1:
        with _blas_one_thread(n):
            return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    def job(x: Any) -> Any:
        with _serial_kernels():
            return fn(x)

    with _blas_one_thread(n), ThreadPoolExecutor(max_workers=threads) as ex:
        return list(ex.map(job, items))


def _neighbour_tables(
    states: list[np.ndarray], names: Sequence[str], k_max: int
) -> list[np.ndarray]:
    """One neighbour search per state for the largest k (rows sorted nearest first)."""
    n = states[0].shape[0]
    for i in range(len(states)):
        check_k(k_max, n, layer=_layer_desc(i, names[i]))
    return _map_layers(lambda X: knn_indices(X, k_max)[0], states, n)


def _graphs_of(nbrs: list[np.ndarray], k: int, degree: str) -> list[_KGraph]:
    return _map_layers(lambda nb: _KGraph(nb, k, degree), nbrs, nbrs[0].shape[0])


# ---------------------------------------------------------------------------- global
@dataclass(frozen=True)
class RicciCoefficient(ResultDisplay, headline=("coefficient", "k", "curvature", "degree",
                                               "connected", "exact", "n_samples", "reason"),
                       rows=("scalar_curvature", "geodesic_mass", "geodesic_stderr", "eta"),
                       index="layer", names="layer_names"):
    """Global Ricci coefficient of one network (:func:`ricci_coefficient`).

    Attributes
    ----------
    coefficient
        ``ρ = corr_l(η_l, Ric_l)``; NaN with ``reason`` when undefined.
    scalar_curvature
        ``Ric_l`` for l = 0 … L, shape (L+1,).
    geodesic_mass
        ``g_l``, shape (L+1,) (``inf`` for a disconnected layer).
    geodesic_stderr
        Standard errors of ``g_l`` (0 when exact), shape (L+1,).
    eta
        ``η_l = g_{l+1} − g_l``, shape (L,).
    connected
        Whether every layer's graph is connected.
    disconnected_layers
        ``(layer_index, layer_name, n_components)`` for every disconnected layer.
    k, curvature, degree
        The options used.
    exact
        Whether every geodesic mass is exact.
    reason
        Why the coefficient is NaN ("" when it is defined).
    layer_names
        Names of the L+1 states.
    n_samples
        N.
    """

    coefficient: float
    scalar_curvature: np.ndarray
    geodesic_mass: np.ndarray
    geodesic_stderr: np.ndarray
    eta: np.ndarray
    connected: bool
    disconnected_layers: tuple[tuple[int, str, int], ...]
    k: int
    curvature: str
    degree: str
    exact: bool
    reason: str
    layer_names: tuple[str, ...] = field(default=())
    n_samples: int = 0

    def disconnected_description(self) -> str:
        """``"layer 2 ('fc2'): 3 components; …"`` or ``""``."""
        return "; ".join(
            f"{_layer_desc(i, nm)}: {c} components" for i, nm, c in self.disconnected_layers
        )


class _KGraph:
    """A kNN graph built here from a neighbour table, so no validation is needed: ``indptr``,
    ``indices`` (int64) are its union graph (symmetric, sorted rows, no self-loops);
    :meth:`csr` is the scipy matrix in the ``degree`` convention (built on first use)."""

    __slots__ = ("_csr", "degree", "indices", "indptr", "nbrs")

    def __init__(self, nbrs: np.ndarray, k: int, degree: str) -> None:
        from layerflow.ricci import _kernels

        self.nbrs = np.ascontiguousarray(nbrs[:, :k], dtype=np.int64)
        self.degree = degree
        self.indptr, self.indices = _kernels.union_csr(self.nbrs)
        self._csr: sp.csr_matrix | None = None

    @property
    def n(self) -> int:
        return int(self.nbrs.shape[0])

    def csr(self) -> sp.csr_matrix:
        if self._csr is None:
            if self.degree == "union":
                G = sp.csr_matrix(
                    (np.ones(self.indices.shape[0], dtype=np.int8), self.indices, self.indptr),
                    shape=(self.n, self.n),
                )
                G.has_sorted_indices = True
                self._csr = G
            else:
                self._csr = graph_from_indices(self.nbrs, self.degree)
        return self._csr

    def scalar_curvature(self, curvature: str, alpha: float) -> float:
        """``Ric`` (each union edge once; each arc once for ``"directed"``). Forman in closed
        form: ``Σ_edges (4 − deg_i − deg_j) = 2·|E|·2 − Σ_i deg_i²`` halved over stored entries,
        i.e. ``2·nnz − Σ deg²`` (union) and ``4·arcs − Σ_i D_i²`` with ``D = in + out``
        (directed); integers, so exactly the per-edge sum."""
        if curvature == "forman":
            if self.degree == "union":
                deg = np.diff(self.indptr)
                return float(2 * int(self.indices.shape[0]) - int(deg @ deg))
            D = np.bincount(self.nbrs.reshape(-1), minlength=self.n) + self.nbrs.shape[1]
            return float(4 * int(self.nbrs.size) - int(D @ D))
        vals = CURVATURES[curvature](self.csr(), self.degree, alpha=alpha)
        total = float(vals.sum())
        return 0.5 * total if self.degree == "union" else total


def _global_from_graphs(
    graphs: list[_KGraph],
    names: Sequence[str],
    k: int,
    curvature: str,
    degree: str,
    on_disconnected: str,
    geodesics: str,
    n_sources: int | None,
    seed: int | None,
    alpha: float,
) -> RicciCoefficient:
    L1 = len(graphs)
    ric = np.empty(L1)
    gm: list[GeodesicMass] = []
    per_layer = _map_layers(
        lambda G: (
            G.scalar_curvature(curvature, alpha),
            _geodesic_from_arrays(G.indptr, G.indices, geodesics, n_sources, seed),
        ),
        graphs,
        graphs[0].n,
    )
    for i, (r, m) in enumerate(per_layer):
        ric[i] = r
        gm.append(m)
    g = np.array([r.value for r in gm])
    se = np.array([r.stderr for r in gm])
    disc = tuple((i, str(names[i]), r.n_components) for i, r in enumerate(gm) if not r.connected)
    result_kw: dict[str, Any] = dict(
        scalar_curvature=ric,
        geodesic_mass=g,
        geodesic_stderr=se,
        connected=not disc,
        disconnected_layers=disc,
        k=k,
        curvature=curvature,
        degree=degree,
        exact=all(r.exact for r in gm),
        layer_names=tuple(str(n) for n in names),
        n_samples=graphs[0].n,
    )
    with np.errstate(invalid="ignore"):
        eta = g[1:] - g[:-1]
    if disc:
        desc = "; ".join(f"{_layer_desc(i, nm)}: {c} components" for i, nm, c in disc)
        msg = f"the kNN graph (k={k}) is disconnected in {desc}; geodesic mass is infinite"
        if on_disconnected == "raise":
            raise DisconnectedGraphError(msg)
        return RicciCoefficient(float("nan"), eta=eta, reason=msg, **result_kw)
    L = L1 - 1
    if L < 3:
        return RicciCoefficient(
            float("nan"),
            eta=eta,
            reason=f"{L} layer pairs (L+1={L1} states); the coefficient needs at least 3",
            **result_kw,
        )
    rho, why = pearson_with_reason(eta, ric[:-1])
    return RicciCoefficient(rho, eta=eta, reason=why, **result_kw)


def _check_common(
    k: Any, curvature: Any, degree: Any, on_disconnected: Any, geodesics: Any
) -> tuple[str, str]:
    _check_kind(curvature)
    _check_option("degree", degree, DEGREE_MODES)
    _check_option("on_disconnected", on_disconnected, ON_DISCONNECTED)
    _check_option("geodesics", geodesics, GEODESIC_METHODS)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise RicciInputError(f"k={k!r}: expected an int >= 1")
    return str(curvature), str(degree)


def ricci_coefficient(
    traj: Trajectory | Sequence[Any],
    k: int = 30,
    curvature: str = "forman",
    *,
    degree: str = "union",
    on_disconnected: str = "nan",
    geodesics: str = "auto",
    n_sources: int | None = None,
    seed: int | None = 0,
    alpha: float = 0.5,
) -> RicciCoefficient:
    """Global Ricci coefficient ``ρ = corr_l(η_l, Ric_l)`` of one network (SPEC §3).

    Parameters
    ----------
    traj
        A :class:`~layerflow.Trajectory` (or a sequence of L+1 arrays of shape ``(N, d_l)``).
    k
        Neighbours per point in each kNN graph (default 30); needs ``k < N``.
    curvature
        Edge curvature kind: ``"forman"`` (default), ``"augmented"`` or ``"ollivier"``.
    degree
        ``"union"`` (default) or ``"directed"`` (the authors' R code; see :mod:`graphs`).
    on_disconnected
        ``"nan"`` (default): NaN coefficient naming the disconnected layers; ``"raise"``.
    geodesics
        ``"auto"``, ``"exact"`` or ``"sampled"`` (see :func:`geodesic_mass`).
    n_sources, seed
        Sampled geodesic mass options.
    alpha
        Ollivier laziness (default 0.5).

    Returns
    -------
    RicciCoefficient
        ``.coefficient``, ``.scalar_curvature`` (L+1,), ``.geodesic_mass`` (L+1,), ``.eta`` (L,),
        ``.connected``, ``.disconnected_layers``, ``.reason``, …
    """
    curvature, degree = _check_common(k, curvature, degree, on_disconnected, geodesics)
    states, names = _states(traj)
    nbrs = _neighbour_tables(states, names, int(k))
    graphs = _graphs_of(nbrs, int(k), degree)
    return _global_from_graphs(
        graphs,
        names,
        int(k),
        curvature,
        degree,
        on_disconnected,
        geodesics,
        n_sources,
        seed,
        alpha,
    )


# ---------------------------------------------------------------------------- local / layer
@dataclass(frozen=True)
class LocalQuantities:
    """Per layer pair and sample: ``curvature[l, x] = c_l(x)`` and ``delta[l, x] = δ_l(x)``,
    both of shape (L, N)."""

    curvature: np.ndarray
    delta: np.ndarray


class _ArrayOfValues:
    """SPEC §7 calls these results "per sample (N,)" / "per layer": they are array-like over
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


def _local_quantities(graphs: list[_KGraph], curvature: str, alpha: float) -> LocalQuantities:
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
        d = _pair_distances_arrays(H.indptr, H.indices, sources, (G.indptr, G.indices)).astype(
            np.float64
        )
        d[d < 0] = np.inf
        delta[layer] = np.add.reduceat(d, G.indptr[:-1]) / deg - 1.0
    return LocalQuantities(curv, delta)


def _local_from_quantities(q: LocalQuantities, k: int, curvature: str) -> LocalCoefficients:
    vals = pearson_rows(q.curvature.T, q.delta.T)
    unreachable = int((~np.isfinite(q.delta)).any(axis=0).sum())
    return LocalCoefficients(
        vals, q.curvature, q.delta, int(np.isnan(vals).sum()), unreachable, k, curvature
    )


def _layer_from_quantities(
    q: LocalQuantities, k: int, curvature: str, names: Sequence[str]
) -> LayerCoefficients:
    vals = pearson_rows(q.curvature, q.delta)
    return LayerCoefficients(
        vals, q.curvature, q.delta, k, curvature, tuple(str(n) for n in names[:-1])
    )


def _prepare_local(
    traj: Any, k: Any, curvature: Any, min_pairs: int, what: str
) -> tuple[list[_KGraph], tuple[str, ...], int, str]:
    curvature, _ = _check_common(k, curvature, "union", "nan", "auto")
    states, names = _states(traj)
    L = len(states) - 1
    if L < min_pairs:
        raise RicciInputError(
            f"{what} need at least {min_pairs} layer pairs ({min_pairs + 1} states); got "
            f"{len(states)} states"
        )
    nbrs = _neighbour_tables(states, names, int(k))
    return _graphs_of(nbrs, int(k), "union"), names, int(k), curvature


def local_coefficients(
    traj: Trajectory | Sequence[Any],
    k: int = 30,
    curvature: str = "forman",
    *,
    alpha: float = 0.5,
) -> LocalCoefficients:
    """Per-sample Ricci coefficient ``corr_l(c_l(x), δ_l(x))`` (SPEC §3), union kNN graphs.

    ``c_l(x)``: mean curvature of the edges at x in ``G_l``; ``δ_l(x)``: mean over the
    neighbours y of x in ``G_l`` of ``d_{l+1}(x, y) − d_l(x, y)``. Correlated over l = 0 … L−1;
    needs L ≥ 3 (otherwise :class:`RicciInputError`). NaN for a sample whose ``c`` or ``δ`` has
    zero variance over the layers or that has a neighbour unreachable in the next layer's graph.

    Returns
    -------
    LocalCoefficients
        ``.values`` (N,), ``.curvature`` and ``.delta`` (L, N), NaN counts.
    """
    graphs, _, k, curvature = _prepare_local(traj, k, curvature, 3, "local coefficients")
    return _local_from_quantities(_local_quantities(graphs, curvature, alpha), k, curvature)


def layer_coefficients(
    traj: Trajectory | Sequence[Any],
    k: int = 30,
    curvature: str = "forman",
    *,
    alpha: float = 0.5,
) -> LayerCoefficients:
    """Per-layer Ricci coefficient ``corr_x(c_l(x), δ_l(x))`` over the N samples (SPEC §3).

    Same quantities as :func:`local_coefficients`; one value per l = 0 … L−1 (needs L ≥ 1).
    NaN where either quantity has zero variance over the samples (e.g. every point has the same
    mean curvature) or a neighbour is unreachable in ``G_{l+1}``.
    """
    graphs, names, k, curvature = _prepare_local(traj, k, curvature, 1, "layer coefficients")
    return _layer_from_quantities(_local_quantities(graphs, curvature, alpha), k, curvature, names)


# ---------------------------------------------------------------------------- sweep
@dataclass(frozen=True)
class RicciSweep(ResultDisplay, headline=("ks",), records="global_"):
    """:func:`ricci_sweep` results keyed by k: ``global_[k]``, ``local[k]``, ``layer[k]``
    (local/layer only when asked for)."""

    ks: tuple[int, ...]
    global_: dict[int, RicciCoefficient]
    local: dict[int, LocalCoefficients]
    layer: dict[int, LayerCoefficients]


def ricci_sweep(
    traj: Trajectory | Sequence[Any],
    ks: Sequence[int] = (10, 20, 30, 50),
    curvature: str = "forman",
    *,
    local: bool = True,
    degree: str = "union",
    geodesics: str = "auto",
    n_sources: int | None = None,
    seed: int | None = 0,
    alpha: float = 0.5,
) -> RicciSweep:
    """All Ricci coefficients for several k in one pass (SPEC §3, "k sweep").

    One neighbour search per state for the largest k; the neighbour lists are sorted (nearest
    first, ties to the smaller index), so the kNN graph for a smaller k is built from the first k
    columns — identical to a separate search. Disconnected layers give NaN (never raise) and are
    named in each result. Local and per-layer coefficients (union graphs) need L ≥ 3 and L ≥ 1.
    """
    ks_t = tuple(int(k) for k in ks)
    if not ks_t:
        raise RicciInputError("ks is empty; expected at least one k")
    for k in ks_t:
        _check_common(k, curvature, degree, "nan", geodesics)
    states, names = _states(traj)
    nbrs = _neighbour_tables(states, names, max(ks_t))
    g_out: dict[int, RicciCoefficient] = {}
    loc: dict[int, LocalCoefficients] = {}
    lay: dict[int, LayerCoefficients] = {}
    for k in sorted(set(ks_t)):
        graphs = _graphs_of(nbrs, k, degree)
        g_out[k] = _global_from_graphs(
            graphs, names, k, curvature, degree, "nan", geodesics, n_sources, seed, alpha
        )
        if local and len(states) >= 2:
            ugraphs = graphs if degree == "union" else _graphs_of(nbrs, k, "union")
            q = _local_quantities(ugraphs, curvature, alpha)
            if len(states) >= 4:
                loc[k] = _local_from_quantities(q, k, curvature)
            lay[k] = _layer_from_quantities(q, k, curvature, names)
    return RicciSweep(ks_t, g_out, loc, lay)


# ---------------------------------------------------------------------------- summary
def summary(
    traj: Trajectory | Sequence[Any],
    k: int = 30,
    curvature: str = "forman",
    *,
    geodesics: str = "auto",
    seed: int | None = 0,
    local: bool = False,
) -> dict[str, float | int | str | bool]:
    """Flat, JSON-friendly Ricci metrics of one trajectory (used by ``layerflow analyze`` and
    sweeps).

    Keys: ``ricci_rho`` (global coefficient, NaN if undefined), ``ricci_connected``,
    ``ricci_disconnected_layers`` (``"layer 2 ('fc2'): 3 components; …"`` or ``""``), ``k``,
    ``ricci_curvature``, ``ricci_reason`` (why ρ is NaN, or ""), ``ricci_exact`` (geodesic
    masses exact), ``ricci_n`` (N), ``ricci_layers`` (L) and, with ``local=True``,
    ``ricci_local_mean`` and ``ricci_local_negative_fraction`` (among defined local
    coefficients).
    """
    res = ricci_coefficient(traj, k=k, curvature=curvature, geodesics=geodesics, seed=seed)
    out: dict[str, float | int | str | bool] = {
        "ricci_rho": float(res.coefficient),
        "ricci_connected": bool(res.connected),
        "ricci_disconnected_layers": res.disconnected_description(),
        "k": int(res.k),
        "ricci_curvature": res.curvature,
        "ricci_reason": res.reason,
        "ricci_exact": bool(res.exact),
        "ricci_n": int(res.n_samples),
        "ricci_layers": len(res.scalar_curvature) - 1,
    }
    if local and len(res.scalar_curvature) >= 4:
        lc = local_coefficients(traj, k=k, curvature=curvature)
        v = lc.values[np.isfinite(lc.values)]
        out["ricci_local_mean"] = float(v.mean()) if v.size else float("nan")
        out["ricci_local_negative_fraction"] = float((v < 0).mean()) if v.size else float("nan")
    return out
