"""Property tests (hypothesis) for the transport entry points: bounds, ties, duplicates, tiny N."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from layerflow import Trajectory
from layerflow.transport import ot_score, summary, wasserstein_path

# small integer-valued coordinates: many exact duplicates and exact ties
_clouds = arrays(
    np.float64,
    st.tuples(st.integers(2, 4), st.integers(2, 12), st.integers(1, 3)),
    elements=st.integers(-3, 3).map(float),
)


def _opt(X: np.ndarray, Y: np.ndarray) -> float:
    C = cdist(X, Y, "sqeuclidean")
    r, c = linear_sum_assignment(C)
    return float(C[r, c].mean())


@settings(max_examples=100, deadline=None)
@given(_clouds)
def test_ot_score_properties(stacked: np.ndarray) -> None:
    res = ot_score(Trajectory(list(stacked)))
    assert 0.0 <= res.score <= 1.0
    assert res.cost_ratio >= 1.0
    np.testing.assert_allclose(res.optimal_cost, _opt(stacked[0], stacked[-1]), atol=1e-12)
    if res.cost_ratio == 1.0:  # the own pairing is optimal: every sample is matched
        assert res.score == 1.0
    if res.score == 1.0:
        assert math.isclose(res.cost_ratio, 1.0, rel_tol=1e-12)


@settings(max_examples=60, deadline=None)
@given(_clouds)
def test_w2_path_properties(stacked: np.ndarray) -> None:
    res = wasserstein_path(Trajectory(list(stacked)))
    expected = [math.sqrt(_opt(a, b)) for a, b in itertools.pairwise(stacked)]
    np.testing.assert_allclose(res.steps, expected, atol=1e-12)
    assert math.isnan(res.geodesic_ratio) or res.geodesic_ratio >= 1.0 - 1e-12
    s = summary(Trajectory(list(stacked)))
    assert s["ot_m"] == stacked.shape[1]


def test_single_sample_trajectory(rng: np.random.Generator) -> None:
    x = rng.standard_normal((1, 3))
    traj = Trajectory([x, x + 1.0, x + 3.0])
    res = wasserstein_path(traj)
    np.testing.assert_allclose(res.steps, [math.sqrt(3), 2 * math.sqrt(3)], rtol=1e-12)
    assert res.geodesic_ratio == 1.0
