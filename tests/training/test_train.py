from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from layerflow._capture import capture
from layerflow._errors import ConfigError
from layerflow.models import ModelSpec, build_model
from layerflow.training import TrainConfig, train

from ._data import moons, three_blobs

F64 = torch.float64


def _plain_loop(model: nn.Module, ds: object, cfg: TrainConfig, loss: str) -> nn.Module:
    """A straightforward PyTorch loop: randperm from Generator(seed), mean batch loss, torch optimizer."""
    X = torch.tensor(ds.X_train, dtype=F64)  # type: ignore[attr-defined]
    y = torch.tensor(ds.y_train)  # type: ignore[attr-defined]
    opt = (torch.optim.SGD(model.parameters(), lr=cfg.lr) if cfg.optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=cfg.lr))
    g = torch.Generator().manual_seed(cfg.seed)
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(y), generator=g)
        for s in range(0, len(y), cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            out = model(X[idx])
            if loss == "bce":
                value = F.binary_cross_entropy_with_logits(out[:, 0], y[idx].to(F64))
            else:
                value = F.cross_entropy(out, y[idx])
            opt.zero_grad()
            value.backward()
            opt.step()
    return model


@pytest.mark.parametrize(
    ("data", "spec", "optimizer", "loss"),
    [
        (moons, ModelSpec("mlp", width=6, depth=2), "sgd", "bce"),
        (three_blobs, ModelSpec("resnet", width=4, depth=3, activation="tanh"), "adam", "ce"),
    ],
)
def test_train_equals_a_plain_pytorch_loop(data: object, spec: ModelSpec, optimizer: str,
                                           loss: str) -> None:
    ds = data()  # type: ignore[operator]
    cfg = TrainConfig(optimizer=optimizer, lr=0.05, epochs=3, batch_size=16, seed=3, device="cpu")
    d, c = ds.n_features, ds.n_classes
    res = train(build_model(spec, d, c, seed=3, dtype=F64), ds, cfg)
    ref = _plain_loop(build_model(spec, d, c, seed=3, dtype=F64), ds, cfg, loss)
    assert res.status == "ok" and res.message == ""
    for (n, a), (_, b) in zip(res.model.named_parameters(), ref.named_parameters(), strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=n)
    n_batches = math.ceil(len(ds.y_train) / 16)
    assert res.steps == len(res.ce_history) == 3 * n_batches and res.epochs_completed == 3
    # loss_curve[e] = sample-weighted mean of that epoch's batch losses
    sizes = np.array([min(16, len(ds.y_train) - 16 * b) for b in range(n_batches)])
    ce = np.array(res.ce_history).reshape(3, n_batches)
    np.testing.assert_allclose(res.loss_curve, (ce * sizes).sum(1) / sizes.sum(), rtol=1e-12)
    with torch.no_grad():
        out = res.model(torch.tensor(ds.X_test, dtype=F64))
    pred = (out[:, 0] > 0).long() if c == 2 else out.argmax(1)
    assert res.test_acc == pytest.approx(float((pred.numpy() == ds.y_test).mean()))


def test_same_seed_same_weights_different_seed_differs() -> None:
    ds = moons()
    spec = ModelSpec("resnet", width=4, depth=2)
    cfg = TrainConfig(epochs=2, batch_size=32, seed=1, device="cpu")
    a = train(build_model(spec, 2, 2, seed=0), ds, cfg).model
    b = train(build_model(spec, 2, 2, seed=0), ds, cfg).model
    c = train(build_model(spec, 2, 2, seed=0), ds, TrainConfig(epochs=2, seed=2, device="cpu")).model
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))


def test_resnet_reaches_95_percent_on_two_moons() -> None:
    ds = moons(n=400, seed=0)
    spec = ModelSpec("resnet", width=16, depth=5)
    res = train(build_model(spec, 2, 2, seed=0), ds,
                TrainConfig(optimizer="adam", lr=1e-2, epochs=30, batch_size=32, device="cpu"))
    assert res.status == "ok"
    assert res.test_acc >= 0.95, res.test_acc
    assert res.loss_curve[-1] < res.loss_curve[0]
    assert res.seconds > 0 and res.config["seed"] == 0
    traj = capture(res.model, ds.X_test, labels=ds.y_test)
    assert traj.widths == (2,) + (16,) * 6


