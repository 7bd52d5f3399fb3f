"""Exact assignment: both solvers reach scipy's optimum; POT non-convergence is never returned."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from layerflow._errors import BudgetError, ConfigError, NotComputableError
from layerflow.transport._assignment import exact_assignment, sq_distances


def _reference(X: np.ndarray, Y: np.ndarray) -> float:
    C = cdist(X, Y, "sqeuclidean")
    r, c = linear_sum_assignment(C)
    return float(C[r, c].mean())


@pytest.mark.parametrize("solver", ["auto", "scipy", "pot"])
@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_solvers_reach_the_optimum(rng: np.random.Generator, solver: str, scale: float) -> None:
    X = rng.standard_normal((150, 5)) + 10.0
    Y = X + scale * rng.standard_normal((150, 5))
    a = exact_assignment(X, Y, solver=solver)
    assert np.array_equal(np.sort(a.perm), np.arange(150))
    np.testing.assert_allclose(a.cost, _reference(X, Y), rtol=1e-12)
    np.testing.assert_allclose(a.own_cost, np.mean(np.sum((X - Y) ** 2, axis=1)), rtol=1e-12)


def test_sq_distances_centring_keeps_the_assignment(rng: np.random.Generator) -> None:
    X = rng.standard_normal((30, 3)) + 1e4
    Y = rng.standard_normal((30, 3)) - 1e4
    C, D = sq_distances(X, Y), cdist(X, Y, "sqeuclidean")
    # differs from the true costs only by row + column terms
    resid = (C - D) - (C - D).mean(1, keepdims=True) - (C - D).mean(0, keepdims=True) + (C - D).mean()
    np.testing.assert_allclose(resid, 0.0, atol=1e-6)


def test_pot_retries_with_a_larger_cap(rng: np.random.Generator) -> None:
    X, Y = rng.standard_normal((120, 3)), rng.standard_normal((120, 3))
    a = exact_assignment(X, Y, solver="pot", max_iter=300)  # too small at first; ×10, ×100 retried
    np.testing.assert_allclose(a.cost, _reference(X, Y), rtol=1e-12)


def test_pot_never_returns_an_unconverged_plan(rng: np.random.Generator) -> None:
    X, Y = rng.standard_normal((120, 3)), rng.standard_normal((120, 3))
    with pytest.raises(NotComputableError, match=r"did not reach the optimum.*cap 1: result code 3"):
        exact_assignment(X, Y, solver="pot", max_iter=1)


def test_errors(rng: np.random.Generator) -> None:
    X = rng.standard_normal((5, 2))
    with pytest.raises(ConfigError, match=r"unknown solver 'lapjv'"):
        exact_assignment(X, X, solver="lapjv")
    with pytest.raises(ConfigError, match=r"X has shape \(5, 2\) and Y has shape \(4, 2\)"):
        exact_assignment(X, X[:4])
    with pytest.raises(ConfigError, match=r"overflow float64 \(states reach \|x\| = [0-9.]+e\+200\)"):
        exact_assignment(X * 1e200, -X * 1e200)
    # 3 matrices of 5×5 float64 = 600 bytes; 100 bytes hold 3·2²·8 = 96: at most 2 samples
    with pytest.raises(BudgetError, match=r"N=5 samples needs about 600 bytes for 3 5×5 "
                       r"float64 matrices but the budget is 100 bytes \(max_bytes\); .*at most 2 "
                       r"samples fit, e.g. traj\.subsample\(2, seed=0\)"):
        exact_assignment(X, X, max_bytes=100)
    with pytest.raises(BudgetError, match=r"not even 2 samples fit.*larger max_bytes"):
        exact_assignment(X, X, max_bytes=95)
    one = exact_assignment(X[:1], X[:1] + 1)
    assert one.perm.tolist() == [0] and one.cost == pytest.approx(2.0)
