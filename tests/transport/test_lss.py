"""Line-shape score against closed forms, a plain per-sample loop and its ≥ 1 bound."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import ortho_group

from layerflow import Trajectory
from layerflow._errors import ConfigError
from layerflow.transport import line_shape_score


def _loop_lss(states: list[np.ndarray]) -> np.ndarray:
    """Straightforward reference: walk unit steps sample by sample."""
    n_samples = states[0].shape[0]
    out = np.empty(n_samples)
    for i in range(n_samples):
        walk = states[0][i].astype(float).copy()
        start = walk.copy()
        k = 0
        for a, b in itertools.pairwise(states):
            s = b[i] - a[i]
            norm = math.sqrt(float(np.sum(s * s)))
            if norm > 0:
                walk += s / norm
                k += 1
        out[i] = math.nan if k == 0 else k / math.sqrt(float(np.sum((walk - start) ** 2)))
    return out


def test_straight_tracks_have_lss_one(rng: np.random.Generator) -> None:
    n, d, steps = 40, 6, 7
    x0 = rng.standard_normal((n, d))
    v = rng.standard_normal((n, d))
    t = np.cumsum(rng.uniform(0.1, 3.0, size=steps + 1))  # varying speeds, same direction
    traj = Trajectory([x0 + tl * v for tl in t])
    res = line_shape_score(traj)
    np.testing.assert_allclose(res.per_sample, 1.0, rtol=1e-12)
    assert res.mean == pytest.approx(1.0, rel=1e-12)
    assert res.skipped_steps == 0 and res.n_nan == 0 and res.run == (0, steps)


@pytest.mark.parametrize("n_steps", [4, 5, 10, 11])
def test_zigzag_closed_form(rng: np.random.Generator, n_steps: int) -> None:
    # steps alternate ±45° around e1, with random lengths; embedded in 7-D by a rotation.
    signs = np.array([1.0 if k % 2 == 0 else -1.0 for k in range(n_steps)])
    lengths = rng.uniform(0.2, 2.0, size=(3, n_steps))
    dirs = np.stack([np.ones(n_steps), signs], axis=1) / math.sqrt(2)  # unit steps (n, 2)
    steps = lengths[..., None] * dirs[None]  # (3 samples, n, 2)
    pts = np.concatenate([np.zeros((3, 1, 2)), np.cumsum(steps, axis=1)], axis=1)
    pts = np.concatenate([pts, np.zeros((3, n_steps + 1, 5))], axis=2)
    pts = pts @ ortho_group.rvs(7, random_state=1).T + 3.0
    traj = Trajectory([pts[:, k] for k in range(n_steps + 1)])
    # by hand: sum of unit steps = (n/√2, (#plus − #minus)/√2)
    plus_minus = n_steps % 2
    expected = n_steps / math.sqrt(n_steps**2 / 2 + plus_minus**2 / 2)
    np.testing.assert_allclose(line_shape_score(traj).per_sample, expected, rtol=1e-12)
    if n_steps % 2 == 0:
        assert expected == pytest.approx(math.sqrt(2))


def test_matches_plain_loop_and_skips_zero_steps(rng: np.random.Generator) -> None:
    states = [rng.standard_normal((25, 4)) for _ in range(6)]
    states.insert(3, states[2].copy())  # a layer that does nothing: every track has a zero step
    states[4][0] = states[3][0]  # sample 0 gets a second zero step
    traj = Trajectory(states)
    res = line_shape_score(traj)
    np.testing.assert_allclose(res.per_sample, _loop_lss(states), rtol=1e-12)
    assert res.skipped_steps == 25 + 1
    assert res.median == pytest.approx(float(np.median(_loop_lss(states))), rel=1e-12)


def test_vanishing_and_returning_tracks(rng: np.random.Generator) -> None:
    x = rng.standard_normal((5, 3))
    y = x.copy()
    y[1:] += 1.0  # sample 0 never moves
    z = y.copy()
    z[2] = x[2]  # sample 2 goes out and straight back: unit steps cancel
    res = line_shape_score(Trajectory([x, y, z]))
    assert math.isnan(res.per_sample[0]) and res.n_nan == 1
    assert math.isinf(res.per_sample[2]) and res.n_inf == 1
    # zero steps by hand: sample 0 both steps; samples 1, 3, 4 have z == y (second step)
    assert res.skipped_steps == 2 + 3
    np.testing.assert_allclose(res.per_sample[[1, 3, 4]], 1.0, rtol=1e-12)


def test_all_tracks_vanish_gives_nan_summary() -> None:
    x = np.ones((4, 2))
    res = line_shape_score(Trajectory([x, x, x]))
    assert res.n_nan == 4 and math.isnan(res.mean) and math.isnan(res.median)


def test_atol_skips_small_steps(rng: np.random.Generator) -> None:
    x = rng.standard_normal((6, 3))
    y = x + 1e-9 * rng.standard_normal((6, 3))
    z = y + np.array([1.0, 0.0, 0.0])
    res = line_shape_score(Trajectory([x, y, z]), atol=1e-6)
    np.testing.assert_allclose(res.per_sample, 1.0, rtol=1e-12)
    assert res.skipped_steps == 6
    with pytest.raises(ConfigError, match=r"atol=-1"):
        line_shape_score(Trajectory([x, y, z]), atol=-1)


def test_tiny_steps_do_not_underflow() -> None:
    x = np.zeros((1, 2))
    states = [x, x + np.array([[1e-300, 0]]), x + np.array([[1e-300, 1e-300]])]
    # unit steps (1, 0) then (0, 1): LSS = 2 / √2 (naive squaring would underflow to 0)
    np.testing.assert_allclose(line_shape_score(Trajectory(states)).per_sample, math.sqrt(2),
                               rtol=1e-12)


def test_named_run_and_width_error(rng: np.random.Generator) -> None:
    states = [rng.standard_normal((10, 2)), rng.standard_normal((10, 5)),
              rng.standard_normal((10, 5)), rng.standard_normal((10, 5)), rng.standard_normal((10, 3)),
              rng.standard_normal((10, 3))]
    traj = Trajectory(states)
    assert line_shape_score(traj).run == (1, 3)
    assert line_shape_score(traj, run=(4, 5)).run == (4, 5)
    with pytest.raises(ConfigError, match=r"run=\(0, 2\) spans widths \[2, 5, 5\].*1\.\.3.*4\.\.5"):
        line_shape_score(traj, run=(0, 2))
    with pytest.raises(ConfigError, match=r"no two consecutive states have equal width.*gw_ot_score"):
        line_shape_score(Trajectory([states[0], states[1], states[4]]))


def test_rejects_non_trajectory() -> None:
    with pytest.raises(TypeError, match=r"expects a layerflow.Trajectory, got ndarray"):
        line_shape_score(np.zeros((3, 4, 2)))  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(2, 6), st.integers(1, 5), st.integers(1, 4)),
        elements=st.floats(-100, 100, allow_nan=False, allow_subnormal=False),
    )
)
def test_lss_at_least_one(stacked: np.ndarray) -> None:
    res = line_shape_score(Trajectory(list(stacked)))
    ok = res.per_sample[~np.isnan(res.per_sample)]
    assert np.all(ok >= 1.0 - 1e-12)
    n_zero_tracks = int(np.sum(np.all(np.diff(stacked, axis=0) == 0, axis=(0, 2))))
    assert res.n_nan == n_zero_tracks
