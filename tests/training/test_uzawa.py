"""Uzawa: the adaptive transport weight with the timing of the authors' code (LAP, main.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layerflow._errors import ConfigError
from layerflow.models import ModelSpec, build_model
from layerflow.training import TrainConfig, Uzawa, train, train_ensemble

from ._data import three_blobs

F64 = torch.float64


def lap_weights(losses: list[float], tau: float, uzs: int, lml0: float = 1.0) -> list[float]:
    """LAP main.py train(), the λ part, line by line: the weight each iteration's loss uses."""
    lmt, lml, it = 0.0, lml0, 0
    lmt = 1 / lml
    used = []
    for classification_loss in losses:
        it = it + 1
        if it % uzs == 0:
            lml += tau * classification_loss
            lmt = 1 / lml
        used.append(lmt)
    return used


@pytest.mark.parametrize(("tau", "every", "lml0"), [(1.0, 1, 1.0), (0.3, 4, 1.0), (2.0, 3, 0.5)])
def test_weights_replay_laps_loop(tau: float, every: int, lml0: float) -> None:
    losses = list(np.random.default_rng(0).uniform(0.1, 2.0, size=20))
    uz = Uzawa(tau=tau, every=every, lambda_loss0=lml0)
    got = [uz.update(torch.tensor(v, dtype=F64)) for v in losses]
    assert got == pytest.approx(lap_weights(losses, tau, every, lml0), rel=1e-15)
    assert uz.history == got and uz.steps == 20 and uz.weight == got[-1]
    assert isinstance(got[0], float)


def test_one_lambda_per_member_equals_separate_runs() -> None:
    rng = np.random.default_rng(1)
    losses = rng.uniform(0.1, 2.0, size=(12, 3))
    uz = Uzawa(tau=0.5, every=2)
    got = torch.stack([torch.as_tensor(uz.update(torch.tensor(row)), dtype=F64).expand(3)
                       for row in losses])
    for e in range(3):
        np.testing.assert_allclose(got[:, e].numpy(), lap_weights(list(losses[:, e]), 0.5, 2),
                                   rtol=1e-15)


def test_train_replays_laps_training_loop_step_by_step() -> None:
    """layerflow's train with uzawa=True equals LAP's train() loop written out here (SGD with
    momentum, CE, transport = Σ mean |r|², λ updated before the loss of every uzs-th step)."""
    spec = ModelSpec("resnet", width=4, depth=3, activation="tanh")
    ds = three_blobs(n=80)
    tau, uzs, lr = 0.5, 3, 0.05
    cfg = TrainConfig(optimizer="sgd", lr=lr, momentum=0.9, epochs=3, batch_size=16, seed=2,
                      uzawa=True, uzawa_tau=tau, uzawa_every=uzs, device="cpu")
    res = train(build_model(spec, 2, 3, seed=5, dtype=F64), ds, cfg)
    model = build_model(spec, 2, 3, seed=5, dtype=F64)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    X, Y = torch.tensor(ds.X_train, dtype=F64), torch.tensor(ds.y_train)
    gen = torch.Generator().manual_seed(2)
    lml, it, lmts = 1.0, 0, []
    lmt = 1 / lml
    for _ in range(3):
        perm = torch.randperm(len(Y), generator=gen)
        for s in range(0, len(Y), 16):
            x, y = X[perm[s : s + 16]], Y[perm[s : s + 16]]
            it = it + 1
            optimizer.zero_grad()
            h, rs = model.lift(x), []
            for blk in model.blocks:
                rs.append(blk.residual(h))
                h = h + model.h * rs[-1]
            out = model.head(h)
            classification_loss = F.cross_entropy(out, y)
            if it % uzs == 0:
                lml += tau * classification_loss.item()
                lmt = 1 / lml
            transport = sum([torch.mean(torch.abs(r) ** 2) for r in rs])
            loss = classification_loss + lmt * transport
            loss.backward()
            optimizer.step()
            lmts.append(lmt)
    np.testing.assert_allclose(res.lambda_history, lmts, rtol=1e-12)
    for (n, a), (_, b) in zip(res.model.named_parameters(), model.named_parameters(), strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=n)
    assert res.lambda_history[0] == 1.0 and res.lambda_history[2] < 1.0


def test_ensemble_members_follow_the_same_rule() -> None:
    spec = ModelSpec("resnet", width=4, depth=2)
    ds = three_blobs(n=60)
    cfg = TrainConfig(optimizer="sgd", lr=0.05, momentum=0.9, epochs=2, batch_size=16,
                      uzawa=True, uzawa_tau=0.7, uzawa_every=2, device="cpu",
                      transport_reduction="sum")
    results = train_ensemble(spec, ds, cfg, [1, 4], dtype=F64)
    for seed, res in zip([1, 4], results, strict=True):
        solo = train(build_model(spec, 2, 3, seed=seed, dtype=F64), ds,
                     dataclasses.replace(cfg, seed=seed))
        np.testing.assert_allclose(res.lambda_history, solo.lambda_history, rtol=1e-9)
        np.testing.assert_allclose(res.lambda_history,
                                   lap_weights(list(solo.ce_history), 0.7, 2), rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"tau": -1.0, "every": 1}, "tau=-1.0: expected a number >= 0"),
        ({"tau": float("nan"), "every": 1}, "tau=nan: expected a finite number"),
        ({"tau": 1.0, "every": 0}, "every=0: expected an int >= 1"),
        ({"tau": 1.0, "every": 2.5}, "every=2.5: expected an int >= 1"),
        ({"tau": 1.0, "every": 1, "lambda_loss0": 0.0}, "lambda_loss0=0.0: expected a number > 0"),
        ({"tau": True, "every": 1}, "tau=True: expected a finite number"),
    ],
)
def test_errors(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        Uzawa(**kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_update_refuses_a_loss_that_is_not_a_number() -> None:
    uz = Uzawa(tau=1.0, every=1)
    with pytest.raises(ConfigError, match="data_loss is a str; expected a number or a tensor"):
        uz.update("0.5")
    assert uz.update(0.5) == pytest.approx(1 / 1.5) and repr(uz) == "Uzawa(tau=1, every=1, steps=1)"
