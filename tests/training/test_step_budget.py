"""Step budgets, learning-rate milestones and the validation split (SPEC §4, low-data study)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layerflow._errors import ConfigError
from layerflow.data import Dataset
from layerflow.models import ModelSpec, build_model
from layerflow.training import LAP_LR_MILESTONES, TrainConfig, train, train_ensemble

from ._data import moons, three_blobs

F64 = torch.float64
SPEC = ModelSpec("mlp", width=6, depth=2)


def _plain(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, *, lr: float, steps: int,
           batch: int, seed: int, milestones_epochs: list[int] | None = None) -> None:
    """A plain PyTorch loop: SGD, BCE, randperm per epoch from Generator(seed), stop after
    ``steps`` optimizer steps; optionally torch's own MultiStepLR stepped once per epoch."""
    Xt, yt = torch.tensor(X, dtype=F64), torch.tensor(y, dtype=F64)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = (torch.optim.lr_scheduler.MultiStepLR(opt, milestones_epochs, gamma=0.1)
             if milestones_epochs else None)
    gen = torch.Generator().manual_seed(seed)
    done = 0
    while done < steps:
        perm = torch.randperm(len(yt), generator=gen)
        for s in range(0, len(yt), batch):
            if done == steps:
                break
            idx = perm[s : s + batch]
            loss = F.binary_cross_entropy_with_logits(model(Xt[idx])[:, 0], yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
        if sched is not None:
            sched.step()


def _same(a: torch.nn.Module, b: torch.nn.Module, rtol: float = 1e-10) -> None:
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol, atol=1e-12,
                                   err_msg=n)


def test_a_step_budget_stops_mid_epoch_as_a_plain_loop_does() -> None:
    ds = moons(n=100)  # 75 training points, batch 16: 5 batches per epoch
    cfg = TrainConfig(optimizer="sgd", lr=0.1, steps=13, batch_size=16, seed=3, device="cpu")
    res = train(build_model(SPEC, 2, 2, seed=1, dtype=F64), ds, cfg)
    ref = build_model(SPEC, 2, 2, seed=1, dtype=F64)
    _plain(ref, ds.X_train, ds.y_train, lr=0.1, steps=13, batch=16, seed=3)
    _same(res.model, ref)
    assert res.steps == len(res.ce_history) == 13
    assert res.epochs_completed == 2 and len(res.loss_curve) == 3  # the third epoch is partial
    # the partial epoch's mean: over the 3 batches it saw (16 + 16 + 16 samples)
    np.testing.assert_allclose(res.loss_curve[2], np.mean(res.ce_history[10:13]), rtol=1e-12)
    assert cfg.n_epochs is None and TrainConfig().n_epochs == 50


def test_steps_equal_to_whole_epochs_give_the_epoch_run() -> None:
    ds = moons(n=100)
    a = train(build_model(SPEC, 2, 2, seed=0, dtype=F64), ds,
              TrainConfig(steps=15, batch_size=16, device="cpu"))
    b = train(build_model(SPEC, 2, 2, seed=0, dtype=F64), ds,
              TrainConfig(epochs=3, batch_size=16, device="cpu"))
    _same(a.model, b.model, rtol=0)
    assert a.loss_curve == b.loss_curve and a.epochs_completed == b.epochs_completed == 3


def test_lr_milestones_equal_torchs_multisteplr_at_epoch_boundaries() -> None:
    """Milestones (0.5, 0.75) of 4 epochs fall on epochs 2 and 3: torch's MultiStepLR([2, 3])."""
    ds = moons(n=100)
    cfg = TrainConfig(optimizer="sgd", lr=0.2, epochs=4, batch_size=16, seed=2, device="cpu",
                      lr_milestones=(0.5, 0.75), lr_gamma=0.1)
    assert cfg.lr_boundaries(75) == [10, 15]
    res = train(build_model(SPEC, 2, 2, seed=4, dtype=F64), ds, cfg)
    ref = build_model(SPEC, 2, 2, seed=4, dtype=F64)
    _plain(ref, ds.X_train, ds.y_train, lr=0.2, steps=20, batch=16, seed=2,
           milestones_epochs=[2, 3])
    _same(res.model, ref)
    no_schedule = train(build_model(SPEC, 2, 2, seed=4, dtype=F64), ds,
                        dataclasses.replace(cfg, lr_milestones=()))
    assert not torch.equal(next(no_schedule.model.parameters()), next(res.model.parameters()))


def test_laps_schedule_as_fractions() -> None:
    cfg = TrainConfig(epochs=300, batch_size=10, lr_milestones=LAP_LR_MILESTONES)
    assert cfg.lr_boundaries(10) == [150, 225, 250]  # one batch per epoch: LAP's epochs


