"""The ensemble fast path: hand-written gradients vs autograd, members vs solo runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layerflow.models import ModelSpec, build_model
from layerflow.training import TrainConfig, train, train_ensemble
from layerflow.training._fast import StackedMLPGrad

from ._data import moons, three_blobs

F64 = torch.float64

def _flat_from_models(models: list[torch.nn.Module], grads: bool = False) -> torch.Tensor:
    """The fast path's layout, built by hand: per layer W as (E, in, out), then b (E, out)
    (of the parameters, or of their ``.grad`` with ``grads=True``)."""
    parts = []
    for name, _ in models[0].named_parameters():
        values = [dict(m.named_parameters())[name] for m in models]
        stacked = torch.stack([(v.grad if grads else v).detach() for v in values])
        parts.append((stacked.transpose(1, 2) if name.endswith("weight") else stacked).reshape(-1))
    return torch.cat(parts)


@pytest.mark.parametrize("numpy_matmul", [True, False], ids=["numpy-matmul", "torch-bmm"])
@pytest.mark.parametrize(
    ("activation", "n_classes", "l2"),
    [("relu", 2, 0.0), ("tanh", 3, 1e-2), ("sigmoid", 2, 1e-3), ("identity", 3, 0.0)],
)
def test_hand_written_gradient_equals_autograd(activation: str, n_classes: int, l2: float,
                                               numpy_matmul: bool) -> None:
    """∂(Σ_e J_e) written by StackedMLPGrad equals autograd on E separate nn.Modules (CPU
    matmuls through NumPy, and the torch.bmm path that other devices take)."""
    E, B, d = 3, 7, 4
    spec = ModelSpec("bottleneck", width=6, depth=3, activation=activation)
    models = [build_model(spec, d, n_classes, seed=s, dtype=F64) for s in range(E)]
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(E, B, d, generator=gen, dtype=F64)
    y = torch.randint(0, n_classes, (E, B), generator=gen)
    flat = _flat_from_models(models)
    grad = torch.full_like(flat, float("nan"))  # every entry must be written
    out = 1 if n_classes == 2 else n_classes
    loss = "bce" if n_classes == 2 else "ce"
    net = StackedMLPGrad(flat, grad, (d, 6, 3, 6, out), E, activation, loss, l2)
    net._numpy = numpy_matmul
    logits = net.forward(x)
    net.backward(y)
    total = torch.zeros((), dtype=F64)
    for e, m in enumerate(models):
        z = m(x[e])
        np.testing.assert_allclose(logits[e].numpy(), z.detach().numpy(), rtol=1e-12)
        if loss == "bce":
            total = total + F.binary_cross_entropy_with_logits(z[:, 0], y[e].to(F64))
        else:
            total = total + F.cross_entropy(z, y[e])
        total = total + l2 * sum(p.square().sum() for n, p in m.named_parameters()
                                 if n.endswith("weight"))
    total.backward()
    np.testing.assert_allclose(grad.numpy(), _flat_from_models(models, grads=True).numpy(),
                               rtol=1e-10, atol=1e-14)


def test_stacked_mlp_grad_errors() -> None:
    flat = torch.zeros(2 * (3 * 2 + 2))
    with pytest.raises(ValueError, match="activation='gelu': expected one of"):
        StackedMLPGrad(flat, flat.clone(), (3, 2), 2, "gelu", "bce", 0.0)
    with pytest.raises(ValueError, match="loss='mse': expected 'bce' or 'ce'"):
        StackedMLPGrad(flat, flat.clone(), (3, 2), 2, "relu", "mse", 0.0)
    with pytest.raises(ValueError, match=r"flat has 16 values and grad 16; dims=\(3, 3\) "
                                         r"with E=2 need 24 each"):
        StackedMLPGrad(flat, flat.clone(), (3, 3), 2, "relu", "ce", 0.0)
    net = StackedMLPGrad(flat, flat.clone(), (3, 2), 2, "relu", "ce", 0.0)
    with pytest.raises(RuntimeError, match=r"backward\(\) before forward\(\)"):
        net.backward(torch.zeros(2, 5, dtype=torch.long))


@pytest.mark.parametrize(
    ("spec", "cfg", "data"),
    [
        (ModelSpec("mlp", width=5, depth=3, activation="tanh"),
         TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, l2=1e-3, weight_decay=1e-3), "blobs"),
        (ModelSpec("mlp", width=6, depth=4),
         TrainConfig(optimizer="rmsprop", lr=1e-2, momentum=0.5, l2=1e-3), "moons"),
        (ModelSpec("mlp", width=5, depth=2, activation="gelu"),  # autograd path, flat optimizer
         TrainConfig(optimizer="adam", lr=1e-2, weight_decay=1e-2), "moons"),
    ],
    ids=["tanh-ce-sgd-l2", "relu-bce-rmsprop-momentum", "gelu-autograd-adam-wd"],
)
def test_fast_path_members_equal_solo(spec: ModelSpec, cfg: TrainConfig, data: str) -> None:
    ds = three_blobs(n=80) if data == "blobs" else moons(n=80)
    cfg = dataclasses.replace(cfg, epochs=3, batch_size=16, device="cpu")
    seeds = [2, 9]
    results = train_ensemble(spec, ds, cfg, seeds, dtype=F64)
    for seed, res in zip(seeds, results, strict=True):
        solo = train(build_model(spec, ds.n_features, ds.n_classes, seed=seed, dtype=F64), ds,
                     dataclasses.replace(cfg, seed=seed))
        for (n, a), (_, b) in zip(res.model.named_parameters(), solo.model.named_parameters(),
                                  strict=True):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9,
                                       atol=1e-12, err_msg=n)
            assert a.is_contiguous()
        np.testing.assert_allclose(res.ce_history, solo.ce_history, rtol=1e-9)
        assert res.train_acc == solo.train_acc and res.test_acc == solo.test_acc
