"""Ricci coefficients of a network: does the data flow like a Ricci flow?

Baptista et al. 2024, "Deep Learning as Ricci Flow". For a trajectory ``X_0 … X_L`` build the kNN
graph ``G_l`` of every state once, then

* scalar curvature ``Ric_l = Σ_{edges e of G_l} F(e)`` (Forman by default),
* geodesic mass ``g_l = Σ_{i<j} d_l(i, j)`` (hop distances in ``G_l``),
* ``η_l = g_{l+1} − g_l`` for l = 0 … L−1, and the **global Ricci coefficient**
  ``ρ = Pearson corr_l(η_l, Ric_l)`` over the L pairs. ρ < 0 is Ricci-flow-like: positively
  curved layers contract.

Protocols (:data:`PROTOCOLS`) are named conventions, as data: how the kNN graphs are built and
which layer pairs are correlated. ``"layerflow"`` (the default): union kNN graphs (or
``degree="directed"``), exactly k neighbours per point (ties to the smaller index), pairs
l = 0 … L−1 — the input pair is part of what the network does to the data, and a per-network
coefficient needs every pair it has. ``"baptista"``: the authors' R code (anthbapt/Ricci-NN,
``fMNIST_kNN_RCoef_eval.r``, with cccd and igraph): directed graphs keeping every point tied at
the k-th distance (``cccd::nng``), degree = in + out, hop distances ignoring direction, pairs
l = 1 … L−1 (R: ``msc$ssr[-which(msc$layer==1)]`` against
``mfr$ssr[-which(mfr$layer==max(mfr$layer))]``); R pools them over networks
(:func:`~layerflow.ricci._pooled.pooled_coefficient`).

A network with fewer than 3 pairs (L < 3) has no coefficient (NaN, with a reason). A disconnected
``G_l`` has ``g_l = ∞``: by default the coefficient is NaN and the result names every such layer
with its component count; ``on_disconnected="raise"`` raises :class:`NotComputableError`.
Pairs are never dropped silently.

The k family: :func:`ricci_k_scan` and :func:`ricci_k_scans` compute every k (and protocol) from one
exact neighbour search per state for the largest k: the neighbour lists are sorted (nearest first,
ties to the smaller index), so the kNN graph for a smaller k is built from the first k columns —
identical to a separate search; the authors' tie rule reads a few columns more. The per-layer
measures come from :mod:`layerflow.ricci._core` (one route for every function here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Unpack

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError, NotComputableError
from layerflow._trajectory import Trajectory
from layerflow.ricci._core import (
    DEFAULT_PROTOCOL as DEFAULT_PROTOCOL,
)
from layerflow.ricci._core import (
    ON_DISCONNECTED as ON_DISCONNECTED,
)
from layerflow.ricci._core import (
    PROTOCOLS as PROTOCOLS,
)
from layerflow.ricci._core import (
    Neighbours,
    RicciKeywords,
    RicciOptions,
    layer_desc,
    layer_graphs,
    layer_measures,
    neighbour_tables,
    resolve_options,
    trajectory_states,
)
from layerflow.ricci._core import (
    Protocol as Protocol,
)
from layerflow.ricci._graphs import DEFAULT_K, check_k_type
from layerflow.ricci._local import (
    LayerCoefficients,
    LocalCoefficients,
    layer_from_quantities,
    local_coefficients,
    local_from_quantities,
    local_quantities,
)
from layerflow.ricci._path_mass import PathMass
from layerflow.stats._correlation import pearson_with_reason


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
    k, curvature, degree, protocol, ties
        The options used: the protocol that made this result (:data:`PROTOCOLS`) and the tie
        rule of its kNN graphs (``"by_index"`` or ``"keep"``).
    exact, reason
        Whether every geodesic mass is exact; why the coefficient is NaN ("" when defined).
    layer_names, n_samples
        Names of the L+1 states; N.
    first_pair
        The first l of the correlated pairs: 0 (``"layerflow"``) or 1 (``"baptista"``, the
        input pair left out). :attr:`pair_eta` and :attr:`pair_curvature` are the two arrays
        correlated, what :func:`~layerflow.ricci._pooled.pooled_coefficient` pools.
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
    protocol: str = DEFAULT_PROTOCOL
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


def _from_layers(ric: np.ndarray, gm: Sequence[PathMass], names: Sequence[str], k: int,
                 opts: RicciOptions, protocol: Protocol, degree: str) -> RicciCoefficient:
    """The coefficient from the scalar curvature ``ric`` (L+1,) and the geodesic masses ``gm`` of
    a network's L+1 states."""
    L1 = len(gm)
    g = np.array([r.value for r in gm])
    se = np.array([r.stderr for r in gm])
    disc = tuple((i, str(names[i]), r.n_components) for i, r in enumerate(gm) if not r.connected)
    result_kw: dict[str, Any] = dict(
        scalar_curvature=ric, geodesic_mass=g, geodesic_stderr=se, connected=not disc,
        disconnected_layers=disc, k=k, curvature=opts.curvature, degree=degree,
        exact=all(r.exact for r in gm), layer_names=tuple(str(n) for n in names),
        n_samples=gm[0].n_nodes, protocol=protocol.name, ties=protocol.ties,
        first_pair=protocol.first_pair,
    )
    with np.errstate(invalid="ignore"):
        eta = g[1:] - g[:-1]
    if disc:
        desc = "; ".join(f"{layer_desc(i, nm)}: {c} components" for i, nm, c in disc)
        msg = f"the kNN graph (k={k}) is disconnected in {desc}; geodesic mass is infinite"
        if opts.on_disconnected == "raise":
            raise NotComputableError(msg)
        return RicciCoefficient(float("nan"), eta=eta, reason=msg, **result_kw)
    L = L1 - 1
    few = _too_few_pairs(L, protocol)
    if few:
        return RicciCoefficient(float("nan"), eta=eta, reason=few, **result_kw)
    p = protocol.first_pair
    rho, why = pearson_with_reason(eta[p:], ric[p:-1])
    return RicciCoefficient(rho, eta=eta, reason=why, **result_kw)


