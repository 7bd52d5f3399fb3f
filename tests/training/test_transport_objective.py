"""Least-action training (SPEC §4, Karkar et al. 2020): CE + λ·C with fixed or Uzawa λ."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layerflow._capture import capture
from layerflow.models import ModelSpec, ResidualMLP, build_model
from layerflow.training import TrainConfig, train

from ._data import moons

F64 = torch.float64
SPEC = ModelSpec("resnet", width=4, depth=3, activation="tanh")


def _cost_by_hand(model: ResidualMLP, X: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """C = Σ_k mean_i ‖r_k(x_k^(i))‖² ("sum"), or that over the width ("mean", the authors' mean
    over batch and coordinates), with x_{k+1} = x_k + h r_k(x_k), written out with matmuls."""
    x = X @ model.lift.weight.T + model.lift.bias
    total = torch.zeros((), dtype=X.dtype)
    for blk in model.blocks:
        r = torch.tanh(x @ blk.fc1.weight.T + blk.fc1.bias) @ blk.fc2.weight.T + blk.fc2.bias
        term = sum((r[i] * r[i]).sum() for i in range(len(r))) / len(r)
        total = total + (term / r.shape[1] if reduction == "mean" else term)
        x = x + model.h * r
    return total


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_objective_is_data_loss_plus_weight_times_cost(reduction: str) -> None:
    """One full-batch SGD step equals p - lr·∇(BCE + λ·C_hand)."""
    ds = moons(n=80)
    lam, lr = 0.7, 0.05
    cfg = TrainConfig(optimizer="sgd", lr=lr, epochs=1, batch_size=len(ds.y_train),
                      transport_weight=lam, device="cpu", transport_reduction=reduction)
    before = build_model(SPEC, 2, 2, seed=2, dtype=F64)
    res = train(build_model(SPEC, 2, 2, seed=2, dtype=F64), ds, cfg)
    X = torch.tensor(ds.X_train, dtype=F64)
    y = torch.tensor(ds.y_train, dtype=F64)
    bce = F.binary_cross_entropy_with_logits(before(X)[:, 0], y)
    cost = _cost_by_hand(before, X, reduction)
    names, params = zip(*before.named_parameters(), strict=True)
    grads = torch.autograd.grad(bce + lam * cost, params)
    for n, p0, g, p1 in zip(names, params, grads, res.model.parameters(), strict=True):
        np.testing.assert_allclose(p1.detach().numpy(), (p0 - lr * g).detach().numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=n)
    assert res.lambda_history == (lam,)
    np.testing.assert_allclose(res.transport_cost_history[0], cost.item(), rtol=1e-10)
    np.testing.assert_allclose(res.ce_history[0], bce.item(), rtol=1e-10)


def test_first_recorded_cost_is_that_of_the_first_minibatch() -> None:
    ds = moons(n=100)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=9, transport_weight=0.2, device="cpu")
    model = build_model(SPEC, 2, 2, seed=1, dtype=F64)
    first = torch.randperm(len(ds.y_train), generator=torch.Generator().manual_seed(9))[:16]
    expected = _cost_by_hand(model, torch.tensor(ds.X_train, dtype=F64)[first]).item()
    res = train(model, ds, cfg)
    np.testing.assert_allclose(res.transport_cost_history[0], expected, rtol=1e-10)
    assert len(res.transport_cost_history) == len(res.lambda_history) == res.steps
    assert set(res.lambda_history) == {0.2}


@pytest.mark.parametrize(("tau", "every"), [(1.0, 1), (0.5, 3)])
def test_uzawa_weight_follows_its_rule_step_by_step(tau: float, every: int) -> None:
    """λ = 1/λ_L; λ_L starts at 1; on steps every, 2·every, … (counted from 1) λ_L ← λ_L + τ·CE
    of that same step, before its loss is formed (LAP's main.py timing)."""
    ds = moons(n=100)
    cfg = TrainConfig(epochs=3, batch_size=16, uzawa=True, uzawa_tau=tau, uzawa_every=every,
                      device="cpu")
    res = train(build_model(SPEC, 2, 2, seed=0, dtype=F64), ds, cfg)
    assert res.status == "ok"
    assert len(res.lambda_history) == len(res.ce_history) == res.steps == 3 * 5
    lam_l = 1.0
    for it, (lam, ce) in enumerate(zip(res.lambda_history, res.ce_history, strict=True), 1):
        if it % every == 0:
            lam_l += tau * ce
        assert lam == pytest.approx(1.0 / lam_l, rel=1e-12), it
    assert res.lambda_history[-1] < res.lambda_history[0] <= 1.0
    assert (res.lambda_history[0] == 1.0) == (every > 1)


def _kinetic_energy(traj: object) -> float:
    """Σ_l mean_i ‖x_{l+1} - x_l‖² over the residual stream (states after the input)."""
    S = traj.states[1:]  # type: ignore[attr-defined]
    return float(sum(np.mean(np.sum((S[k + 1] - S[k]) ** 2, axis=1)) for k in range(len(S) - 1)))


def test_large_transport_weight_gives_far_lower_kinetic_energy_at_similar_accuracy() -> None:
    ds = moons(n=300)
    spec = ModelSpec("resnet", width=8, depth=4)
    runs = {}
    for w in (0.0, 0.01):
        res = train(build_model(spec, 2, 2, seed=0), ds,
                    TrainConfig(lr=1e-2, epochs=30, transport_weight=w, device="cpu",
                                transport_reduction="sum"))
        assert res.status == "ok"
        runs[w] = (res.train_acc, _kinetic_energy(capture(res.model, ds.X_train)))
    (acc0, ke0), (acc1, ke1) = runs[0.0], runs[0.01]
    assert acc0 >= 0.97 and acc1 >= 0.97 and abs(acc0 - acc1) <= 0.02, runs
    assert ke1 < 0.05 * ke0, runs