def test_validation_split_is_stratified_seeded_and_never_trained_on() -> None:
    ds = three_blobs(n=120)  # 90 training points, 30 per class
    cfg = TrainConfig(optimizer="sgd", lr=0.1, epochs=2, batch_size=16, seed=5, device="cpu",
                      val_fraction=0.2, val_seed=7)
    res = train(build_model(SPEC, 2, 3, seed=0, dtype=F64), ds, cfg)
    assert res.n_val == 18  # round(0.2 · 30) per class
    # the split by hand: per class (sorted), a permutation from default_rng(val_seed)
    rng = np.random.default_rng(7)
    val = np.sort(np.concatenate([rng.permutation(np.flatnonzero(ds.y_train == c))[:6]
                                  for c in range(3)]))
    keep = np.setdiff1d(np.arange(90), val)
    assert np.bincount(ds.y_train[val]).tolist() == [6, 6, 6]
    by_hand = Dataset(ds.X_train[keep], ds.y_train[keep], ds.X_test, ds.y_test, name="kept")
    ref = train(build_model(SPEC, 2, 3, seed=0, dtype=F64), by_hand,
                dataclasses.replace(cfg, val_fraction=0.0))
    _same(res.model, ref.model, rtol=0)
    with torch.no_grad():
        pred = res.model(torch.tensor(ds.X_train[val], dtype=F64)).argmax(dim=1).numpy()
    assert res.val_acc == float(np.mean(pred == ds.y_train[val]))
    assert res.train_acc == ref.train_acc and res.test_acc == ref.test_acc
    assert math.isnan(ref.val_acc) and ref.n_val == 0
    other_seed = train(build_model(SPEC, 2, 3, seed=0, dtype=F64), ds,
                       dataclasses.replace(cfg, seed=9))
    assert other_seed.n_val == 18  # the split depends on val_seed only


@pytest.mark.parametrize(
    "extra",
    [
        {"steps": 11},
        {"epochs": 3, "lr_milestones": (0.4,), "lr_gamma": 0.5},
        {"steps": 9, "val_fraction": 0.25, "val_seed": 3},
        {"steps": 12, "transport_weight": 0.3, "val_fraction": 0.1, "lr_milestones": (0.5,)},
    ],
    ids=["steps", "milestones", "steps-val", "penalty-steps-val-milestones"],
)
def test_ensemble_members_equal_solo_runs_with_every_new_option(extra: dict[str, object]) -> None:
    ds = moons(n=80)
    spec = ModelSpec("resnet", width=4, depth=2) if "transport_weight" in extra else SPEC
    cfg = TrainConfig(optimizer="adam", lr=1e-2, batch_size=16, device="cpu", **extra)  # type: ignore[arg-type]
    seeds = [0, 6]
    results = train_ensemble(spec, ds, cfg, seeds, dtype=F64)
    for seed, res in zip(seeds, results, strict=True):
        solo = train(build_model(spec, 2, 2, seed=seed, dtype=F64), ds,
                     dataclasses.replace(cfg, seed=seed))
        _same(res.model, solo.model, rtol=1e-9)
        np.testing.assert_allclose(res.ce_history, solo.ce_history, rtol=1e-9)
        np.testing.assert_allclose(res.loss_curve, solo.loss_curve, rtol=1e-9)
        assert res.steps == solo.steps and res.epochs_completed == solo.epochs_completed
        assert res.n_val == solo.n_val
        for split in ("train_acc", "val_acc", "test_acc"):
            a, b = getattr(res, split), getattr(solo, split)
            assert a == b or (math.isnan(a) and math.isnan(b)), split


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"epochs": 3, "steps": 10}, "epochs=3 and steps=10: give one budget"),
        ({"steps": -1}, "steps=-1: expected an int >= 0"),
        ({"steps": 2.5}, "steps=2.5"),
        ({"lr_milestones": (0.5, 0.5)}, "expected increasing fractions of the budget in (0, 1)"),
        ({"lr_milestones": (1.0,)}, "lr_milestones=(1.0,)"),
        ({"lr_milestones": "0.5"}, "lr_milestones='0.5': expected a sequence"),
        ({"lr_milestones": ("a",)}, "lr_milestones='a': expected a finite number"),
        ({"lr_gamma": 0.0}, "lr_gamma=0.0: expected a number > 0"),
        ({"val_fraction": 1.0}, "val_fraction=1.0: expected 0 <= it < 1"),
        ({"val_fraction": -0.1}, "val_fraction=-0.1"),
        ({"val_seed": -1}, "val_seed=-1"),
    ],
)
def test_invalid_budgets_name_the_field(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        TrainConfig(**kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_a_validation_fraction_too_small_for_the_classes_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"val_fraction=0.01 of 60 training samples leaves "
                                               r"no validation sample"):
        train(build_model(SPEC, 2, 2, seed=0), moons(80), TrainConfig(val_fraction=0.01))


def test_milestones_from_a_list_are_kept_as_a_tuple() -> None:
    assert TrainConfig(lr_milestones=[0.25, 0.5]).lr_milestones == (0.25, 0.5)  # type: ignore[arg-type]
