"""Ensembles: E networks of one shape trained as one batched module equal E solo runs."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from layerflow._capture import capture
from layerflow._errors import ConfigError
from layerflow.data import load_dataset
from layerflow.models import ModelSpec, build_model
from layerflow.training import TrainConfig, train, train_ensemble

from ._data import moons, three_blobs

F64 = torch.float64
SEEDS = [0, 1, 5]

CASES = [
    ("mlp", ModelSpec("mlp", width=5, depth=2), TrainConfig(optimizer="adam", lr=1e-2)),
    ("bottleneck", ModelSpec("bottleneck", width=6, depth=3),
     TrainConfig(optimizer="rmsprop", lr=1e-3, weight_decay=1e-3)),
    ("resnet", ModelSpec("resnet", width=4, depth=3, activation="tanh"),
     TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, l2=1e-3)),
    ("resnet-fixed-penalty", ModelSpec("resnet", width=4, depth=3),
     TrainConfig(optimizer="adam", lr=1e-2, transport_weight=0.5)),
    ("resnet-sum-penalty", ModelSpec("resnet", width=4, depth=3),
     TrainConfig(optimizer="sgd", lr=0.1, transport_weight=0.5, transport_reduction="sum")),
    ("resnet-uzawa", ModelSpec("resnet", width=4, depth=2, h=0.5),
     TrainConfig(optimizer="adamw", lr=1e-2, weight_decay=1e-2, uzawa=True, uzawa_tau=0.5,
                 uzawa_every=2)),
]


def _assert_same_weights(a: torch.nn.Module, b: torch.nn.Module, rtol: float = 1e-9) -> None:
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_allclose(pa.detach().numpy(), pb.detach().numpy(), rtol=rtol,
                                   atol=1e-11, err_msg=n)


@pytest.mark.parametrize(("name", "spec", "base"), CASES, ids=[c[0] for c in CASES])
def test_members_equal_solo_training(name: str, spec: ModelSpec, base: TrainConfig) -> None:
    ds = three_blobs(n=80) if name == "mlp" else moons(n=80)
    cfg = dataclasses.replace(base, epochs=3, batch_size=16, device="cpu")
    results = train_ensemble(spec, ds, cfg, SEEDS, dtype=F64)
    assert len(results) == len(SEEDS)
    for seed, res in zip(SEEDS, results, strict=True):
        solo = train(build_model(spec, ds.n_features, ds.n_classes, seed=seed, dtype=F64), ds,
                     dataclasses.replace(cfg, seed=seed))
        assert res.status == solo.status == "ok"
        assert res.seed == seed and type(res.model) is type(solo.model)
        _assert_same_weights(res.model, solo.model)
        np.testing.assert_allclose(res.ce_history, solo.ce_history, rtol=1e-9)
        np.testing.assert_allclose(res.loss_curve, solo.loss_curve, rtol=1e-9)
        np.testing.assert_allclose(res.lambda_history, solo.lambda_history, rtol=1e-9)
        np.testing.assert_allclose(res.transport_cost_history, solo.transport_cost_history,
                                   rtol=1e-9)
        assert res.test_acc == solo.test_acc and res.train_acc == solo.train_acc
    # members really differ from each other (own init and order)
    a, b = results[0].model, results[1].model
    assert not torch.equal(next(a.parameters()), next(b.parameters()))


def test_members_match_solo_in_float32_too() -> None:
    ds = moons(n=80)
    spec = ModelSpec("resnet", width=4, depth=2)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=1e-2, device="cpu")
    res = train_ensemble(spec, ds, cfg, [3, 4])
    solo = train(build_model(spec, 2, 2, seed=4), ds, dataclasses.replace(cfg, seed=4))
    _assert_same_weights(res[1].model, solo.model, rtol=1e-4)


def test_a_diverging_member_is_marked_and_spoils_nothing() -> None:
    ds = moons(n=80)
    spec = ModelSpec("resnet", width=4, depth=2)
    cfg = TrainConfig(epochs=2, batch_size=16, lr=1e-2, transport_weight=0.1, device="cpu")
    members = [build_model(spec, 2, 2, seed=s, dtype=F64) for s in SEEDS]
    with torch.no_grad():
        members[1].blocks[0].fc1.bias[0] = float("nan")  # poisoned initialisation
    poisoned = {k: v.clone() for k, v in members[1].state_dict().items()}
    results = train_ensemble(spec, ds, cfg, SEEDS, dtype=F64, initial_models=members)
    assert [r.status for r in results] == ["ok", "diverged", "ok"]
    bad = results[1]
    assert "loss became nan at epoch 0, step 0" in bad.message
    assert math.isnan(bad.test_acc) and bad.steps == 0 and bad.ce_history == ()
    for k, v in bad.model.state_dict().items():  # frozen at its (poisoned) weights
        np.testing.assert_array_equal(v.numpy(), poisoned[k].numpy(), err_msg=k)
    for i in (0, 2):
        solo = train(build_model(spec, 2, 2, seed=SEEDS[i], dtype=F64), ds,
                     dataclasses.replace(cfg, seed=SEEDS[i]))
        _assert_same_weights(results[i].model, solo.model)
        assert all(math.isfinite(v) for v in results[i].ce_history)


def test_divergence_mid_training_matches_solo_divergence() -> None:
    """With a huge step every member diverges at its own step, exactly as it does alone."""
    ds = moons(n=80)
    spec = ModelSpec("mlp", width=8, depth=3)
    cfg = TrainConfig(optimizer="sgd", lr=1e9, epochs=4, batch_size=16, device="cpu")
    results = train_ensemble(spec, ds, cfg, SEEDS, dtype=F64)
    for seed, res in zip(SEEDS, results, strict=True):
        solo = train(build_model(spec, 2, 2, seed=seed, dtype=F64), ds,
                     dataclasses.replace(cfg, seed=seed))
        assert res.status == solo.status
        assert res.steps == solo.steps and res.message == solo.message
        if solo.status == "diverged":
            assert solo.steps > 0
        _assert_same_weights(res.model, solo.model)
    assert any(r.status == "diverged" for r in results)


def test_member_models_are_ordinary_modules_for_capture() -> None:
    ds = moons(n=60)
    res = train_ensemble(ModelSpec("resnet", width=3, depth=2), ds,
                         TrainConfig(epochs=1, device="cpu"), [7])
    traj = capture(res[0].model, ds.X_test)
    assert traj.layer_names == ("input", "lift", "blocks.0", "blocks.1")
    assert res[0].seconds > 0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"spec": "mlp"}, "expected a ModelSpec"),
        ({"cfg": {"lr": 1}}, "expected a TrainConfig"),
        ({"seeds": []}, "non-empty sequence of ints"),
        ({"seeds": [0, 1.5]}, "non-empty sequence of ints"),
        ({"cfg": TrainConfig(uzawa=True)}, "needs kind='resnet', not 'mlp'"),
        ({"initial_models": []}, "initial_models has 0 models for 2 seeds"),
        ({"initial_models": [build_model(ModelSpec("mlp", width=3, depth=1), 2, 2, seed=0)] * 2},
         "initial_models[0] (MLP) does not have the shape"),
        ({"dataset": [moons(40)]}, "1 datasets for 2 seeds; give one dataset, or one per seed"),
        ({"dataset": [moons(40), moons(48)]}, "the members' datasets hold [30, 36] training rows"),
        ({"dataset": [moons(40), load_dataset("blobs_in_cube", n=40)]},
         "dataset[1] has 3 features, dataset[0] 2"),
    ],
)
def test_ensemble_errors(kwargs: dict[str, object], needle: str) -> None:
    args: dict[str, object] = {"spec": ModelSpec("mlp", width=4, depth=1), "dataset": moons(40),
                               "cfg": TrainConfig(epochs=1), "seeds": [0, 1]}
    args.update(kwargs)
    with pytest.raises(ConfigError) as info:
        train_ensemble(**args)  # type: ignore[arg-type]
    assert needle in str(info.value)


@pytest.mark.parametrize("name", ["mlp", "resnet-uzawa"])
def test_members_on_their_own_data_draws_equal_solo_training(name: str) -> None:
    """One dataset per member (each seed its own data draw, with a validation split): each
    member ends as training it alone on its own draw does, and is measured on its own splits."""
    spec, base = next((s, c) for n, s, c in CASES if n == name)
    sets = [moons(n=80, seed=10 + i).hold_out_validation(0.25, seed=i) for i in range(3)]
    cfg = dataclasses.replace(base, epochs=3, batch_size=16, device="cpu")
    results = train_ensemble(spec, sets, cfg, SEEDS, dtype=F64)
    for seed, ds, res in zip(SEEDS, sets, results, strict=True):
        solo = train(build_model(spec, ds.n_features, ds.n_classes, seed=seed, dtype=F64), ds,
                     dataclasses.replace(cfg, seed=seed))
        assert res.status == solo.status == "ok"
        _assert_same_weights(res.model, solo.model)
        np.testing.assert_allclose(res.ce_history, solo.ce_history, rtol=1e-9)
        np.testing.assert_allclose(res.lambda_history, solo.lambda_history, rtol=1e-9)
        assert (res.train_acc, res.val_acc, res.test_acc, res.n_val) == \
            (solo.train_acc, solo.val_acc, solo.test_acc, solo.n_val) == \
            (solo.train_acc, solo.val_acc, solo.test_acc, len(ds.y_val))
    # the draws really differ: the same seed on another draw ends elsewhere
    other = train_ensemble(spec, [sets[1], sets[0], sets[2]], cfg, SEEDS, dtype=F64)
    assert not torch.equal(next(other[0].model.parameters()),
                           next(results[0].model.parameters()))


def test_transformer_members_are_trained_one_by_one_and_equal_solo_runs() -> None:
    from layerflow.data import load_dataset

    ds = load_dataset("tokens:sorted", n=48, length=4, vocab=5, seed=0)
    spec = ModelSpec("transformer", width=4, depth=2, heads=2, vocab=5)
    cfg = TrainConfig(optimizer="adam", lr=1e-2, steps=6, batch_size=8, device="cpu",
                      transport_weight=0.1)
    given = [build_model(spec, 4, 2, seed=s, dtype=F64) for s in SEEDS]
    before = [{k: v.clone() for k, v in m.state_dict().items()} for m in given]
    for initial in (None, given):
        results = train_ensemble(spec, ds, cfg, SEEDS, dtype=F64, initial_models=initial)
        for seed, res in zip(SEEDS, results, strict=True):
            solo = train(build_model(spec, 4, 2, seed=seed, dtype=F64), ds,
                         dataclasses.replace(cfg, seed=seed))
            assert res.status == solo.status == "ok" and res.seed == seed and res.steps == 6
            _assert_same_weights(res.model, solo.model, rtol=0.0)
            assert res.ce_history == solo.ce_history and res.test_acc == solo.test_acc
            assert res.transport_cost_history == solo.transport_cost_history
            assert len(res.transport_cost_history) == 6
    for m, state in zip(given, before, strict=True):  # the given models were not trained
        for k, v in m.state_dict().items():
            assert torch.equal(v, state[k]), k


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_half_precision_ensembles_train_on_the_cpu(dtype: torch.dtype, optimizer: str) -> None:
    """The flat optimizer runs torch operations on half-precision parameters (NumPy has no
    bfloat16); each member follows its solo run with torch.optim."""
    ds = moons(32)
    spec = ModelSpec("resnet", width=4, depth=2)
    cfg = TrainConfig(optimizer=optimizer, lr=1e-2, steps=2, batch_size=8, device="cpu")
    results = train_ensemble(spec, ds, cfg, [0, 1], dtype=dtype)
    for seed, res in zip([0, 1], results, strict=True):
        solo = train(build_model(spec, 2, 2, seed=seed, dtype=dtype), ds,
                     dataclasses.replace(cfg, seed=seed))
        assert res.status == solo.status and res.steps == solo.steps
        np.testing.assert_allclose(res.ce_history, solo.ce_history, rtol=2e-2)
        assert next(res.model.parameters()).dtype == dtype
        if dtype == torch.bfloat16 or optimizer == "sgd":  # Adam's eps=1e-8 is 0 in float16
            assert res.status == "ok" and res.steps == 2
