"""Ricci coefficients for several k (and protocols) at once (SPEC §3, "k sweep").

One exact neighbour search per state for the largest k serves every k and every protocol: the
neighbour lists are sorted (nearest first, ties to the smaller index), so the kNN graph for a
smaller k is built from the first k columns — identical to a separate search; the authors' tie
rule reads a few columns more. With Forman curvature and exact geodesics the graphs of all ks
of a state are stored once, nested, and a geodesic mass is computed once for both protocols
wherever their graphs agree (:mod:`layerflow.ricci.measures`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from layerflow._display import ResultDisplay
from layerflow.ricci.checks import RicciInputError, check_k_type
from layerflow.ricci.local import (
    LayerCoefficients,
    LocalCoefficients,
    layer_from_quantities,
    local_from_quantities,
    local_quantities,
)
from layerflow.ricci.measures import Family, global_coefficients, tables_rule
from layerflow.ricci.network import layer_graphs, neighbour_tables, trajectory_states
from layerflow.ricci.rho import RicciCoefficient, check_common
from layerflow.trajectory import Trajectory

__all__ = ["RicciSweep", "ricci_sweep", "ricci_sweeps"]


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
    protocol: str = "layerflow",
    degree: str | None = None,
    geodesics: str = "auto",
    n_sources: int | None = None,
    seed: int | None = 0,
    alpha: float = 0.5,
) -> RicciSweep:
    """All Ricci coefficients for several k in one pass (SPEC §3, "k sweep").

    One neighbour search per state for the largest k; the neighbour lists are sorted (nearest
    first, ties to the smaller index), so the kNN graph for a smaller k is built from the first k
    columns — identical to a separate search (with ``protocol="baptista"``, the table is a few
    columns wider and the points tied at each k-th distance join, exactly as in a separate
    call). ``global_[k]`` equals ``ricci_coefficient(traj, k, curvature, protocol=protocol,
    degree=degree, …)``. Disconnected layers give NaN (never raise) and are named in each
    result. Local and per-layer coefficients need L ≥ 3 and L ≥ 1; they are layerflow's own
    quantities on the union graphs of the protocol's arcs (ties kept under ``"baptista"``).
    Several protocols from one search: :func:`ricci_sweeps`.
    """
    return ricci_sweeps(
        traj, ks, curvature, local=local, protocols=(protocol,), degrees=(degree,),
        geodesics=geodesics, n_sources=n_sources, seed=seed, alpha=alpha,
    )[protocol]


def ricci_sweeps(
    traj: Trajectory | Sequence[Any],
    ks: Sequence[int] = (10, 20, 30, 50),
    curvature: str = "forman",
    *,
    local: bool = True,
    protocols: Sequence[str] = ("layerflow", "baptista"),
    degrees: Sequence[str | None] | None = None,
    geodesics: str = "auto",
    n_sources: int | None = None,
    seed: int | None = 0,
    alpha: float = 0.5,
    final_norm: bool = False,
) -> dict[str, RicciSweep]:
    """:func:`ricci_sweep` under several protocols from one neighbour search per state.

    ``protocols``: distinct names from :data:`~layerflow.ricci.protocols.PROTOCOLS`;
    ``degrees``: the degree mode of each (None: the protocol's own; default all None). Returns
    ``{protocol: RicciSweep}``, each equal to ``ricci_sweep(traj, ks, …, protocol=p,
    degree=d)``; the search is as wide as the widest tie rule needs, and with Forman curvature
    and exact geodesics a geodesic mass is computed once for the protocols whose graphs agree
    at that k (always, unless some point has a tie across its k-th distance). ``final_norm``:
    keep a trajectory's final-norm state (left out by default, as by :func:`ricci_coefficient`).
    """
    ks_t = tuple(check_k_type(k) for k in ks)
    if not ks_t:
        raise RicciInputError("ks is empty; expected at least one k")
    protos = tuple(protocols)
    if not protos or len(set(protos)) != len(protos):
        raise RicciInputError(f"protocols={list(protos)!r}: expected distinct protocol names")
    degs = tuple(degrees) if degrees is not None else (None,) * len(protos)
    if len(degs) != len(protos):
        raise RicciInputError(
            f"degrees has {len(degs)} entries for {len(protos)} protocols; expected one each"
        )
    families = []
    for proto_name, deg in zip(protos, degs, strict=True):
        _, _, degree_, proto = check_common(ks_t[0], curvature, deg, "nan", geodesics,
                                            proto_name, n_sources)
        families.append(Family(proto, degree_))
    states, names = trajectory_states(traj, final_norm)
    glob, tables = global_coefficients(
        states, names, ks_t, families, curvature, "nan", geodesics, n_sources, seed, alpha
    )
    out: dict[str, RicciSweep] = {}
    if local and len(states) >= 2 and tables is None:
        tables = neighbour_tables(states, names, max(ks_t), tables_rule(families))
    for fam, g_out in zip(families, glob, strict=True):
        loc: dict[int, LocalCoefficients] = {}
        lay: dict[int, LayerCoefficients] = {}
        if local and len(states) >= 2:
            for k in sorted(set(ks_t)):
                assert tables is not None
                q = local_quantities(layer_graphs(tables, k, "union", fam.protocol.ties),
                                     curvature, alpha)
                if len(states) >= 4:
                    loc[k] = local_from_quantities(q, k, curvature)
                lay[k] = layer_from_quantities(q, k, curvature, names)
        out[fam.protocol.name] = RicciSweep(ks_t, g_out, loc, lay)
    return out
