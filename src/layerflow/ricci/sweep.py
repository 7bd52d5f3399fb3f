"""Ricci coefficients for several k at once (SPEC §3, "k sweep").

One exact neighbour search per state for the largest k; the neighbour lists are sorted (nearest
first, ties to the smaller index), so the kNN graph for a smaller k is built from the first k
columns — identical to a separate search.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from layerflow._display import ResultDisplay
from layerflow.ricci.checks import RicciInputError
from layerflow.ricci.coefficients import RicciCoefficient, check_common, global_from_graphs
from layerflow.ricci.local import (
    LayerCoefficients,
    LocalCoefficients,
    layer_from_quantities,
    local_from_quantities,
    local_quantities,
)
from layerflow.ricci.network import layer_graphs, neighbour_tables, trajectory_states
from layerflow.trajectory import Trajectory

__all__ = ["RicciSweep", "ricci_sweep"]


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
    """
    ks_t = tuple(int(k) for k in ks)
    if not ks_t:
        raise RicciInputError("ks is empty; expected at least one k")
    for k in ks_t:
        _, _, degree_, proto = check_common(k, curvature, degree, "nan", geodesics, protocol)
    states, names = trajectory_states(traj)
    tables = neighbour_tables(states, names, max(ks_t), proto.ties)
    g_out: dict[int, RicciCoefficient] = {}
    loc: dict[int, LocalCoefficients] = {}
    lay: dict[int, LayerCoefficients] = {}
    for k in sorted(set(ks_t)):
        graphs = layer_graphs(tables, k, degree_, proto.ties)
        g_out[k] = global_from_graphs(
            graphs, names, k, curvature, degree_, "nan", geodesics, n_sources, seed, alpha, proto
        )
        if local and len(states) >= 2:
            ugraphs = graphs
            if degree_ != "union":
                ugraphs = layer_graphs(tables, k, "union", proto.ties)
            q = local_quantities(ugraphs, curvature, alpha)
            if len(states) >= 4:
                loc[k] = local_from_quantities(q, k, curvature)
            lay[k] = layer_from_quantities(q, k, curvature, names)
    return RicciSweep(ks_t, g_out, loc, lay)
