"""The worked examples of docs/api/views.md hold: a metric added to a view's measurement and
columns, and a curvature kind added to the registry, reach analyze, a sweep's rows and the
report with no other change. The examples are patched in for the test (never kept)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import layerflow as lf
from layerflow._analyze import analyze
from layerflow._errors import ConfigError
from layerflow.report._view_tables import view_tables
from layerflow.stats._tables import prepare_runs
from layerflow.views import Column, get_view, metric_names


def _traj() -> lf.Trajectory:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    states = [X + s * np.tanh(X @ rng.normal(size=(3, 3))) for s in (0.0, 0.2, 0.5, 0.9)]
    return lf.Trajectory(states, labels=(X[:, 0] > 0).astype(int))


def _measure_with_max_step(traj: Any, **options: Any) -> Any:
    """measure_transport plus one line."""
    from layerflow.transport import _view as transport_view

    res = transport_view.VIEW.measure_fn(traj, **options)
    steps = res.results["path"].steps
    return replace(res, scalars={**res.scalars, "w2_max_step": float(np.max(steps))})


def _transport_with_max_step() -> Any:
    from layerflow.transport import _view as transport_view

    base = transport_view.VIEW
    column = Column("w2_max_step", "largest W2 step", "max_l W2(μ_l, μ_l+1)", low=0.0)
    return replace(base, columns=(*base.columns, column), measure_fn=_measure_with_max_step)


# the transport view with one metric more, declared here and named in the registry below
TRANSPORT_WITH_MAX_STEP = _transport_with_max_step()


def test_a_metric_added_to_a_view_reaches_analyze_the_sweep_row_and_the_report(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from layerflow.views import VIEWS

    monkeypatch.setitem(VIEWS, "transport", f"{__name__}:TRANSPORT_WITH_MAX_STEP")
    traj = _traj()
    got = analyze(traj, ["transport"])["transport"]["w2_max_step"]
    np.testing.assert_allclose(got, np.max(lf.transport.wasserstein_path(traj).steps))
    # a failed run's row has it as NaN; the statistics count it as a metric
    assert np.isnan(get_view("transport").nan_scalars({})["w2_max_step"])
    assert metric_names(["run_id", "w2_max_step"]) == ["w2_max_step"]
    # the report's table of the view's metrics shows it, with its label and mean
    runs = pd.DataFrame({"run_id": ["a", "b", "c"], "dataset": "moons", "model_kind": "resnet",
                         "status": "ok", "w2_max_step": [0.5, 0.7, 0.9]})
    _, table = view_tables(prepare_runs(runs))["transport"]
    (row,) = table[table["metric"] == "w2_max_step"].itertuples()
    assert row.label == "largest W2 step" and row.n == 3
    np.testing.assert_allclose(row.mean, 0.7)


def test_a_curvature_kind_added_to_the_registry_reaches_the_view(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from layerflow.ricci import _curvature as curvature

    def halved(A: Any, degree: str, **_: Any) -> np.ndarray:
        return curvature.CURVATURES["forman"](A, degree) / 2

    traj = _traj()
    with pytest.raises(ConfigError, match="curvature: 'halved' is not allowed"):
        get_view("ricci").resolve({"curvature": "halved"})
    monkeypatch.setitem(curvature.CURVATURES, "halved", halved)
    assert get_view("ricci").resolve({"curvature": "halved"})["curvature"] == "halved"
    new = lf.ricci.ricci_coefficient(traj, k=8, curvature="halved")
    forman = lf.ricci.ricci_coefficient(traj, k=8)
    np.testing.assert_allclose(new.scalar_curvature, forman.scalar_curvature / 2)
    # ρ is a correlation: unchanged when one of its variables is scaled by 1/2
    np.testing.assert_allclose(new.coefficient, forman.coefficient, rtol=1e-12)
    row = analyze(traj, ["ricci"], k=8, curvature="halved")["ricci"]
    assert row["ricci_curvature"] == "halved"
    np.testing.assert_allclose(row["ricci_rho"], forman.coefficient, rtol=1e-12)
