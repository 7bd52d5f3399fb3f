"""Jacobian summaries against closed-form Jacobians; the training figure against the Uzawa rule
written out here; the overview against the single figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import layerflow as lf
from layerflow._errors import ConfigError


@pytest.fixture(scope="module")
def closed_form() -> tuple[object, np.ndarray]:
    """x ↦ diag(2, 3)·x ↦ tanh ↦ swap ↦ a 2→3 map; the Jacobians of the first three are known."""
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2), nn.Linear(2, 3))
    with torch.no_grad():
        model[0].weight.copy_(torch.diag(torch.tensor([2.0, 3.0])))
        model[2].weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
        for m in (model[0], model[2]):
            m.bias.zero_()
    X = np.random.default_rng(0).normal(size=(40, 2)) * 0.5
    return lf.maps.jacobian_diagnostics(model, X, layers=["0", "1", "2", "3"]), X


def _medians(ax: object) -> np.ndarray:
    return np.array([ln.get_ydata()[0] for ln in ax.lines  # type: ignore[attr-defined]
                     if ln.get_gid() == "median"])


def test_jacobian_fraction_bars(closed_form: tuple[object, np.ndarray]) -> None:
    diag, _ = closed_form
    ax = lf.plot.jacobian(diag)  # type: ignore[arg-type]
    diffeo, orient = ax.containers
    # diag(2,3) and tanh keep orientation everywhere; the swap has det J = -1 everywhere
    np.testing.assert_array_equal([b.get_height() for b in diffeo], [1.0, 1.0, 0.0])
    np.testing.assert_array_equal([b.get_height() for b in orient], [1.0, 1.0, 0.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    assert "(not square, left out: 3)" in ax.get_title()
    assert "at every layer: 0% of samples" in ax.get_title()


def test_jacobian_logabsdet_and_condition_boxes(closed_form: tuple[object, np.ndarray]) -> None:
    diag, X = closed_form
    z = X * [2.0, 3.0]
    dtanh = 1.0 - np.tanh(z) ** 2  # the tanh layer's Jacobian is diag(1 - tanh²(z))
    ax = lf.plot.jacobian(diag, quantity="logabsdet")  # type: ignore[arg-type]
    want = [np.log(6.0), np.median(np.log(dtanh).sum(axis=1)), 0.0]
    np.testing.assert_allclose(_medians(ax), want, rtol=1e-9, atol=1e-12)
    ax = lf.plot.jacobian(diag, quantity="condition")  # type: ignore[arg-type]
    cond = dtanh.max(axis=1) / dtanh.min(axis=1)
    np.testing.assert_allclose(_medians(ax), [1.5, np.median(cond), 1.0], rtol=1e-9)
    assert ax.get_yscale() == "log"
    assert ax.get_legend() is None  # cond_max = 1e8 is far above every value: no line


def test_jacobian_refuses_bad_input(closed_form: tuple[object, np.ndarray]) -> None:
    diag, X = closed_form
    with pytest.raises(ConfigError, match=r"quantity='det': expected one of \['fraction'"):
        lf.plot.jacobian(diag, quantity="det")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs JacobianDiagnostics; got dict"):
        lf.plot.jacobian({})
    wide = lf.maps.jacobian_diagnostics(nn.Sequential(nn.Linear(2, 3)), X)
    with pytest.raises(ConfigError, match=r"no layer has equal input and output widths.*\['0'\]"):
        lf.plot.jacobian(wide)


@pytest.fixture(scope="module")
def uzawa_run() -> lf.TrainResult:
    ds = lf.load_dataset("moons", n=200, noise=0.1, seed=0)
    model = lf.build_model(lf.ModelSpec("resnet", width=6, depth=3), in_dim=2, n_classes=2, seed=0)
    cfg = lf.TrainConfig(optimizer="adam", lr=0.01, epochs=3, batch_size=32, seed=0, uzawa=True,
                         uzawa_tau=0.5, device="cpu")
    return lf.train(model, ds, cfg)


def test_training_draws_the_cost_and_the_uzawa_weight(uzawa_run: lf.TrainResult) -> None:
    ax, twin = lf.plot.training(uzawa_run)
    T = len(uzawa_run.transport_cost_history)
    assert T == uzawa_run.steps > 0
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(1, T + 1))
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), uzawa_run.transport_cost_history)
    # Uzawa as LAP's code runs it: λ = 1/λ_L, λ_L starts at 1 and grows by τ·CE of a step
    # before that step's loss is formed (every=1)
    ce = np.asarray(uzawa_run.ce_history)
    lam = 1.0 / (1.0 + 0.5 * np.cumsum(ce))
    np.testing.assert_allclose(twin.lines[0].get_ydata(), lam, rtol=1e-5)
    assert ax.get_yscale() == "log"
    assert "Uzawa" in ax.get_title()


def test_training_refuses_results_without_a_cost() -> None:
    ds = lf.load_dataset("moons", n=100, noise=0.1, seed=0)
    model = lf.build_model(lf.ModelSpec("mlp", width=4, depth=2), in_dim=2, n_classes=2, seed=0)
    res = lf.train(model, ds, lf.TrainConfig(epochs=1, device="cpu"))
    with pytest.raises(ConfigError, match="recorded no transport cost"):
        lf.plot.training(res)
    with pytest.raises(ConfigError, match="needs a TrainResult; got str"):
        lf.plot.training("run")


def test_overview_panels_are_the_single_figures(uzawa_run: lf.TrainResult) -> None:
    ds = lf.load_dataset("moons", n=200, noise=0.1, seed=0)
    traj = lf.capture(uzawa_run.model, ds.X_test, labels=ds.y_test)
    path = lf.transport.wasserstein_path(traj)
    rc = lf.ricci.ricci_coefficient(traj, k=10)
    fig = lf.plot.overview(traj, ricci=rc, fig=Figure(figsize=(12, 7)))
    tracks, first, last, lss, w2, ricci = fig.axes[:6]
    np.testing.assert_array_equal(w2.lines[0].get_ydata(), path.steps)
    assert ricci.texts[0].get_text() == f"ρ = {rc.coefficient:.3f}"
    assert first.get_title().startswith("input") and last.get_title().startswith("blocks.2")
    assert len(tracks.collections[0].get_segments()) == 50  # all 50 test points
    res = lf.transport.line_shape_score(traj)
    np.testing.assert_allclose(lss.lines[0].get_xdata()[0], res.mean)
    with pytest.raises(ConfigError, match="needs a layerflow Trajectory; got TrainResult"):
        lf.plot.overview(uzawa_run)  # type: ignore[arg-type]
