"""The flat summary agrees with the individual metrics and feeds `layerflow analyze`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from layerflow import Trajectory
from layerflow._analyze import analyze
from layerflow._errors import ConfigError
from layerflow.transport import (
    SUMMARY_KEYS,
    kinetic_energy,
    line_shape_score,
    ot_score,
    path_length,
    summary,
    summary_with_results,
    turning_angles,
    wasserstein_path,
)


def _traj(rng: np.random.Generator, n: int = 80) -> Trajectory:
    states = [rng.standard_normal((n, 4))]
    for _ in range(5):
        states.append(states[-1] + 0.4 * np.tanh(states[-1] @ rng.standard_normal((4, 4))))
    return Trajectory([rng.standard_normal((n, 2)), *states, rng.standard_normal((n, 1))])


@pytest.mark.parametrize("m", [80, 30])
def test_summary_matches_individual_metrics(rng: np.random.Generator, m: int) -> None:
    traj = _traj(rng)
    s = summary(traj, m=m, seed=4)
    assert tuple(s) == SUMMARY_KEYS
    lss, ots, w2 = line_shape_score(traj), ot_score(traj, m=m, seed=4), wasserstein_path(traj)
    assert s["lss_mean"] == pytest.approx(lss.mean, rel=1e-12)
    assert s["lss_median"] == pytest.approx(lss.median, rel=1e-12)
    assert s["lss_nan"] == lss.n_nan and s["lss_skipped_steps"] == lss.skipped_steps
    assert s["ots"] == ots.score and s["ot_m"] == m
    assert s["ot_cost_ratio"] == pytest.approx(ots.cost_ratio, rel=1e-12)
    assert s["w2_geodesic_ratio"] == pytest.approx(w2.geodesic_ratio, rel=1e-12)
    assert s["w2_speed_cv"] == pytest.approx(w2.speed_cv, rel=1e-12)
    assert s["kinetic_energy"] == pytest.approx(kinetic_energy(traj), rel=1e-12)
    assert s["path_length"] == pytest.approx(path_length(traj), rel=1e-12)
    assert s["turning_angle_mean"] == pytest.approx(turning_angles(traj).mean, rel=1e-12)
    assert s["run"] == "1..6 (layer1..layer6)"
    json.dumps(s)  # flat and JSON-friendly


@pytest.mark.parametrize("m", [80, 30])
def test_summary_with_results_returns_the_objects_behind_the_dict(
    rng: np.random.Generator, m: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    traj = _traj(rng)
    import layerflow.transport._w2path as w2mod

    calls = []
    real = w2mod.exact_assignment
    monkeypatch.setattr(w2mod, "exact_assignment",
                        lambda *a, **kw: calls.append(1) or real(*a, **kw))
    res = summary_with_results(traj, m=m, seed=4)
    assert len(calls) == 6  # 5 steps of the run and the end-to-end problem, each solved once
    monkeypatch.undo()
    assert res.values == summary(traj, m=m, seed=4)
    w2, ots = wasserstein_path(traj), ot_score(traj, m=m, seed=4)
    np.testing.assert_allclose(res.path.steps, w2.steps, rtol=1e-12)
    assert res.path.run == w2.run == (1, 6)
    assert res.ots.score == ots.score and res.ots.m == ots.m == m
    np.testing.assert_allclose(res.lss, line_shape_score(traj).per_sample, rtol=1e-12)
    assert res.angles.mean == pytest.approx(turning_angles(traj).mean, rel=1e-12)


def test_summary_clamps_m_and_analyze_uses_it(rng: np.random.Generator) -> None:
    traj = _traj(rng, n=40)
    assert summary(traj)["ot_m"] == 40  # default m=1000 clamped to N
    out = analyze(traj, sections=["transport"], m=1000, seed=0)
    assert out["transport"]["ot_m"] == 40
    assert math.isfinite(float(out["transport"]["lss_mean"]))


def test_analyze_reports_a_capture_without_equal_widths_and_summary_refuses_it(
    rng: np.random.Generator,
) -> None:
    traj = Trajectory([rng.standard_normal((10, 2)), rng.standard_normal((10, 3))])
    out = analyze(traj, sections=["transport"])["transport"]
    assert "error" not in out and math.isnan(float(out["lss_mean"]))
    assert "no two consecutive states have equal width" in out["transport_note"]
    assert "left out: input -> layer1 (widths 2 -> 3 differ)" in out["transport_note"]
    with pytest.raises(ConfigError, match=r"no two consecutive states have equal width.*"
                       r"gw_ot_score.*stage_transport"):
        summary(traj)