def _coefficients(states: list[np.ndarray], names: Sequence[str], opts: RicciOptions
                  ) -> tuple[list[dict[int, RicciCoefficient]], list[Neighbours] | None]:
    """Every coefficient of ``opts`` (``out[f][k]``) and the neighbour tables where the core
    kept them."""
    measures, tables = layer_measures(states, names, opts)
    out = [
        {k: _from_layers(ric, gm, names, k, opts, fam.protocol, fam.degree)
         for k, (ric, gm) in per_k.items()}
        for fam, per_k in zip(opts.families, measures, strict=True)
    ]
    return out, tables


def ricci_coefficient(
    traj: Trajectory | Sequence[Any],
    k: int = DEFAULT_K,
    curvature: str = "forman",
    *,
    protocol: str = DEFAULT_PROTOCOL,
    degree: str | None = None,
    on_disconnected: str = "nan",
    **options: Unpack[RicciKeywords],
) -> RicciCoefficient:
    """Global Ricci coefficient ``ρ = corr_l(η_l, Ric_l)`` of one network.

    ``Ric_l = Σ_{edges of G_l} F(e)`` (each arc once for directed graphs),
    ``g_l = Σ_{i<j} d_l(i, j)`` (hop distances, direction ignored), ``η_l = g_{l+1} − g_l``.

    Parameters
    ----------
    traj
        A :class:`~layerflow.Trajectory` (or a sequence of L+1 arrays of shape ``(N, d_l)``):
        every state given is used, ``X_0`` being the input, except the states a trajectory's
        views leave out: token ids (kind ``input_ids``) and, unless ``final_norm=True``, a
        language model's final norm (kind ``final_norm``; the result's ``layer_names`` say
        which states were used). The authors' protocol is defined on
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
        pooled one is :func:`~layerflow.ricci._pooled.pooled_coefficient` of these results. See
        :data:`PROTOCOLS`.
    degree
        ``None`` (default): the protocol's (``"union"`` for ``"layerflow"``, ``"directed"`` for
        ``"baptista"``). ``"directed"`` with ``"layerflow"`` gives R's graphs with layerflow's
        pairs and tie rule.
    on_disconnected
        ``"nan"`` (default): NaN coefficient naming the disconnected layers; ``"raise"``.
    **options
        The options every coefficient function shares, by keyword (``RicciKeywords``; their
        defaults are declared once, in ``RicciOptions``): see Other Parameters.

    Returns
    -------
    RicciCoefficient
        ``.coefficient``, ``.scalar_curvature`` (L+1,), ``.geodesic_mass`` (L+1,), ``.eta`` (L,),
        ``.connected``, ``.disconnected_layers``, ``.reason``, ``.protocol``, ``.first_pair``, …
        A network needs at least 3 pairs (L ≥ 3, or L ≥ 4 under ``"baptista"``).

    Other Parameters
    ----------------
    geodesics : str
        ``"auto"`` (default), ``"exact"`` or ``"sampled"`` (see :func:`path_mass`); R is exact.
    n_sources : int or None
        Sources of the sampled path mass (default ``None``: 1,024).
    seed : int or None
        Seed of the sampled path mass (default 0).
    alpha : float
        Ollivier laziness (default 0.5).
    knn : str
        The kNN back-end (:data:`~layerflow.ricci.KNN_METHODS`: ``"auto"`` (default), ``"blas"``,
        ``"symmetric"``, ``"faiss"``): which one nominates the candidates; the graphs are the
        same exact ones either way.
    final_norm : bool
        Keep a state of kind ``final_norm`` (default ``False``: left out, since the final
        normalisation rescales every token, so its step would dominate η and Ric).
    """
    opts = resolve_options("ricci_coefficient", (k,), curvature, ((protocol, degree),), options,
                           on_disconnected)
    k = check_k_type(k)
    states, names = trajectory_states(traj, opts.final_norm)
    out, _ = _coefficients(states, names, opts)
    return out[0][k]


