"""OT score between states of different widths via Gromov–Wasserstein (a documented extension).

The plain OT score needs ``x^(0)`` and ``x^(L)`` in the same space. Gromov–Wasserstein compares
two metric-measure spaces through their *intra*-space distance matrices only, so a network whose
widths change (a plain MLP 2 → 50 → … → 25) can still be asked: does the coupling that best
preserves pairwise distances pair every sample with its own image?

This is a different notion from :func:`~layerflow.transport.ot_score`: it is invariant to
isometries of either space (rotations, reflections, translations, isometric embeddings into more
dimensions), where OTS is not, and the GW problem is non-convex, so POT's conditional gradient
finds a local optimum (started from the independent coupling, never from the network's own
pairing).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import cast

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError, NotComputableError
from layerflow._trajectory import Trajectory
from layerflow.transport._common import check_memory, check_trajectory
from layerflow.transport._ots import resolve_m

DEFAULT_GW_M = 500


@dataclass(frozen=True)
class GWScoreResult(ResultDisplay, headline=("score", "gw_loss", "m", "n_iter", "states", "seed")):
    """Gromov–Wasserstein OT score.

    Attributes
    ----------
    score
        ``Σ_i T_ii``: the mass the GW coupling ``T`` (m×m, marginals 1/m) puts on the network's
        own pairing; the fraction of fixed points when ``T`` is a permutation, in [0, 1].
    gw_loss
        The GW objective ``Σ_{ijkl} (D^s_ik − D^t_jl)² T_ij T_kl`` at ``T`` (0 for isometric
        clouds).
    m
        Samples used.
    n_iter
        Conditional-gradient iterations.
    states
        ``(source, target)`` state indices compared.
    seed
        Seed of the subsample.
    """

    score: float
    gw_loss: float
    m: int
    n_iter: int
    states: tuple[int, int]
    seed: int


def _dist(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    sq = np.einsum("ij,ij->i", X, X)
    D2 = sq[:, None] + sq[None, :] - 2.0 * (X @ X.T)
    np.maximum(D2, 0.0, out=D2)
    np.fill_diagonal(D2, 0.0)
    return cast(np.ndarray, np.sqrt(D2))


def gw_ot_score(
    traj: Trajectory,
    m: int | None = None,
    seed: int = 0,
    *,
    source: int = 0,
    target: int = -1,
    max_iter: int = 10_000,
    max_bytes: int | None = None,
) -> GWScoreResult:
    """OT score between two states of any widths via Gromov–Wasserstein (POT).

    On m seeded samples (``traj.subsample(m, seed)``; default ``min(N, 500)``: each iteration
    costs O(m³)), with Euclidean distance matrices ``D^s`` (of ``x^(source)``, shape (m, m)) and
    ``D^t`` (of ``x^(target)``) and uniform weights, solve (Mémoli 2011; POT
    :func:`ot.gromov.gromov_wasserstein`, square loss)

    .. math::  T^* \\in \\arg\\min_{T \\in \\Pi(1/m, 1/m)} \\sum_{i,j,k,l}
               (D^s_{ik} - D^t_{jl})^2 T_{ij} T_{kl}, \\qquad \\text{score} = \\sum_i T^*_{ii}.

    An isometric copy of a generic point cloud (rotated, shifted, embedded in more dimensions)
    scores 1. See the module docstring for how this differs from :func:`ot_score`.

    Raises
    ------
    ConfigError
        Bad ``m`` or state indices.
    NotComputableError
        An inner exact OT solve stopped at its iteration cap.
    """
    import ot

    traj = check_trajectory(traj, "gw_ot_score")
    n_states = len(traj.states)
    idx = []
    for name, s in (("source", source), ("target", target)):
        if isinstance(s, bool) or not isinstance(s, int | np.integer) or not -n_states <= s < n_states:
            raise ConfigError(
                f"gw_ot_score: {name}={s!r} is not a state index; the trajectory has "
                f"{n_states} states (0 … {n_states - 1}, or negative from the end)"
            )
        idx.append(int(s) % n_states)
    if idx[0] == idx[1]:
        raise ConfigError(f"gw_ot_score: source and target are the same state {idx[0]}")
    mm = resolve_m(m, traj.n_samples, "gw_ot_score", default=DEFAULT_GW_M)
    check_memory(mm, 6, "gw_ot_score", max_bytes)
    sub = traj.subsample(mm, seed)
    Ds, Dt = _dist(sub.states[idx[0]]), _dist(sub.states[idx[1]])
    p = np.full(mm, 1.0 / mm)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        T, log = ot.gromov.gromov_wasserstein(
            Ds, Dt, p, p, loss_fun="square_loss", log=True, max_iter=max_iter,
            numItermaxEmd=max(100_000, 50 * mm * mm),
        )
    bad = [str(w.message) for w in caught if "numItermax" in str(w.message)]
    for w in caught:  # every other POT warning reaches the caller, with its own category
        if "numItermax" not in str(w.message):
            warnings.warn(w.message, w.category, stacklevel=2)
    if bad:
        raise NotComputableError(
            f"gw_ot_score: an inner exact OT solve did not converge on m={mm} ({bad[0]}); "
            "an unconverged coupling is never returned"
        )
    T = np.asarray(T)
    return GWScoreResult(
        score=float(np.trace(T)),
        gw_loss=float(log["gw_dist"]),
        m=mm,
        n_iter=len(log["loss"]),
        states=(idx[0], idx[1]),
        seed=int(seed),
    )
