"""The Ricci view's declaration (see :mod:`layerflow.views`) and its one measurement.

``measure_ricci`` runs :func:`~layerflow.ricci.ricci_sweeps` (one neighbour search shared
by every k and every protocol) and reports, for the primary ``k``, the global coefficient and its
diagnostics, plus ``ricci_rho_k{k}`` for every swept k and, per layer, the scalar curvature,
geodesic mass and η.
The curvature kinds are read from :data:`~layerflow.ricci.CURVATURES`, so a kind added there
reaches ``layerflow analyze``, sweeps and the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow.ricci.coefficients import PROTOCOLS, ricci_sweeps
from layerflow.ricci.curvature import CURVATURES
from layerflow.views import Column, Option, OptionError, View, ViewResult, layer_row

__all__ = ["DEFAULT_K", "VIEW", "measure_ricci", "protocol_suffix"]

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


def _n_points(traj: Any) -> int | None:
    try:
        return len(traj.states[0])
    except (AttributeError, TypeError, IndexError):
        try:
            return len(traj[0])
        except (TypeError, IndexError):
            return None


def protocol_suffix(protocol: str, primary: str) -> str:
    """Column suffix of a protocol's values: none for the primary one, ``_<name>`` otherwise."""
    return "" if protocol == primary else f"_{protocol}"


def _names(prefix: str, per_k: bool, extra_only: bool = False) -> Any:
    def names(o: Any) -> list[str]:
        protos = o["protocols"][1:] if extra_only else o["protocols"]
        sfx = [protocol_suffix(p, o["protocols"][0]) for p in protos]
        return [f"{prefix}{s}_k{k}" for s in sfx for k in o["ks"]] if per_k else [
            f"{prefix}{s}" for s in sfx]
    return names


def measure_ricci(traj: Any, *, model: Any = None, inputs: Any = None, k: int = DEFAULT_K,
                  ks: list[int] | None = None, curvature: str = "forman",
                  degree: str | None = None, geodesics: str = "auto", seed: int = 0,
                  protocols: list[str] | None = None) -> ViewResult:
    """Ricci coefficients of ``traj`` for every k in ``ks`` (primary ``k``) under every protocol
    in ``protocols`` (the first is primary; the others' columns and per-layer metrics carry the
    suffix ``_<protocol>``); see :data:`VIEW`."""
    kk = sorted(set(ks or [k]) | {k})
    n = _n_points(traj)
    too_big = [kv for kv in kk if n is not None and kv >= n and kv != k]
    kk = [kv for kv in kk if kv not in too_big]  # a swept k needs k < N; the primary k must fit
    protos = list(dict.fromkeys(protocols or ["layerflow"]))  # each protocol once
    scalars: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    sweeps = ricci_sweeps(traj, ks=tuple(kk), curvature=curvature, local=False,
                          protocols=protos, degrees=[degree] + [None] * (len(protos) - 1),
                          geodesics=geodesics, seed=seed)
    for proto in protos:
        sfx = protocol_suffix(proto, protos[0])
        res = sweeps[proto]
        results[proto] = res
        for kv, rc in sorted(res.global_.items()):
            scalars[f"ricci_rho{sfx}_k{kv}"] = float(rc.coefficient)
            for metric, values in (("scalar_curvature", rc.scalar_curvature),
                                   ("geodesic_mass", rc.geodesic_mass), ("eta", rc.eta)):
                for layer, v in enumerate(np.asarray(values, dtype=float).reshape(-1)):
                    rows.append(layer_row(layer, rc.layer_names[layer], metric + sfx, float(v),
                                          k=kv))
        for kv in too_big:
            scalars[f"ricci_rho{sfx}_k{kv}"] = float("nan")
        if sfx:
            scalars[f"ricci_rho{sfx}"] = float(res.global_[k].coefficient)
        scalars[f"ricci_first_pair{sfx}"] = int(res.global_[k].first_pair)
    res = results[protos[0]]
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
        "ricci_protocol": rc.protocol,
        "ricci_skipped_ks": ", ".join(f"k={kv} (N={n})" for kv in too_big),
    })
    return ViewResult("ricci", scalars, tuple(rows),
                      {"sweep": res, "coefficient": rc, "protocols": results})


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
        Option("degree", "str", None, "kNN degree for the first protocol: union (symmetric) or "
               "directed (in + out); default: the protocol's own", choices=("union", "directed"),
               nullable=True),
        Option("geodesics", "str", "auto", "geodesic mass: exact, sampled, or auto (sampled "
               "above 20,000 points)", choices=("auto", "exact", "sampled")),
        Option("seed", "int", 0, "seed of the sampled geodesic mass", low=0),
        Option("protocols", "strs", ["layerflow"], "protocols of the coefficient (SPEC §3): "
               "layerflow (union graphs, every pair) and/or baptista (the authors' R code); the "
               "first is primary, the others add columns suffixed _<protocol>",
               choices=lambda: tuple(PROTOCOLS)),
    ),
    columns=(
        Column("ricci_rho{protocol}_k{ks}", "ρ at this k", "global Ricci coefficient at one "
               "swept k (per protocol)", low=-1.0, high=1.0, names=_names("ricci_rho", True)),
        Column("ricci_rho{protocol}", "ρ (other protocol)", "global Ricci coefficient at the "
               "primary k under each further protocol", low=-1.0, high=1.0,
               names=_names("ricci_rho", False, extra_only=True)),
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
        Column("ricci_protocol", "protocol", "protocol of the primary coefficient", kind="str"),
        Column("ricci_first_pair{protocol}", "first pair", "first layer pair l the protocol "
               "correlates (0: the input pair included; 1: left out)", kind="int", low=0,
               names=_names("ricci_first_pair", False)),
        Column("ricci_skipped_ks", "skipped ks", "swept ks left out because k >= N (NaN "
               "columns)", kind="str"),
        Column("scalar_curvature", "scalar curvature", "Ric_l = Σ over edges of the curvature",
               per_layer=True),
        Column("geodesic_mass", "geodesic mass", "g_l = Σ_{i<j} hop distance", per_layer=True,
               low=0.0),
        Column("eta", "η", "η_l = g_l+1 − g_l", per_layer=True),
        Column("scalar_curvature{protocol}", "scalar curvature (other protocol)", "Ric_l under "
               "each further protocol", per_layer=True),
        Column("geodesic_mass{protocol}", "geodesic mass (other protocol)", "g_l under each "
               "further protocol", per_layer=True, low=0.0),
        Column("eta{protocol}", "η (other protocol)", "η_l under each further protocol",
               per_layer=True),
    ),
    measure_fn=measure_ricci,
    finalize=_finalize,
)
