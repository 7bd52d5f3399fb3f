"""Ricci coefficients of a network: does the data flow like a Ricci flow? (SPEC §3)

Baptista et al. 2024, "Deep Learning as Ricci Flow". For a trajectory ``X_0 … X_L`` build the kNN
graph ``G_l`` of every state once, then

* scalar curvature ``Ric_l = Σ_{edges e of G_l} F(e)`` (Forman by default),
* geodesic mass ``g_l = Σ_{i<j} d_l(i, j)`` (hop distances in ``G_l``),
* ``η_l = g_{l+1} − g_l`` for l = 0 … L−1, and the **global Ricci coefficient**
  ``ρ = Pearson corr_l(η_l, Ric_l)`` over the L pairs. ρ < 0 is Ricci-flow-like: positively
  curved layers contract.

That is the default protocol, ``"layerflow"``. ``protocol="baptista"`` computes what the authors'
R code computes (directed graphs keeping ties at the k-th distance, pairs l = 1 … L−1; see
:mod:`layerflow.ricci.protocols`), and R's coefficient pooled over networks is
:func:`~layerflow.ricci.pooled.pooled_coefficient`. Every result records its protocol.

A network with fewer than 3 pairs (L < 3) has no coefficient (NaN, with a reason). A disconnected
``G_l`` has ``g_l = ∞``: by default the coefficient is NaN and the result names every such layer
with its component count; ``on_disconnected="raise"`` raises :class:`DisconnectedGraphError`.
Pairs are never dropped silently.

Local and per-layer coefficients: :mod:`layerflow.ricci.local`; several k at once:
:mod:`layerflow.ricci.sweep`.

Threads: from N = 1,024 points on (:data:`~layerflow.ricci.threads.LAYER_THREADS_MIN_N`) the
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

from layerflow._display import ResultDisplay
from layerflow.ricci.checks import RicciInputError, check_choice, check_k_type
from layerflow.ricci.curvature import check_kind
from layerflow.ricci.geodesics import GEODESIC_METHODS, GeodesicMass, geodesic_from_arrays
from layerflow.ricci.local import local_coefficients
from layerflow.ricci.network import (
    LayerGraph,
    layer_desc,
    layer_graphs,
    neighbour_tables,
    trajectory_states,
)
from layerflow.ricci.protocols import PROTOCOLS, Protocol, get_protocol
from layerflow.ricci.threads import map_layers
from layerflow.stats.correlation import pearson_with_reason
from layerflow.trajectory import Trajectory

__all__ = [
    "ON_DISCONNECTED",
    "DisconnectedGraphError",
    "RicciCoefficient",
    "check_common",
    "global_from_graphs",
    "ricci_coefficient",
    "summary",
]

ON_DISCONNECTED = ("nan", "raise")


class DisconnectedGraphError(RicciInputError):
    """A layer's kNN graph is disconnected and ``on_disconnected="raise"`` was asked for."""


