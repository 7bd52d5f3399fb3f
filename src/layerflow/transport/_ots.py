"""Optimal transport score (OTS) and cost ratio between the first and last state (Gai & Zhang 2021)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError
from layerflow._trajectory import Trajectory
from layerflow.transport._assignment import Assignment, exact_assignment
from layerflow.transport._common import check_trajectory, run_indices
from layerflow.transport._options import DEFAULT_M as DEFAULT_M


@dataclass(frozen=True)
class OTScoreResult(ResultDisplay, headline=("score", "cost_ratio", "m", "n_matched", "own_cost",
                                            "optimal_cost", "seed", "solver", "run")):
    """OTS of one trajectory.

    Attributes
    ----------
    score
        OTS in [0, 1]: fraction of the m samples whose optimal partner is their own image.
    cost_ratio
        ``Σ_i ‖x_i − y_i‖² / min_σ Σ_i ‖x_i − y_σ(i)‖²`` (>= 1; 1 iff the network's own pairing
        is optimal; 1 when both are 0; inf when only the optimum is 0).
    m
        Number of samples used.
    n_matched
        ``score · m``.
    own_cost, optimal_cost
        The two mean squared costs (``optimal_cost`` = W2² of the two empirical measures).
    seed
        Seed of the subsample (irrelevant when m = N).
    solver
        Exact solver that produced the assignment.
    run
        The equal-width run whose first and last states were compared.
    """

    score: float
    cost_ratio: float
    m: int
    n_matched: int
    own_cost: float
    optimal_cost: float
    seed: int
    solver: str
    run: tuple[int, int]


def resolve_m(m: int | None, n: int, func: str, default: int = DEFAULT_M) -> int:
    """Samples to use: ``min(N, m)`` (m samples, default ``min(N, 1000)``).

    ``m`` is an upper bound, so one setting (``m=1000``) runs on trajectories of every size; the
    result's ``.m`` reports the number actually used. ``None`` means ``default``. At least 2
    samples are needed.
    """
    if m is None:
        m = default
    if isinstance(m, bool) or not isinstance(m, int | np.integer):
        raise ConfigError(f"{func}: m={m!r}; expected an int (or None for min(N, {default}))")
    if m < 2:
        raise ConfigError(f"{func}: m={m}; an OT score needs at least 2 samples (N={n})")
    if n < 2:
        raise ConfigError(f"{func} needs at least 2 samples; the trajectory has N={n}")
    return int(min(m, n))


def count_fixed_points(X: np.ndarray, Y: np.ndarray, perm: np.ndarray) -> int:
    """Number of i whose assigned partner ``y_perm(i)`` is their own image ``y_i``.

    Exact duplicate points make several assignments optimal. Counted per group of identical
    inputs, as the size of the multiset intersection of the group's own images and its assigned
    partners (identical images compared as points): the largest count over the optimal
    assignments that differ only by swapping identical points. Without duplicates this is
    ``#{i : perm[i] = i}``.
    """
    _, gx = np.unique(X, axis=0, return_inverse=True)
    _, gy = np.unique(Y, axis=0, return_inverse=True)
    gx = gx.reshape(-1).astype(np.int64)
    gy = gy.reshape(-1).astype(np.int64)
    width = int(gy.max()) + 1
    own_keys, own_counts = np.unique(gx * width + gy, return_counts=True)
    asg_keys, asg_counts = np.unique(gx * width + gy[perm], return_counts=True)
    _, io, ia = np.intersect1d(own_keys, asg_keys, assume_unique=True, return_indices=True)
    return int(np.minimum(own_counts[io], asg_counts[ia]).sum())


def _ratio(own: float, opt: float) -> float:
    if opt > 0:
        return own / opt
    return 1.0 if own == 0 else float("inf")


def ot_score(
    traj: Trajectory,
    m: int | None = DEFAULT_M,
    seed: int = 0,
    run: tuple[int, int] | None = None,
    *,
    solver: str = "auto",
    max_bytes: int | None = None,
) -> OTScoreResult:
    """Optimal transport score between the first and last state of the equal-width run.

    Gai & Zhang 2021 ("learn the geodesic curve in the Wasserstein space"): on m samples (the
    same m rows of every state, ``traj.subsample(m, seed)``), solve the exact assignment between
    ``{x_i = x_i^(start)}`` and ``{y_j = x_j^(stop)}`` with cost ``‖x_i − y_j‖²``, and

    .. math::  \\mathrm{OTS} = \\frac1m \\#\\{ i : \\sigma^*(i) = i \\},\\qquad
               \\text{cost ratio} = \\frac{\\sum_i \\lVert x_i - y_i\\rVert^2}
                                       {\\min_\\sigma \\sum_i \\lVert x_i - y_{\\sigma(i)}\\rVert^2}.

    Ties: when the network's own pairing costs no more than the solver's optimum, it *is* an
    optimal assignment and is used (OTS = 1, ratio = 1). Among assignments that differ only by
    swapping exactly identical points, a sample counts as matched when its own image is among
    the partners of its group of identical inputs (see :func:`count_fixed_points`), so OTS does
    not depend on the solver's tie-breaking. Near-ties between distinct points are not merged:
    OTS can jump there, which is what the continuous ``cost_ratio`` is for.

    Parameters
    ----------
    traj
        Trajectory; the states of the run have shape ``(N, d)``.
    m
        At most this many samples: ``min(N, m)`` are used (default ``min(N, 1000)``; ``None``
        means the default); ``.m`` of the result says how many.
    seed
        Seed of the subsample.
    run
        Equal-width run ``(start, stop)``; default the longest.
    solver
        ``"auto"``, ``"scipy"`` or ``"pot"`` (all exact; see :mod:`layerflow.transport._assignment`).
    max_bytes
        Memory budget for the m×m matrices (default half the available memory).
    """
    traj = check_trajectory(traj, "ot_score")
    used = run_indices(traj, run, "ot_score")
    mm = resolve_m(m, traj.n_samples, "ot_score")
    sub = traj.subsample(mm, seed)
    X = np.asarray(sub.states[used[0]], dtype=np.float64)
    Y = np.asarray(sub.states[used[1]], dtype=np.float64)
    asg = exact_assignment(X, Y, solver=solver, max_bytes=max_bytes, what="ot_score")
    return ot_result(X, Y, asg, mm, seed, used)


def ot_result(
    X: np.ndarray, Y: np.ndarray, asg: Assignment, m: int, seed: int, used: tuple[int, int]
) -> OTScoreResult:
    matched = count_fixed_points(X, Y, asg.perm)
    return OTScoreResult(
        score=matched / m,
        cost_ratio=_ratio(asg.own_cost, asg.cost),
        m=m,
        n_matched=matched,
        own_cost=asg.own_cost,
        optimal_cost=asg.cost,
        seed=int(seed),
        solver=asg.solver,
        run=used,
    )
