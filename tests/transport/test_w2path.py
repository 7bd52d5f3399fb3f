"""W2 path against a direct scipy computation and the displacement interpolation (a geodesic)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from layerflow import Trajectory
from layerflow._errors import BudgetError, ConfigError
from layerflow.transport import wasserstein_path


def _w2(X: np.ndarray, Y: np.ndarray) -> float:
    C = cdist(X, Y, "sqeuclidean")
    r, c = linear_sum_assignment(C)
    return math.sqrt(C[r, c].mean())


@pytest.mark.parametrize("solver", ["auto", "pot"])
def test_steps_equal_direct_scipy(rng: np.random.Generator, solver: str) -> None:
    states = [rng.standard_normal((120, 4))]
    for _ in range(4):
        W = rng.standard_normal((4, 4))
        states.append(states[-1] + np.tanh(states[-1] @ W))
    traj = Trajectory([rng.standard_normal((120, 9)), *states])
    res = wasserstein_path(traj, solver=solver)
    assert res.run == (1, 5)
    expected = [_w2(a, b) for a, b in itertools.pairwise(states)]
    np.testing.assert_allclose(res.steps, expected, rtol=1e-10)
    np.testing.assert_allclose(res.end_to_end, _w2(states[0], states[-1]), rtol=1e-10)
    np.testing.assert_allclose(res.geodesic_ratio, sum(expected) / _w2(states[0], states[-1]),
                               rtol=1e-10)
    assert res.geodesic_ratio >= 1.0
    np.testing.assert_allclose(res.speed_cv, np.std(expected) / np.mean(expected), rtol=1e-9)


def _interpolation(rng: np.random.Generator, times: np.ndarray) -> Trajectory:
    X = rng.standard_normal((150, 3))
    Y = rng.standard_normal((150, 3)) * [2.0, 0.5, 1.0] + [3.0, 0.0, -1.0]
    _, T = linear_sum_assignment(cdist(X, Y, "sqeuclidean"))
    return Trajectory([(1 - t) * X + t * Y[T] for t in times])


def test_displacement_interpolation_is_a_constant_speed_geodesic(rng: np.random.Generator) -> None:
    res = wasserstein_path(_interpolation(rng, np.linspace(0, 1, 7)))
    np.testing.assert_allclose(res.geodesic_ratio, 1.0, rtol=1e-9)
    np.testing.assert_allclose(res.speed_cv, 0.0, atol=1e-9)
    np.testing.assert_allclose(res.steps, res.end_to_end / 6, rtol=1e-9)
    assert res.note == ""


def test_uneven_times_give_the_closed_form_speed_cv(rng: np.random.Generator) -> None:
    times = np.array([0.0, 0.1, 0.15, 0.5, 0.9, 1.0])
    res = wasserstein_path(_interpolation(rng, times))
    dt = np.diff(times)  # W2(μ_s, μ_t) = |t − s| W2(μ_0, μ_1) along the geodesic
    np.testing.assert_allclose(res.geodesic_ratio, 1.0, rtol=1e-9)
    np.testing.assert_allclose(res.speed_cv, dt.std() / dt.mean(), rtol=1e-8)


def test_closed_loop_and_standing_still_are_nan_with_a_note(rng: np.random.Generator) -> None:
    X = rng.standard_normal((20, 2))
    res = wasserstein_path(Trajectory([X, X + 1.0, X.copy()]))
    assert math.isnan(res.geodesic_ratio) and "endpoints coincide" in res.note
    np.testing.assert_allclose(res.steps, math.sqrt(2.0), rtol=1e-12)
    assert res.speed_cv == pytest.approx(0.0, abs=1e-12)
    res = wasserstein_path(Trajectory([X, X.copy(), X.copy()]))
    assert math.isnan(res.geodesic_ratio) and math.isnan(res.speed_cv)
    assert "no transport" in res.note


def test_single_step_is_its_own_geodesic(rng: np.random.Generator) -> None:
    X = rng.standard_normal((30, 2))
    res = wasserstein_path(Trajectory([X, np.sin(X)]))
    assert res.geodesic_ratio == 1.0 and res.speed_cv == 0.0
    assert res.steps.shape == (1,)


def test_memory_budget_and_width_errors(rng: np.random.Generator) -> None:
    X = rng.standard_normal((50, 2))
    with pytest.raises(BudgetError, match=r"wasserstein_path on N=50 samples"):
        wasserstein_path(Trajectory([X, X + 1]), max_bytes=1000)
    with pytest.raises(ConfigError, match=r"no two consecutive states have equal width"):
        wasserstein_path(Trajectory([X, np.ones((50, 3))]))