@dataclass(frozen=True)
class RicciCoefficient(ResultDisplay, headline=("coefficient", "k", "curvature", "degree",
                                               "protocol", "connected", "exact", "n_samples",
                                               "reason"),
                       rows=("scalar_curvature", "geodesic_mass", "geodesic_stderr", "eta"),
                       index="layer", names="layer_names"):
    """Global Ricci coefficient of one network (:func:`ricci_coefficient`).

    Attributes
    ----------
    coefficient
        ``ρ = corr(η_l, Ric_l)`` over the pairs l = ``first_pair`` … L−1; NaN with ``reason``
        when undefined.
    scalar_curvature
        ``Ric_l`` for l = 0 … L, shape (L+1,).
    geodesic_mass
        ``g_l``, shape (L+1,) (``inf`` for a disconnected layer).
    geodesic_stderr
        Standard errors of ``g_l`` (0 when exact), shape (L+1,).
    eta
        ``η_l = g_{l+1} − g_l`` for l = 0 … L−1, shape (L,).
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
    protocol
        The protocol that made this result (:data:`~layerflow.ricci.protocols.PROTOCOLS`).
    ties
        The tie rule of the kNN graphs (``"by_index"`` or ``"keep"``).
    first_pair
        The first l of the correlated pairs: 0 (``"layerflow"``) or 1 (``"baptista"``, the
        input pair left out). :attr:`pair_eta` and :attr:`pair_curvature` are the two arrays
        correlated, what :func:`~layerflow.ricci.pooled.pooled_coefficient` pools.
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
    protocol: str = "layerflow"
    ties: str = "by_index"
    first_pair: int = 0

    def disconnected_description(self) -> str:
        """``"layer 2 ('fc2'): 3 components; …"`` or ``""``."""
        return "; ".join(
            f"{layer_desc(i, nm)}: {c} components" for i, nm, c in self.disconnected_layers
        )

    @property
    def pair_layers(self) -> np.ndarray:
        """The l of the correlated pairs, ``first_pair … L−1``, shape (P,)."""
        return np.arange(self.first_pair, self.eta.shape[0], dtype=np.int64)

    @property
    def pair_eta(self) -> np.ndarray:
        """``η_l`` of the correlated pairs, shape (P,)."""
        return self.eta[self.first_pair :]

    @property
    def pair_curvature(self) -> np.ndarray:
        """``Ric_l`` of the correlated pairs, shape (P,)."""
        return self.scalar_curvature[self.first_pair : self.eta.shape[0]]


def _too_few_pairs(L: int, protocol: Protocol) -> str:
    """Why a network with L layer pairs has no coefficient under ``protocol`` ("" if it has)."""
    n_pairs = max(0, L - protocol.first_pair)
    if n_pairs >= 3:
        return ""
    if protocol.first_pair == 0:
        return f"{L} layer pairs (L+1={L + 1} states); the coefficient needs at least 3"
    return (
        f"{n_pairs} layer pairs l = {protocol.first_pair}…L−1 (L+1={L + 1} states; protocol "
        f"{protocol.name!r} leaves the input pair out); the coefficient needs at least 3"
    )


def global_from_graphs(
    graphs: list[LayerGraph],
    names: Sequence[str],
    k: int,
    curvature: str,
    degree: str,
    on_disconnected: str,
    geodesics: str,
    n_sources: int | None,
    seed: int | None,
    alpha: float,
    protocol: Protocol = PROTOCOLS["layerflow"],
) -> RicciCoefficient:
    """:func:`ricci_coefficient` of the kNN graphs of a network's states (options checked)."""
    L1 = len(graphs)
    ric = np.empty(L1)
    gm: list[GeodesicMass] = []
    per_layer = map_layers(
        lambda G: (
            G.scalar_curvature(curvature, alpha),
            geodesic_from_arrays(G.indptr, G.indices, geodesics, n_sources, seed),
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
        protocol=protocol.name,
        ties=protocol.ties,
        first_pair=protocol.first_pair,
    )
    with np.errstate(invalid="ignore"):
        eta = g[1:] - g[:-1]
    if disc:
        desc = "; ".join(f"{layer_desc(i, nm)}: {c} components" for i, nm, c in disc)
        msg = f"the kNN graph (k={k}) is disconnected in {desc}; geodesic mass is infinite"
        if on_disconnected == "raise":
            raise DisconnectedGraphError(msg)
        return RicciCoefficient(float("nan"), eta=eta, reason=msg, **result_kw)
    L = L1 - 1
    few = _too_few_pairs(L, protocol)
    if few:
        return RicciCoefficient(float("nan"), eta=eta, reason=few, **result_kw)
    p = protocol.first_pair
    rho, why = pearson_with_reason(eta[p:], ric[p:-1])
    return RicciCoefficient(rho, eta=eta, reason=why, **result_kw)


def check_common(
    k: Any,
    curvature: Any,
    degree: Any,
    on_disconnected: Any,
    geodesics: Any,
    protocol: Any = "layerflow",
) -> tuple[int, str, str, Protocol]:
    """The options shared by the coefficient entry points (k's type here; k < N once the
    states are known). ``degree=None`` is the protocol's."""
    check_kind(curvature)
    proto = get_protocol(protocol)
    degree = proto.degree(degree)
    check_choice("on_disconnected", on_disconnected, ON_DISCONNECTED)
    check_choice("geodesics", geodesics, GEODESIC_METHODS)
    return check_k_type(k), str(curvature), degree, proto


def ricci_coefficient(
    traj: Trajectory | Sequence[Any],
    k: int = 30,
    curvature: str = "forman",
    *,
    protocol: str = "layerflow",
    degree: str | None = None,
    on_disconnected: str = "nan",
    geodesics: str = "auto",
    n_sources: int | None = None,
    seed: int | None = 0,
    alpha: float = 0.5,
) -> RicciCoefficient:
    """Global Ricci coefficient ``ρ = corr_l(η_l, Ric_l)`` of one network (SPEC §3).

    ``Ric_l = Σ_{edges of G_l} F(e)`` (each arc once for directed graphs),
    ``g_l = Σ_{i<j} d_l(i, j)`` (hop distances, direction ignored), ``η_l = g_{l+1} − g_l``.

    Parameters
    ----------
    traj
        A :class:`~layerflow.Trajectory` (or a sequence of L+1 arrays of shape ``(N, d_l)``):
        every state given is used, ``X_0`` being the input. The authors' protocol is defined on
        the input and the **hidden** layers, not the output: their R code drops the last entry
        of each network's activation list. layerflow never drops a state; capture the hidden
        layers only (layerflow's own models do so by default: their ``blocks``, not the head;
        otherwise ``capture(model, X, layers=[...hidden...])``, or drop a captured output with
        ``traj.select(0, len(traj.states) - 2)``).
    k
        Neighbours per point in each kNN graph (default 30, the paper's smallest k); needs
        ``k < N``.
    curvature
        Edge curvature kind: ``"forman"`` (default; the R code's only kind), ``"augmented"`` or
        ``"ollivier"``.
    protocol
        ``"layerflow"`` (default): union graphs (or ``degree="directed"``), exactly k neighbours,
        pairs l = 0 … L−1 (the input pair included). ``"baptista"``: the authors' R code
        (anthbapt/Ricci-NN, ``fMNIST_kNN_RCoef_eval.r``): directed graphs keeping every point
        tied at the k-th distance (``cccd::nng``), degree = in + out, pairs l = 1 … L−1. Under
        ``"baptista"`` with Forman curvature on the same states, these equal the R code exactly:
        every graph's arcs (``nng``), ``Ric_l`` for the hidden layers (R's
        ``sum(F_n_list1[[l]])``), ``g_l`` (R's ``sum(distances(g))/2``), and η_l (R's per-layer
        "total geodesic change" ``msc$ssr`` is ``2·η_{l−1}``, a sum over ordered pairs; the
        factor 2 leaves every correlation unchanged). R computes no per-network coefficient; its
        pooled one is :func:`~layerflow.ricci.pooled.pooled_coefficient` of these results. See
        :mod:`layerflow.ricci.protocols`.
    degree
        ``None`` (default): the protocol's (``"union"`` for ``"layerflow"``, ``"directed"`` for
        ``"baptista"``). ``"directed"`` with ``"layerflow"`` gives R's graphs with layerflow's
        pairs and tie rule.
    on_disconnected
        ``"nan"`` (default): NaN coefficient naming the disconnected layers; ``"raise"``.
    geodesics
        ``"auto"``, ``"exact"`` or ``"sampled"`` (see :func:`geodesic_mass`); R is exact.
    n_sources, seed
        Sampled geodesic mass options.
    alpha
        Ollivier laziness (default 0.5).

    Returns
    -------
    RicciCoefficient
        ``.coefficient``, ``.scalar_curvature`` (L+1,), ``.geodesic_mass`` (L+1,), ``.eta`` (L,),
        ``.connected``, ``.disconnected_layers``, ``.reason``, ``.protocol``, ``.first_pair``, …
        A network needs at least 3 pairs (L ≥ 3, or L ≥ 4 under ``"baptista"``).
    """
    k, curvature, degree, proto = check_common(
        k, curvature, degree, on_disconnected, geodesics, protocol
    )
    states, names = trajectory_states(traj)
    tables = neighbour_tables(states, names, k, proto.ties)
    graphs = layer_graphs(tables, k, degree, proto.ties)
    return global_from_graphs(
        graphs,
        names,
        k,
        curvature,
        degree,
        on_disconnected,
        geodesics,
        n_sources,
        seed,
        alpha,
        proto,
    )


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
