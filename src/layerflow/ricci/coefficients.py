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

How: one exact neighbour search per state serves every k and every protocol; with Forman
curvature and exact geodesics the graphs of all ks of a state are stored once, nested, Forman's
scalar curvature comes in the exact closed form ``2·nnz − Σ deg²`` (union) / ``4·arcs − Σ D²``
(directed), and each distinct graph's geodesic mass is computed once
(:mod:`layerflow.ricci.measures`). Threads: from N = 1,024 points on
(:data:`~layerflow.ricci.threads.LAYER_THREADS_MIN_N`) the states of a network are independent
jobs spread over ``numba.get_num_threads()`` threads (``NUMBA_NUM_THREADS``; 1 = serial, as in a
sweep worker); BLAS is held to one thread meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerflow.ricci.local import local_coefficients
from layerflow.ricci.measures import Family, global_coefficients
from layerflow.ricci.network import trajectory_states
from layerflow.ricci.rho import (
    ON_DISCONNECTED,
    DisconnectedGraphError,
    RicciCoefficient,
    check_common,
)
from layerflow.trajectory import Trajectory

__all__ = [
    "ON_DISCONNECTED",
    "DisconnectedGraphError",
    "RicciCoefficient",
    "ricci_coefficient",
    "summary",
]


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
    final_norm: bool = False,
) -> RicciCoefficient:
    """Global Ricci coefficient ``ρ = corr_l(η_l, Ric_l)`` of one network (SPEC §3).

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
    final_norm
        Keep a state of kind ``final_norm`` (left out by default: the final normalisation
        rescales every token, so its step would dominate η and Ric).

    Returns
    -------
    RicciCoefficient
        ``.coefficient``, ``.scalar_curvature`` (L+1,), ``.geodesic_mass`` (L+1,), ``.eta`` (L,),
        ``.connected``, ``.disconnected_layers``, ``.reason``, ``.protocol``, ``.first_pair``, …
        A network needs at least 3 pairs (L ≥ 3, or L ≥ 4 under ``"baptista"``).
    """
    k, curvature, degree, proto = check_common(
        k, curvature, degree, on_disconnected, geodesics, protocol, n_sources
    )
    states, names = trajectory_states(traj, final_norm)
    out, _ = global_coefficients(
        states, names, (k,), (Family(proto, degree),), curvature, on_disconnected, geodesics,
        n_sources, seed, alpha,
    )
    return out[0][k]


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
    """Flat, JSON-friendly Ricci metrics of one trajectory at one k: the columns that
    ``layerflow analyze`` and sweeps write for the primary k (they go through the Ricci view,
    :func:`~layerflow.ricci.view.measure_ricci`, which adds the k sweep and the protocols).

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