def _sgd_one_full_step(spec: ModelSpec, **kw: float) -> tuple[nn.Module, nn.Module, float]:
    ds = moons(n=80)
    cfg = TrainConfig(optimizer="sgd", lr=0.1, epochs=1, batch_size=len(ds.y_train), device="cpu",
                      **kw)  # type: ignore[arg-type]
    before = build_model(spec, 2, 2, seed=5, dtype=F64)
    after = train(build_model(spec, 2, 2, seed=5, dtype=F64), ds, cfg).model
    return before, after, 0.1


def _data_grads(model: nn.Module) -> dict[str, torch.Tensor]:
    ds = moons(n=80)
    out = model(torch.tensor(ds.X_train, dtype=F64))
    loss = F.binary_cross_entropy_with_logits(out[:, 0], torch.tensor(ds.y_train, dtype=F64))
    names, params = zip(*model.named_parameters(), strict=True)
    return dict(zip(names, torch.autograd.grad(loss, params), strict=True))


def test_explicit_l2_penalises_weights_only() -> None:
    spec = ModelSpec("mlp", width=4, depth=2)
    before, after, lr = _sgd_one_full_step(spec, l2=0.3)
    grads = _data_grads(before)
    for (n, p0), (_, p1) in zip(before.named_parameters(), after.named_parameters(), strict=True):
        reg = 2 * 0.3 * p0 if n.endswith("weight") else 0.0 * p0
        expected = p0 - lr * (grads[n] + reg)
        np.testing.assert_allclose(p1.detach().numpy(), expected.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=n)


def test_weight_decay_is_optimizer_side_on_all_parameters() -> None:
    spec = ModelSpec("mlp", width=4, depth=2)
    before, after, lr = _sgd_one_full_step(spec, weight_decay=0.3)
    grads = _data_grads(before)
    for (n, p0), (_, p1) in zip(before.named_parameters(), after.named_parameters(), strict=True):
        expected = p0 - lr * (grads[n] + 0.3 * p0)
        np.testing.assert_allclose(p1.detach().numpy(), expected.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=n)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "rmsprop"])
def test_every_optimizer_learns(optimizer: str) -> None:
    ds = moons(n=200)
    lr = 0.5 if optimizer == "sgd" else 1e-2
    res = train(build_model(ModelSpec("mlp", width=8, depth=2), 2, 2, seed=0), ds,
                TrainConfig(optimizer=optimizer, lr=lr, epochs=8, device="cpu"))
    assert res.status == "ok" and res.train_acc > 0.75
    assert res.loss_curve[-1] < 0.8 * res.loss_curve[0]
    assert res.lambda_history == () and res.transport_cost_history == ()


def test_nan_loss_is_a_diverged_result_not_an_exception() -> None:
    ds = moons(n=100)
    model = build_model(ModelSpec("mlp", width=4, depth=2), 2, 2, seed=0)
    with torch.no_grad():
        model.head.bias.fill_(float("nan"))
    res = train(model, ds, TrainConfig(epochs=3, device="cpu"))
    assert res.status == "diverged" and not res.ok
    assert "loss became nan at epoch 0, step 0" in res.message
    assert math.isnan(res.train_acc) and math.isnan(res.test_acc)
    assert res.steps == 0 and res.loss_curve == () and res.ce_history == ()


def test_divergence_mid_training_keeps_the_history_so_far() -> None:
    ds = moons(n=100)
    model = build_model(ModelSpec("mlp", width=8, depth=3), 2, 2, seed=0)
    res = train(model, ds, TrainConfig(optimizer="sgd", lr=1e12, epochs=5, device="cpu"))
    assert res.status == "diverged", res.message
    assert 0 < res.steps == len(res.ce_history)
    assert all(math.isfinite(v) for v in res.ce_history)