@dataclass(frozen=True)
class RicciKScan(ResultDisplay, headline=("ks",), records="global_"):
    """:func:`ricci_k_scan` results keyed by k: ``global_[k]``, ``local[k]``, ``layer[k]``
    (local/layer only when asked for)."""

    ks: tuple[int, ...]
    global_: dict[int, RicciCoefficient]
    local: dict[int, LocalCoefficients]
    layer: dict[int, LayerCoefficients]


def ricci_k_scan(
    traj: Trajectory | Sequence[Any],
    ks: Sequence[int] = (10, 20, 30, 50),
    curvature: str = "forman",
    *,
    local: bool = True,
    protocol: str = DEFAULT_PROTOCOL,
    degree: str | None = None,
    **options: Unpack[RicciKeywords],
) -> RicciKScan:
    """All Ricci coefficients for several k in one pass (a "k sweep").

    One neighbour search per state for the largest k (with ``protocol="baptista"`` a few columns
    wider, so that the points tied at each k-th distance join exactly as in a separate call).
    ``global_[k]`` equals ``ricci_coefficient(traj, k, curvature, protocol=protocol,
    degree=degree, …)``. Disconnected layers give NaN (never raise) and are named in each
    result. Local and per-layer coefficients need L ≥ 3 and L ≥ 1; they are layerflow's own
    quantities on the union graphs of the protocol's arcs (ties kept under ``"baptista"``).
    ``options``: as :func:`ricci_coefficient`'s. Several protocols from one search:
    :func:`ricci_k_scans`.
    """
    return _k_scans("ricci_k_scan", traj, ks, curvature, local, (protocol,), (degree,),
                    options)[protocol]


def ricci_k_scans(
    traj: Trajectory | Sequence[Any],
    ks: Sequence[int] = (10, 20, 30, 50),
    curvature: str = "forman",
    *,
    local: bool = True,
    protocols: Sequence[str] = ("layerflow", "baptista"),
    degrees: Sequence[str | None] | None = None,
    **options: Unpack[RicciKeywords],
) -> dict[str, RicciKScan]:
    """:func:`ricci_k_scan` under several protocols from one neighbour search per state.

    ``protocols``: distinct names from :data:`PROTOCOLS`; ``degrees``: the degree mode of each
    (None: the protocol's own; default all None). Returns ``{protocol: RicciKScan}``, each equal
    to ``ricci_k_scan(traj, ks, …, protocol=p, degree=d)``; the search is as wide as the widest
    tie rule needs, and with Forman curvature and exact geodesics a geodesic mass is computed
    once for the protocols whose graphs agree at that k (always, unless some point has a tie
    across its k-th distance). ``options``: as :func:`ricci_coefficient`'s.
    """
    return _k_scans("ricci_k_scans", traj, ks, curvature, local, protocols, degrees, options)


def _k_scans(caller: str, traj: Trajectory | Sequence[Any], ks: Sequence[int], curvature: str,
             local: bool, protocols: Sequence[str], degrees: Sequence[str | None] | None,
             options: RicciKeywords) -> dict[str, RicciKScan]:
    ks_t = tuple(check_k_type(k) for k in ks)
    if not ks_t:
        raise ConfigError("ks is empty; expected at least one k")
    protos = tuple(protocols)
    if not protos or len(set(protos)) != len(protos):
        raise ConfigError(f"protocols={list(protos)!r}: expected distinct protocol names")
    degs = tuple(degrees) if degrees is not None else (None,) * len(protos)
    if len(degs) != len(protos):
        raise ConfigError(
            f"degrees has {len(degs)} entries for {len(protos)} protocols; expected one each"
        )
    opts = resolve_options(caller, ks_t, curvature, tuple(zip(protos, degs, strict=True)),
                           options)
    states, names = trajectory_states(traj, opts.final_norm)
    glob, tables = _coefficients(states, names, opts)
    out: dict[str, RicciKScan] = {}
    if local and len(states) >= 2 and tables is None:
        tables = neighbour_tables(states, names, opts.ks[-1], opts.table_rule, opts.knn)
    for fam, g_out in zip(opts.families, glob, strict=True):
        loc: dict[int, LocalCoefficients] = {}
        lay: dict[int, LayerCoefficients] = {}
        if local and len(states) >= 2:
            for k in opts.ks:
                assert tables is not None
                q = local_quantities(layer_graphs(tables, k, "union", fam.protocol.ties),
                                     curvature, opts.alpha)
                if len(states) >= 4:
                    loc[k] = local_from_quantities(q, k, curvature)
                lay[k] = layer_from_quantities(q, k, curvature, names)
        out[fam.protocol.name] = RicciKScan(ks_t, g_out, loc, lay)
    return out


def summary(
    traj: Trajectory | Sequence[Any],
    k: int = DEFAULT_K,
    curvature: str = "forman",
    *,
    geodesics: str = "auto",
    seed: int | None = 0,
    local: bool = False,
) -> dict[str, float | int | str | bool]:
    """Flat, JSON-friendly Ricci metrics of one trajectory at one k: the columns that
    ``layerflow analyze`` and sweeps write for the primary k (they go through the Ricci view,
    :func:`~layerflow.ricci._view.measure_ricci`, which adds the k family and the protocols).

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
