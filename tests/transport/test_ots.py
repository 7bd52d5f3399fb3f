"""OT score against brute force, closed forms (monotone maps) and random permutations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from layerflow import Trajectory
from layerflow._errors import ConfigError
from layerflow.transport import ot_score
from layerflow.transport._ots import count_fixed_points


def _brute(X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """All m! permutations: (fraction of fixed points of the best one, own / best cost)."""
    m = X.shape[0]
    C = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    best = min(itertools.permutations(range(m)), key=lambda p: C[np.arange(m), list(p)].sum())
    best_cost = C[np.arange(m), list(best)].sum()
    return sum(i == j for i, j in enumerate(best)) / m, float(np.trace(C) / best_cost)


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((7, 2))
    Y = X + rng.uniform(0.2, 1.2) * rng.standard_normal((7, 2))
    res = ot_score(Trajectory([X, Y]))
    score, ratio = _brute(X, Y)
    assert res.score == pytest.approx(score)
    assert res.cost_ratio == pytest.approx(ratio, rel=1e-12)
    assert res.m == 7 and res.run == (0, 1)


@pytest.mark.parametrize(("a", "b"), [(0.3, 0.0), (1.0, 5.0), (2.5, -1.0)])
def test_monotone_affine_map_is_optimal(rng: np.random.Generator, a: float, b: float) -> None:
    # Σ‖x_i − a x_σ(i) − b‖² = const − 2a Σ x_i·x_σ(i); Cauchy–Schwarz: σ = id is the unique optimum
    X = rng.standard_normal((300, 4))
    res = ot_score(Trajectory([X, a * X + b, a * (a * X + b) + b]), m=200, seed=3)
    assert res.score == 1.0 and res.n_matched == 200
    assert res.cost_ratio == 1.0
    assert res.run == (0, 2)


def test_random_permutation_scores_about_one_over_m() -> None:
    # outputs are the inputs shuffled (plus tiny noise): the optimal partner of x_i is x_i's own
    # copy, so the fixed points of the assignment are those of the uniform random permutation:
    # E[#fixed] = 1 (variance 1). Over 200 seeds the mean of score·m has standard error
    # 1/√200 ≈ 0.071; we allow 5 standard errors.
    m, seeds = 40, 200
    matched = []
    for s in range(seeds):
        rng = np.random.default_rng(s)
        X = rng.standard_normal((m, 3))
        perm = rng.permutation(m)
        res = ot_score(Trajectory([X, X[perm] + 1e-6 * rng.standard_normal((m, 3))]))
        matched.append(res.score * m)
        assert res.score == pytest.approx(np.sum(perm == np.arange(m)) / m)
        assert res.cost_ratio > 1e3
    assert abs(np.mean(matched) - 1.0) < 5 / math.sqrt(seeds)


def test_subsample_is_the_same_rows(rng: np.random.Generator) -> None:
    X = rng.standard_normal((500, 3))
    Y = np.tanh(X @ rng.standard_normal((3, 3)))
    traj = Trajectory([X, Y])
    res = ot_score(traj, m=60, seed=7)
    sub = traj.subsample(60, seed=7)
    score, ratio = ot_score(Trajectory([sub.states[0], sub.states[1]])).score, None
    assert res.score == score and ratio is None
    assert res.m == 60 and res.seed == 7
    assert ot_score(traj, m=60, seed=8).m == 60


def test_duplicates_ties_do_not_change_the_score() -> None:
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [3.0, 1.0]])
    Y = X + np.array([0.5, 0.0])  # a translation: the own pairing is optimal
    res = ot_score(Trajectory([X, Y]))
    assert res.score == 1.0 and res.cost_ratio == 1.0
    # a solver that swaps the two identical inputs still pairs each with an identical image
    assert count_fixed_points(X, Y, np.array([1, 0, 2, 3])) == 4
    assert count_fixed_points(X, Y, np.array([0, 1, 3, 2])) == 2
    # identical images of different inputs
    Y2 = np.array([[5.0, 5.0], [5.0, 5.0], [6.0, 5.0], [9.0, 9.0]])
    X2 = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
    assert count_fixed_points(X2, Y2, np.array([1, 0, 2, 3])) == 4


def test_identity_map_has_ratio_one_and_permuted_copy_infinite(rng: np.random.Generator) -> None:
    X = rng.standard_normal((10, 2))
    res = ot_score(Trajectory([X, X.copy()]))
    assert res.score == 1.0 and res.cost_ratio == 1.0 and res.optimal_cost == 0.0
    res = ot_score(Trajectory([X, X[::-1].copy()]))
    assert res.score == 0.0 and math.isinf(res.cost_ratio)


def test_m_validation(rng: np.random.Generator) -> None:
    traj = Trajectory([rng.standard_normal((30, 2)), rng.standard_normal((30, 2))])
    assert ot_score(traj).m == 30  # default min(N, 1000)
    assert ot_score(traj, m=None).m == 30
    # m is an upper bound (SPEC §7 writes ot_score(traj, m=1000) for any N): m=31 uses all 30
    full = ot_score(traj, m=31)
    assert full.m == 30 and full == ot_score(traj, m=30)
    with pytest.raises(ConfigError, match=r"m=1; an OT score needs at least 2 samples"):
        ot_score(traj, m=1)
    with pytest.raises(ConfigError, match=r"m=2.5; expected an int"):
        ot_score(traj, m=2.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"needs at least 2 samples; the trajectory has N=1"):
        ot_score(Trajectory([np.zeros((1, 2)), np.ones((1, 2))]))


def test_width_mismatch_names_runs(rng: np.random.Generator) -> None:
    traj = Trajectory([rng.standard_normal((8, 2)), rng.standard_normal((8, 4))])
    with pytest.raises(ConfigError, match=r"widths \[2, 4\].*gw_ot_score"):
        ot_score(traj)


def test_nan_states_are_refused_at_construction(rng: np.random.Generator) -> None:
    X = rng.standard_normal((8, 2))
    Y = X.copy()
    Y[3, 1] = np.nan
    with pytest.raises(ConfigError, match=r"state 1 \('layer1'\) has NaN values in 1 of 8 rows"):
        Trajectory([X, Y])
    Y[3, 1] = np.inf
    with pytest.raises(ConfigError, match=r"infinite values"):
        Trajectory([X, Y])
