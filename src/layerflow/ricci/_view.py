"""The Ricci view's declaration (see :mod:`layerflow.views`) and its one measurement.

``measure_ricci`` runs :func:`~layerflow.ricci.ricci_k_scans` (one neighbour search shared
by every k and every protocol) and reports, for the primary ``k``, the global coefficient and its
diagnostics as scalars; the coefficient under every protocol at every swept k as rows of the
long coefficients table (:func:`~layerflow.views.coefficient_row`: protocol, k, ρ, first pair,
why undefined); and, per layer, the scalar curvature, geodesic mass and η, each row carrying its
protocol and k.
The options are declared in a light module (``ricci/_options.py``: the curvature kinds are the
keys of :data:`~layerflow.ricci.CURVATURES`), read by ``layerflow analyze``, sweeps and the
report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow.ricci._coefficients import PROTOCOLS, ricci_k_scans
from layerflow.ricci._options import DEFAULT_K as DEFAULT_K
from layerflow.ricci._options import DEFAULT_PROTOCOL, MAX_POINTS, OPTIONS
from layerflow.views import (
    Column,
    ViewResult,
    coefficient_row,
    layer_row,
)

#: the reason code of a swept k left out because the graph needs k < N
K_TOO_LARGE = "k >= N"


def _finalize(opts: dict[str, Any]) -> dict[str, Any]:
    """The primary ``k`` and the swept ``ks``: ks defaults to [k]; k defaults to
    :data:`DEFAULT_K` when it is among the ks (or none are given), else to the smallest k; k must
    be one of the ks."""
    ks, k = opts["ks"], opts["k"]
    if k is None:
        k = DEFAULT_K if ks is None or DEFAULT_K in ks else ks[0]
    if ks is None:
        ks = [k]
    if k not in ks:
        raise ConfigError("k", f"{k!r} is not one of ks={ks}; the primary k must be among the "
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


def _why_undefined(rc: Any) -> str:
    """Why a coefficient is undefined, as a short code: ``""`` (defined), ``"disconnected"`` (a
    kNN graph falls apart; geodesic mass is infinite), ``"too few pairs"`` (fewer than 3 layer
    pairs under the protocol), else the correlation's own reason (``"zero variance"``,
    ``"non-finite values"``)."""
    if np.isfinite(rc.coefficient):
        return ""
    if not rc.connected:
        return "disconnected"
    if len(rc.scalar_curvature) - 1 - rc.first_pair < 3:
        return "too few pairs"
    return str(rc.reason)


def measure_ricci(traj: Any, *, model: Any = None, inputs: Any = None, k: int = DEFAULT_K,
                  ks: list[int] | None = None, curvature: str = "forman",
                  degree: str | None = None, geodesics: str = "auto", seed: int = 0,
                  protocols: list[str] | None = None, max_points: int | None = MAX_POINTS,
                  final_norm: bool = False) -> ViewResult:
    """Ricci coefficients of ``traj`` for every k in ``ks`` (primary ``k``) under every protocol
    in ``protocols`` (the first is primary): one coefficient row per (protocol, k), per-layer
    rows carrying their protocol and k, and the primary coefficient with its diagnostics as
    scalars; see :data:`VIEW`. A trajectory of more than ``max_points`` rows is
    read on a subsample of ``max_points`` rows drawn with ``seed`` (``ricci_note`` says so);
    token ids, and the final norm unless ``final_norm``, are left out (``ricci_note`` names
    them)."""
    notes: list[str] = []
    from layerflow._trajectory import Trajectory

    if isinstance(traj, Trajectory):
        _, left_out = traj.analysed(final_norm)
        if left_out:
            notes.append(left_out)
        if max_points is not None and traj.n_samples > max_points:
            notes.append(f"the kNN graphs use a subsample of {max_points} of the "
                         f"{traj.n_samples} points (seed {seed}; max_points=None uses all)")
            traj = traj.subsample(max_points, seed)
    kk = sorted(set(ks or [k]) | {k})
    n = _n_points(traj)
    too_big = [kv for kv in kk if n is not None and kv >= n and kv != k]
    kk = [kv for kv in kk if kv not in too_big]  # a swept k needs k < N; the primary k must fit
    protos = list(dict.fromkeys(protocols or [DEFAULT_PROTOCOL]))  # each protocol once
    rows: list[dict[str, Any]] = []
    coefficients: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    sweeps = ricci_k_scans(traj, ks=tuple(kk), curvature=curvature, local=False,
                          protocols=protos, degrees=[degree] + [None] * (len(protos) - 1),
                          geodesics=geodesics, seed=seed, final_norm=final_norm)
    for proto in protos:
        res = sweeps[proto]
        results[proto] = res
        for kv, rc in sorted(res.global_.items()):
            coefficients.append(coefficient_row(proto, kv, float(rc.coefficient),
                                                int(rc.first_pair), _why_undefined(rc)))
            for metric, values in (("scalar_curvature", rc.scalar_curvature),
                                   ("geodesic_mass", rc.geodesic_mass), ("eta", rc.eta)):
                for layer, v in enumerate(np.asarray(values, dtype=float).reshape(-1)):
                    rows.append(layer_row(layer, rc.layer_names[layer], metric, float(v),
                                          k=kv, protocol=proto))
        coefficients.extend(coefficient_row(proto, kv, float("nan"),
                                            PROTOCOLS[proto].first_pair, K_TOO_LARGE)
                            for kv in too_big)
    coefficients.sort(key=lambda c: (protos.index(c["protocol"]), c["k"]))
    res = results[protos[0]]
    rc = res.global_[k]
    scalars = {
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
        "ricci_note": "; ".join(notes),
    }
    return ViewResult("ricci", scalars, tuple(rows),
                      {"sweep": res, "coefficient": rc, "protocols": results},
                      tuple(coefficients))


VIEW = OPTIONS.declare(
    title="Ricci view",
    paper="Baptista et al. 2024",
    columns=(
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
        Column("ricci_skipped_ks", "skipped ks", "swept ks left out because k >= N (their "
               "coefficient rows say why)", kind="str"),
        Column("ricci_note", "Ricci note", "states left out and the subsample used, or empty",
               kind="str"),
        Column("scalar_curvature", "scalar curvature", "Ric_l = Σ over edges of the curvature",
               per_layer=True),
        Column("geodesic_mass", "geodesic mass", "g_l = Σ_{i<j} hop distance", per_layer=True,
               low=0.0),
        Column("eta", "η", "η_l = g_l+1 − g_l", per_layer=True),
    ),
    measure_fn=measure_ricci,
    finalize=_finalize,
)
