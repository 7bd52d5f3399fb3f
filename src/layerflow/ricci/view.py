"""The Ricci view's declaration (see :mod:`layerflow.views`) and its one measurement.

``measure_ricci`` runs :func:`~layerflow.ricci.ricci_sweep` (one neighbour search shared by every
k) and reports, for the primary ``k``, the global coefficient and its diagnostics, plus
``ricci_rho_k{k}`` for every swept k and, per layer, the scalar curvature, geodesic mass and η.
The curvature kinds are read from :data:`~layerflow.ricci.CURVATURES`, so a kind added there
reaches ``layerflow analyze``, sweeps and the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow.ricci.curvature import CURVATURES
from layerflow.ricci.sweep import ricci_sweep
from layerflow.views import Column, Option, OptionError, View, ViewResult, layer_row

__all__ = ["DEFAULT_K", "VIEW", "measure_ricci"]

DEFAULT_K = 30  # SPEC §3 default; the primary k of a sweep when its ks hold 30 (or none given)


def _finalize(opts: dict[str, Any]) -> dict[str, Any]:
    """The primary ``k`` and the swept ``ks``: ks defaults to [k]; k defaults to 30 when 30 is
    among the ks (or none are given), else to the smallest k; k must be one of the ks."""
    ks, k = opts["ks"], opts["k"]
    if k is None:
        k = DEFAULT_K if ks is None or DEFAULT_K in ks else ks[0]
    if ks is None:
        ks = [k]
    if k not in ks:
        raise OptionError("k", f"{k!r} is not one of ks={ks}; the primary k must be among the "
                               "swept ks")
    return {**opts, "k": k, "ks": ks}


def measure_ricci(traj: Any, *, model: Any = None, inputs: Any = None, k: int = DEFAULT_K,
                  ks: list[int] | None = None, curvature: str = "forman", degree: str = "union",
                  geodesics: str = "auto", seed: int = 0) -> ViewResult:
    """Ricci coefficients of ``traj`` for every k in ``ks`` (primary ``k``); see :data:`VIEW`."""
    kk = sorted(set(ks or [k]) | {k})
    res = ricci_sweep(traj, ks=tuple(kk), curvature=curvature, local=False, degree=degree,
                      geodesics=geodesics, seed=seed)
    scalars: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    for kv, rc in sorted(res.global_.items()):
        scalars[f"ricci_rho_k{kv}"] = float(rc.coefficient)
        for metric, values in (("scalar_curvature", rc.scalar_curvature),
                               ("geodesic_mass", rc.geodesic_mass), ("eta", rc.eta)):
            for layer, v in enumerate(np.asarray(values, dtype=float).reshape(-1)):
                rows.append(layer_row(layer, rc.layer_names[layer], metric, float(v), k=kv))
    rc = res.global_[k]
    scalars.update({
        "ricci_rho": float(rc.coefficient),
        "ricci_connected": bool(rc.connected),
        "ricci_disconnected_layers": rc.disconnected_description(),
        "k": int(rc.k),
        "ricci_curvature": rc.curvature,
        "ricci_reason": rc.reason,
        "ricci_exact": bool(rc.exact),
        "ricci_n": int(rc.n_samples),
        "ricci_layers": len(rc.scalar_curvature) - 1,
    })
    return ViewResult("ricci", scalars, tuple(rows), {"sweep": res, "coefficient": rc})


VIEW = View(
    name="ricci",
    title="Ricci view",
    paper="Baptista et al. 2024",
    options=(
        Option("k", "int", None, "neighbours per point (the primary k; default 30)", low=1,
               nullable=True),
        Option("ks", "ints", None, "every k to compute (one neighbour search; default [k])",
               low=1, nullable=True),
        Option("curvature", "str", "forman", "edge curvature kind",
               choices=lambda: tuple(CURVATURES)),
        Option("degree", "str", "union", "kNN graph: union (symmetric) or directed (in + out, "
               "the authors' R code)", choices=("union", "directed")),
        Option("geodesics", "str", "auto", "geodesic mass: exact, sampled, or auto (sampled "
               "above 20,000 points)", choices=("auto", "exact", "sampled")),
        Option("seed", "int", 0, "seed of the sampled geodesic mass", low=0),
    ),
    columns=(
        Column("ricci_rho_k{ks}", "ρ at this k", "global Ricci coefficient at one swept k",
               low=-1.0, high=1.0),
        Column("ricci_rho", "ρ", "global Ricci coefficient corr_l(η_l, Ric_l) at the primary k "
               "(< 0: Ricci-flow-like)", low=-1.0, high=1.0, headline=True),
        Column("ricci_connected", "connected", "every layer's kNN graph is connected",
               kind="bool"),
        Column("ricci_disconnected_layers", "disconnected layers", "which layers, and into how "
               "many components", kind="str"),
        Column("k", "k", "the primary k", kind="int", low=1),
        Column("ricci_curvature", "curvature", "edge curvature kind", kind="str"),
        Column("ricci_reason", "why no ρ", "why the coefficient is undefined, or empty",
               kind="str"),
        Column("ricci_exact", "exact geodesics", "geodesic masses computed exactly",
               kind="bool"),
        Column("ricci_n", "points", "points per kNN graph", kind="int", low=0),
        Column("ricci_layers", "layer pairs", "L (pairs of consecutive states)", kind="int",
               low=0),
        Column("scalar_curvature", "scalar curvature", "Ric_l = Σ over edges of the curvature",
               per_layer=True),
        Column("geodesic_mass", "geodesic mass", "g_l = Σ_{i<j} hop distance", per_layer=True,
               low=0.0),
        Column("eta", "η", "η_l = g_l+1 − g_l", per_layer=True),
    ),
    measure_fn=measure_ricci,
    finalize=_finalize,
)