def test_top_level_name_is_callable_even_after_importing_the_subpackage() -> None:
    import layerflow
    import layerflow.training as train_pkg

    res = layerflow.train(build_model(ModelSpec("mlp", width=3, depth=1), 2, 2, seed=0), moons(60),
                          TrainConfig(epochs=1, device="cpu"))
    assert res.status == "ok"
    assert train_pkg.TrainConfig is TrainConfig


class _NoParams(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class _NotADataset:
    X_train = np.zeros((3, 2))


@pytest.mark.parametrize(
    ("make", "cfg", "data", "needle"),
    [
        (lambda: build_model(ModelSpec("mlp"), 2, 3, seed=0), TrainConfig(loss="bce"), three_blobs,
         "needs one output logit; the model has 3"),
        (lambda: build_model(ModelSpec("mlp"), 2, 2, seed=0), TrainConfig(loss="ce"), moons,
         "over 2 classes; the model has 1"),
        (lambda: build_model(ModelSpec("mlp"), 2, 2, seed=0), TrainConfig(transport_weight=1.0),
         moons, "got MLP"),
        (lambda: build_model(ModelSpec("mlp"), 2, 2, seed=0), TrainConfig(), _NotADataset,
         "without y_train"),
        (_NoParams, TrainConfig(), moons, "no trainable parameters"),
        (lambda: "model", TrainConfig(), moons, "expected a torch.nn.Module"),
        (lambda: build_model(ModelSpec("mlp"), 2, 2, seed=0), "cfg", moons,
         "expected a TrainConfig"),
    ],
)
def test_train_errors(make: object, cfg: object, data: object, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        train(make(), data(), cfg)  # type: ignore[operator, arg-type]
    assert needle in str(info.value)


def test_single_class_and_empty_datasets() -> None:
    from layerflow.data import Dataset

    one = Dataset(np.zeros((4, 2)), np.zeros(4), np.zeros((2, 2)), np.zeros(2), name="one")
    with pytest.raises(ConfigError, match="n_classes=1"):
        train(build_model(ModelSpec("mlp"), 2, 2, seed=0), one, TrainConfig())
    empty = Dataset(np.zeros((0, 2)), np.zeros(0), np.zeros((2, 2)), np.array([0, 1]), name="e")
    with pytest.raises(ConfigError, match="0 training samples"):
        train(build_model(ModelSpec("mlp"), 2, 2, seed=0), empty, TrainConfig())


def test_a_bfloat16_transformer_sees_the_datasets_token_ids() -> None:
    """Ids above 256 are not bfloat16 numbers (257 -> 256): they must reach the embedding as the
    int64 ids the dataset holds, in training, in the accuracy passes and in capture."""
    from layerflow.data import Dataset

    vocab = 600
    X = np.random.default_rng(0).integers(0, vocab, size=(12, 3)).astype(np.float32)
    X[0] = [257, 513, 599]
    X[9] = [511, 1, 301]
    y = np.arange(12) % 2
    ds = Dataset(X[:8], y[:8], X[8:], y[8:], name="ids")
    spec = ModelSpec("transformer", width=4, depth=1, heads=2, vocab=vocab)
    model = build_model(spec, 3, 2, seed=0, dtype=torch.bfloat16)
    seen: list[torch.Tensor] = []
    model.embed.token.register_forward_pre_hook(lambda _m, a: seen.append(a[0].clone()))
    cfg = TrainConfig(optimizer="sgd", lr=0.1, steps=1, batch_size=8, device="cpu")
    res = train(model, ds, cfg)
    assert res.status == "ok" and res.steps == 1
    want = torch.as_tensor(X.astype(np.int64))
    assert len(seen) == 3  # the training step, then train and test accuracy
    assert all(s.dtype == torch.int64 for s in seen)
    assert sorted(map(tuple, seen[0].tolist())) == sorted(map(tuple, want[:8].tolist()))
    assert torch.equal(seen[1], want[:8]) and torch.equal(seen[2], want[8:])
    seen.clear()
    traj = capture(model, X)
    assert torch.equal(seen[0], want)
    np.testing.assert_array_equal(traj.states[0], X)  # the input state: the ids themselves
