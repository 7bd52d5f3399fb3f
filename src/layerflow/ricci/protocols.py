"""Protocols of the global Ricci coefficient: named conventions, as data (SPEC §3).

A protocol fixes how the kNN graphs are built and which layer pairs are correlated:

``"layerflow"`` (the default)
    Union kNN graphs (``degree="union"``; ``"directed"`` may be asked for), exactly k
    neighbours per point (ties at the k-th distance to the smaller index), and
    ``ρ = corr(η_l, Ric_l)`` over l = 0 … L−1, the input pair included. Our choice: the input
    pair is part of what the network does to the data, and a per-network coefficient needs every
    pair it has (L = 4 hidden layers already give only 4).
``"baptista"``
    The authors' R code (anthbapt/Ricci-NN, ``fMNIST_kNN_RCoef_eval.r``, with cccd and igraph):
    directed kNN graphs that keep every point tied at the k-th distance (``cccd::nng``; an
    out-degree may exceed k), degree = in + out (``igraph::degree``), hop distances ignoring
    direction (``igraph::distances``), and ``η_l = g_{l+1} − g_l`` correlated with ``Ric_l`` for
    l = 1 … L−1: the input pair (l = 0) is left out (R: ``msc$ssr[-which(msc$layer==1)]`` against
    ``mfr$ssr[-which(mfr$layer==max(mfr$layer))]``). R pools those pairs over networks
    (:func:`~layerflow.ricci.pooled.pooled_coefficient`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from layerflow.ricci.checks import RicciInputError, check_choice

__all__ = ["PROTOCOLS", "Protocol", "get_protocol"]


@dataclass(frozen=True)
class Protocol:
    """One convention: ``degrees`` the allowed kNN degree modes (the first is the default),
    ``ties`` the tie rule at the k-th distance, ``first_pair`` the first l of the correlated pairs
    ``(η_l, Ric_l)``, l = first_pair … L−1."""

    name: str
    degrees: tuple[str, ...]
    ties: str
    first_pair: int

    def degree(self, degree: Any) -> str:
        """The degree mode to use: the protocol's default for None, else one it allows."""
        if degree is None:
            return self.degrees[0]
        if len(self.degrees) == 1 and degree != self.degrees[0]:
            raise RicciInputError(
                f"degree={degree!r} does not go with protocol={self.name!r}, which uses "
                f"degree={self.degrees[0]!r} (the authors' R code); leave degree out"
            )
        return check_choice("degree", degree, self.degrees)


PROTOCOLS: dict[str, Protocol] = {
    "layerflow": Protocol("layerflow", degrees=("union", "directed"), ties="by_index",
                          first_pair=0),
    "baptista": Protocol("baptista", degrees=("directed",), ties="keep", first_pair=1),
}


def get_protocol(name: Any) -> Protocol:
    """The protocol called ``name`` (else :class:`RicciInputError` listing them)."""
    return PROTOCOLS[check_choice("protocol", name, tuple(PROTOCOLS))]
