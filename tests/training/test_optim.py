"""Flat optimizers (the ensemble path) vs torch.optim, both built from the one OPTIMIZERS table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from layerflow.training import OPTIMIZERS, TrainConfig
from layerflow.training._optim import FlatOptimizer

F64 = torch.float64

OPT_CASES = [
    TrainConfig(optimizer="rmsprop", lr=1e-2),
    TrainConfig(optimizer="rmsprop", lr=1e-2, momentum=0.5, weight_decay=0.1),
    TrainConfig(optimizer="adam", lr=1e-2),
    TrainConfig(optimizer="adam", lr=1e-2, weight_decay=0.1),
    TrainConfig(optimizer="adamw", lr=1e-2, weight_decay=0.1),
    TrainConfig(optimizer="sgd", lr=0.1),
    TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.01),
]


@pytest.mark.parametrize("fused", [False, True], ids=["tensor-ops", "fused"])
@pytest.mark.parametrize("cfg", OPT_CASES,
                         ids=lambda c: f"{c.optimizer}-m{c.momentum}-wd{c.weight_decay}")
def test_flat_optimizer_matches_torch_optim(cfg: TrainConfig, fused: bool) -> None:
    """Same gradients in, same parameters out as torch.optim, including gradients that are
    exactly zero (RMSprop's running average stays 0 there)."""
    gen = torch.Generator().manual_seed(0)
    p0 = torch.randn(300, generator=gen, dtype=F64)
    ref = p0.clone().requires_grad_(True)
    flat = p0.clone()
    torch_opt = {
        "rmsprop": lambda: torch.optim.RMSprop([ref], lr=cfg.lr, momentum=cfg.momentum,
                                               weight_decay=cfg.weight_decay),
        "adam": lambda: torch.optim.Adam([ref], lr=cfg.lr, weight_decay=cfg.weight_decay),
        "adamw": lambda: torch.optim.AdamW([ref], lr=cfg.lr, weight_decay=cfg.weight_decay),
        "sgd": lambda: torch.optim.SGD([ref], lr=cfg.lr, momentum=cfg.momentum,
                                       weight_decay=cfg.weight_decay),
    }[cfg.optimizer]()
    ours = FlatOptimizer(flat, cfg, fused=fused)
    for _ in range(25):
        g = torch.randn(300, generator=gen, dtype=F64) * 10.0 ** torch.randint(-6, 2, (300,),
                                                                              generator=gen)
        g[:50] = 0.0
        torch_opt.zero_grad()
        ref.grad = g.clone()
        torch_opt.step()
        ours.zero_grad()
        flat.grad = g.clone()
        ours.step()
    np.testing.assert_allclose(flat.numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert not torch.equal(flat, p0)


def test_flat_optimizer_without_gradient_does_nothing() -> None:
    p = torch.ones(4)
    FlatOptimizer(p, TrainConfig(optimizer="adam")).step()
    np.testing.assert_array_equal(p.numpy(), np.ones(4))


def test_fused_flat_optimizer_needs_a_contiguous_cpu_tensor() -> None:
    with pytest.raises(ValueError, match=r"fused=True needs a contiguous CPU tensor; got cpu "
                                         r"\(contiguous=False\)"):
        FlatOptimizer(torch.zeros(4, 3).t(), TrainConfig(optimizer="rmsprop"), fused=True)


def test_flat_optimizer_rejects_unknown_kind() -> None:
    cfg = dataclasses.replace(TrainConfig(), optimizer="adam")
    object.__setattr__(cfg, "optimizer", "lbfgs")
    with pytest.raises(ValueError, match="optimizer='lbfgs': expected rmsprop, adam, adamw or sgd"):
        FlatOptimizer(torch.zeros(3), cfg)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_table_builds_the_torch_optimizer_with_torch_defaults(name: str) -> None:
    """The table's constants are torch.optim's own defaults: building from the table equals
    calling the torch class with only lr, momentum and weight decay."""
    cfg = TrainConfig(optimizer=name, lr=0.05, weight_decay=0.01,
                      momentum=0.3 if name in ("sgd", "rmsprop") else 0.0)
    ours = OPTIMIZERS[name]([torch.zeros(2, requires_grad=True)], cfg)
    kwargs = {"lr": 0.05, "weight_decay": 0.01}
    if name in ("sgd", "rmsprop"):
        kwargs["momentum"] = 0.3
    ref = {"rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "sgd": torch.optim.SGD}[name]([torch.zeros(2, requires_grad=True)], **kwargs)
    assert type(ours) is type(ref)
    assert ours.defaults == ref.defaults


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("cfg", OPT_CASES,
                         ids=lambda c: f"{c.optimizer}-m{c.momentum}-wd{c.weight_decay}")
def test_half_precision_flat_optimizer_uses_torch_ops(cfg: TrainConfig,
                                                      dtype: torch.dtype) -> None:
    """NumPy has no bfloat16 and Numba no float16: the CPU default runs the tensor operations,
    which give torch.optim's single-tensor update on the same half-precision tensor."""
    gen = torch.Generator().manual_seed(0)
    p0 = torch.randn(64, generator=gen).to(dtype)
    ref = p0.clone().requires_grad_(True)
    flat = p0.clone()
    kwargs = {"lr": cfg.lr, "weight_decay": cfg.weight_decay, "foreach": False}
    if cfg.optimizer in ("rmsprop", "sgd"):
        kwargs["momentum"] = cfg.momentum
    torch_opt = OPTIMIZERS[cfg.optimizer].torch_class([ref], **kwargs)
    ours = FlatOptimizer(flat, cfg)
    assert not ours.fused
    for _ in range(5):
        g = torch.randn(64, generator=gen).to(dtype)
        g[:8] = 0.0
        ref.grad = g.clone()
        torch_opt.step()
        flat.grad = g.clone()
        ours.step()
    np.testing.assert_allclose(flat.float().numpy(), ref.detach().float().numpy(),
                               rtol=2e-2, atol=2e-2)
    assert not torch.equal(flat, p0)


def test_fused_flat_optimizer_needs_float32_or_float64() -> None:
    with pytest.raises(ValueError, match=r"fused=True needs float32 or float64; got "
                                         r"torch\.bfloat16"):
        FlatOptimizer(torch.zeros(4, dtype=torch.bfloat16), TrainConfig(optimizer="adam"),
                      fused=True)
