"""stage_transport: every transition measured or listed as left out, with the reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.transport import STAGE_METRICS, stage_transport


def _traj() -> lf.Trajectory:
    """widths 2, 3, 3, 3, 5: one run of equal widths (a .. c) between two changes of width."""
    rng = np.random.default_rng(0)
    n = 12
    X0 = rng.normal(size=(n, 2))
    A = X0 @ rng.normal(size=(2, 3))
    B = A + 0.1 * rng.normal(size=(n, 3))
    C = B + 0.1 * rng.normal(size=(n, 3))
    D = np.hstack([C, C[:, :2] ** 2])
    return lf.Trajectory([X0, A, B, C, D], layer_names=["input", "a", "b", "c", "d"])


def test_every_transition_is_used_or_left_out_with_a_reason() -> None:
    traj = _traj()
    res = stage_transport(traj, m=12, seed=0)
    labels = [t.label for t in res.transitions]
    assert labels == ["input -> a", "a -> b", "b -> c", "c -> d"]
    assert [t.space for t in res.transitions] == ["different", "same", "same", "different"]
    assert [mu.name for mu in res.metrics] == list(STAGE_METRICS)
    for mu in res.metrics:  # a partition of the transitions, nothing silent
        assert sorted([*mu.used, *(lab for lab, _ in mu.left_out)]) == sorted(labels), mu.name
    ke = res["kinetic_energy"]
    assert ke.used == ("a -> b", "b -> c")
    S = [np.asarray(s, dtype=np.float64) for s in traj.states]
    expected = [float(np.mean(np.sum((S[i + 1] - S[i]) ** 2, axis=1))) for i in (1, 2)]
    np.testing.assert_allclose([v for _, v in ke.parts], expected, rtol=1e-12)
    np.testing.assert_allclose(ke.total, sum(expected), rtol=1e-12)
    np.testing.assert_allclose(ke.total, lf.transport.kinetic_energy(traj, run=(1, 3)))
    assert dict(ke.left_out)["input -> a"].startswith("widths 2 -> 3 differ and no projection")
    lss = res["lss"]
    assert lss.parts[0][0] == "a .. c"
    np.testing.assert_allclose(lss.parts[0][1], lf.transport.line_shape_score(traj).mean)
    assert math.isnan(lss.total)
    ots = res["ots"]
    assert ots.parts[0][1] == lf.transport.ot_score(traj, m=12, seed=0).score
    gw = res["gw_ots"]
    assert gw.used == ("input -> a", "c -> d")
    assert dict(gw.left_out)["a -> b"] == "equal widths: the plain OT score applies (ots)"
    # input -> a is linear, generic: the GW coupling finds every sample's own image
    assert gw.parts[0][1] == pytest.approx(
        lf.transport.gw_ot_score(traj, m=12, source=0, target=1).score)
    w2 = res["w2_step"]
    assert all(v >= 0 for _, v in w2.parts)


def test_a_named_projection_makes_a_transition_a_step() -> None:
    traj = _traj()
    P = np.zeros((3, 5))
    P[[0, 1, 2], [0, 1, 2]] = 1.0  # the 3-wide state as the first three coordinates of d
    res = stage_transport(traj, m=12, projections={"d": P})
    assert res.projected == ("c -> d",)
    ke = res["kinetic_energy"]
    assert ke.used == ("a -> b", "b -> c", "c -> d")
    C, D = np.asarray(traj.states[3], float), np.asarray(traj.states[4], float)
    np.testing.assert_allclose(dict(ke.parts)["c -> d"],
                               float(np.mean(np.sum((D - C @ P) ** 2, axis=1))), rtol=1e-12)
    same = stage_transport(traj, m=12, projections={"d": lambda X: X @ P})
    assert same["kinetic_energy"].parts == ke.parts


def test_stage_capture_of_different_widths_is_measured_by_gw_only() -> None:
    rng = np.random.default_rng(1)
    states = [rng.normal(size=(10, w)) for w in (3, 4, 6, 8)]
    res = stage_transport(lf.Trajectory(states), m=10)
    assert res["gw_ots"].used == tuple(t.label for t in res.transitions)
    for key in ("kinetic_energy", "path_length", "w2_step", "lss", "ots"):
        assert res[key].used == () and len(res[key].left_out) == 3
    assert math.isnan(res["kinetic_energy"].total)
    with pytest.raises(KeyError, match="no metric 'x'"):
        res["x"]


def test_bad_projections_are_refused_naming_the_problem() -> None:
    traj = _traj()
    with pytest.raises(ConfigError, match=r"projections names 'input', which is not a state "
                       r"after the first"):
        stage_transport(traj, projections={"input": np.eye(2)})
    with pytest.raises(ConfigError, match=r"projections\['d'\] is a str"):
        stage_transport(traj, projections={"d": "pad"})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match=r"projections is a list"):
        stage_transport(traj, projections=[np.eye(3)])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"the projection of c -> d maps shape \(12, 3\) to "
                       r"\(12, 4\); expected \(12, 5\)"):
        stage_transport(traj, projections={"d": np.zeros((3, 4))})


def test_the_equal_width_metrics_point_to_stage_transport() -> None:
    rng = np.random.default_rng(2)
    traj = lf.Trajectory([rng.normal(size=(6, w)) for w in (2, 3, 4)])
    with pytest.raises(ConfigError, match="stage_transport"):
        lf.transport.line_shape_score(traj)
