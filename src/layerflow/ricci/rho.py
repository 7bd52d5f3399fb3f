"""From per-layer curvature and geodesic mass to the global Ricci coefficient ρ (SPEC §3).

``η_l = g_{l+1} − g_l`` and ``ρ = Pearson corr(η_l, Ric_l)`` over the pairs l = ``first_pair`` …
L−1 that the protocol correlates (:mod:`layerflow.ricci.protocols`); a disconnected layer
(``g_l = ∞``) makes ρ NaN, naming the layer, or raises :class:`DisconnectedGraphError`; fewer than
3 pairs make it NaN with a reason. :class:`RicciCoefficient` holds the result with everything it
was made from. The per-layer values come from :mod:`layerflow.ricci.measures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from layerflow._display import ResultDisplay
from layerflow.ricci.checks import RicciInputError, check_choice, check_k_type
from layerflow.ricci.curvature import check_kind
from layerflow.ricci.geodesics import GeodesicMass, check_geodesic_options
from layerflow.ricci.network import layer_desc
from layerflow.ricci.protocols import PROTOCOLS, Protocol, get_protocol
from layerflow.stats.correlation import pearson_with_reason

__all__ = [
    "ON_DISCONNECTED",
    "DisconnectedGraphError",
    "RicciCoefficient",
    "check_common",
    "coefficient_from_layers",
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


def coefficient_from_layers(
    ric: np.ndarray,
    gm: Sequence[GeodesicMass],
    names: Sequence[str],
    k: int,
    curvature: str,
    degree: str,
    on_disconnected: str,
    protocol: Protocol = PROTOCOLS["layerflow"],
) -> RicciCoefficient:
    """:func:`~layerflow.ricci.coefficients.ricci_coefficient` from the scalar curvature
    ``ric`` (L+1,) and the geodesic masses ``gm`` of a network's L+1 states (options checked)."""
    L1 = len(gm)
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
        n_samples=gm[0].n_nodes,
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
    n_sources: Any = None,
) -> tuple[int, str, str, Protocol]:
    """The options shared by the coefficient entry points (k's type here; k < N once the
    states are known). ``degree=None`` is the protocol's."""
    check_kind(curvature)
    proto = get_protocol(protocol)
    degree = proto.degree(degree)
    check_choice("on_disconnected", on_disconnected, ON_DISCONNECTED)
    check_geodesic_options(geodesics, n_sources, "geodesics")
    return check_k_type(k), str(curvature), degree, proto
