"""TransportPenalty: the transport cost of any residual model from its own forward pass (SPEC §4),
checked against the authors' formula (skander-karkar/LAP, main.py) on the same residual tensors."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from layerflow._errors import ConfigError
from layerflow.models import ModelSpec, ResidualMLP, build_model
from layerflow.training import TrainConfig, TransportPenalty, train

from ._data import moons, three_blobs

F64 = torch.float64


def lap_transport(rs: list[torch.Tensor], pnorm: int = 2) -> torch.Tensor:
    """LAP main.py, train(): ``transport = sum([torch.mean(torch.abs(r) ** pnorm) for r in rs])``."""
    return sum([torch.mean(torch.abs(r) ** pnorm) for r in rs])  # type: ignore[return-value]


class LapResBlock(nn.Module):
    """LAP's ResBlock without batch norm: returns ``(x + timestep·z, z)``."""

    def __init__(self, nfilters: int, timestep: float) -> None:
        super().__init__()
        self.timestep = timestep
        self.cv1 = nn.Conv2d(nfilters, nfilters, 3, 1, 1, bias=False)
        self.cv2 = nn.Conv2d(nfilters, nfilters, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.cv2(F.relu(self.cv1(F.relu(x))))
        return x + self.timestep * z, z


class LapStage(nn.Module):
    """LAP's ResNetStage: runs the blocks, returns the state and the list of residuals ``rs``."""

    def __init__(self, nblocks: int, nfilters: int, timestep: float) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([LapResBlock(nfilters, timestep) for _ in range(nblocks)])
        self.head = nn.Linear(nfilters, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        rs = []
        for block in self.blocks:
            x, r = block(x)
            rs.append(r)
        return self.head(x.mean(dim=(2, 3))), rs


@pytest.mark.parametrize("timestep", [1.0, 0.25])
def test_conv_blocks_equal_laps_formula_on_the_same_residuals(timestep: float) -> None:
    torch.manual_seed(0)
    net = LapStage(3, 4, timestep).double()
    x = torch.randn(5, 4, 6, 6, dtype=F64)
    with TransportPenalty(net, blocks=["blocks.0", "blocks.1", "blocks.2"], h=timestep) as pen:
        _, rs = net(x)
        assert [tuple(r.shape) for r in pen.velocities()] == [(5, 4, 6, 6)] * 3
        np.testing.assert_allclose(pen.cost().item(), lap_transport(rs).item(), rtol=1e-12)
    with TransportPenalty(net, blocks=["blocks.0", "blocks.1", "blocks.2"], h=timestep,
                          reduction="sum") as pen:
        _, rs = net(x)  # "sum": per sample Σ over channels and positions, mean over the batch
        by_hand = sum(float(np.mean([(r[i] ** 2).sum().item() for i in range(5)])) for r in rs)
        np.testing.assert_allclose(pen.cost().item(), by_hand, rtol=1e-12)
        np.testing.assert_allclose(pen.cost().item(), 4 * 6 * 6 * lap_transport(rs).item(),
                                   rtol=1e-12)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mlp_blocks_equal_laps_formula_and_the_built_in_cost(reduction: str) -> None:
    model = build_model(ModelSpec("resnet", width=5, depth=4, activation="tanh"), 3, 3, seed=1,
                        dtype=F64)
    x = torch.randn(7, 3, dtype=F64, generator=torch.Generator().manual_seed(2))
    rs, s = [], model.lift(x)
    for blk in model.blocks:  # the residuals r_k(x_k), by hand
        rs.append(blk.residual(s))
        s = s + model.h * rs[-1]
    pen = TransportPenalty(model, reduction=reduction)  # default: model.residual_blocks, model.h
    assert pen.blocks == ["blocks.0", "blocks.1", "blocks.2", "blocks.3"] and pen.h["blocks.0"] == 0.25
    logits = model(x)
    expected = lap_transport(rs).item() * (5 if reduction == "sum" else 1)
    np.testing.assert_allclose(pen.cost().item(), expected, rtol=1e-12)
    ref_logits, ref_cost = model.forward_with_transport(x, reduction)
    np.testing.assert_allclose(pen.cost().item(), ref_cost.item(), rtol=1e-12)
    np.testing.assert_array_equal(logits.detach().numpy(), ref_logits.detach().numpy())
    pen.remove()


def test_gradcheck_float64() -> None:
    torch.manual_seed(3)
    net = LapStage(2, 2, 0.5).double()
    names = [n for n, _ in net.named_parameters()]
    pen = TransportPenalty(net, blocks=["blocks.0", "blocks.1"], h=0.5)

    def cost(x: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        torch.func.functional_call(net, dict(zip(names, params, strict=True)), (x,))
        return pen.cost()

    x = torch.randn(2, 2, 3, 3, dtype=F64, requires_grad=True)
    params = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    assert torch.autograd.gradcheck(cost, (x, *params), eps=1e-6, atol=1e-6)


def test_cost_follows_the_last_pass_and_no_grad_passes_have_no_graph() -> None:
    model = build_model(ModelSpec("resnet", width=3, depth=2), 2, 2, seed=0, dtype=F64)
    pen = TransportPenalty(model)
    a, b = torch.ones(4, 2, dtype=F64), torch.full((6, 2), -2.0, dtype=F64)
    model(a)
    ca = pen.cost()
    assert ca.requires_grad
    with torch.no_grad():
        model(b)
    cb = pen.cost()
    assert not cb.requires_grad
    np.testing.assert_allclose(cb.item(), model.forward_with_transport(b)[1].item(), rtol=1e-12)
    np.testing.assert_allclose(ca.item(), model.forward_with_transport(a)[1].item(), rtol=1e-12)
    pen.clear()
    with pytest.raises(ConfigError, match=r"no complete forward pass of ResidualMLP since"):
        pen.cost()
    pen.remove()
    pen.remove()  # idempotent
    with pytest.raises(ConfigError, match="was removed"):
        pen.cost()


def test_train_with_a_penalty_on_any_model_equals_a_plain_loop_with_laps_formula() -> None:
    """train(model, ds, cfg, penalty=…) on a residual model that is not layerflow's equals a plain
    SGD loop (momentum 0.9 as LAP) with loss CE + λ·LAP-transport of the same residuals."""

    class Net(nn.Module):  # the residual stream written out, returning LAP's rs
        def __init__(self) -> None:
            super().__init__()
            self.lift = nn.Linear(2, 4)
            self.res = nn.ModuleList(nn.Sequential(nn.Linear(4, 4), nn.Tanh()) for _ in range(3))
            self.head = nn.Linear(4, 3)

        def stream(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
            x, rs = self.lift(x), []
            for f in self.res:
                rs.append(f(x))
                x = x + 0.5 * rs[-1]
            return self.head(x), rs

    class Wrapped(nn.Module):  # the same net with named residual blocks x -> x + h·f(x)
        def __init__(self, net: Net) -> None:
            super().__init__()
            self.net = net
            self.blocks = nn.ModuleList(_Res(f) for f in net.res)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.net.lift(x)
            for b in self.blocks:
                x = b(x)
            return self.net.head(x)

    torch.manual_seed(0)
    ref = Net().double()
    model = Wrapped(copy.deepcopy(ref))
    ds = three_blobs(n=60)
    lam, lr = 0.3, 0.05
    cfg = TrainConfig(optimizer="sgd", lr=lr, momentum=0.9, epochs=2, batch_size=16, seed=4,
                      transport_weight=lam, device="cpu")
    pen = TransportPenalty(model, blocks=["blocks.0", "blocks.1", "blocks.2"], h=0.5)
    res = train(model, ds, cfg, penalty=pen)
    opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9)
    X, y = torch.tensor(ds.X_train, dtype=F64), torch.tensor(ds.y_train)
    gen = torch.Generator().manual_seed(4)
    costs = []
    for _ in range(2):
        perm = torch.randperm(len(y), generator=gen)
        for s in range(0, len(y), 16):
            idx = perm[s : s + 16]
            out, rs = ref.stream(X[idx])
            transport = lap_transport(rs)
            loss = F.cross_entropy(out, y[idx]) + lam * transport
            opt.zero_grad()
            loss.backward()
            opt.step()
            costs.append(transport.item())
    got = dict(res.model.named_parameters())
    for n, p in ref.named_parameters():
        np.testing.assert_allclose(got[f"net.{n}"].detach().numpy(), p.detach().numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=n)
    np.testing.assert_allclose(res.transport_cost_history, costs, rtol=1e-10)
    assert model.blocks[0]._forward_hooks  # the user's penalty stays attached


class _Res(nn.Module):
    def __init__(self, f: nn.Module) -> None:
        super().__init__()
        self.f = f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.5 * self.f(x)


def test_layerflow_models_get_their_own_penalty_removed_afterwards() -> None:
    model = build_model(ModelSpec("resnet", width=3, depth=2), 2, 2, seed=0)
    res = train(model, moons(60), TrainConfig(epochs=1, device="cpu", transport_weight=0.1))
    assert len(res.transport_cost_history) == res.steps > 0
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


class _Shrink(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = nn.Linear(3, 2)
        self.c = nn.Linear(2, 2)
        self.unused = nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c(self.c(self.b(self.a(x))))


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"blocks": ["a", "nope"]}, "unknown layers ['nope'] in _Shrink; available: ['a', 'b', "),
        ({"blocks": "a"}, "blocks='a': expected a list of block names, not a string"),
        ({"blocks": []}, "blocks is empty"),
        ({"blocks": ["a", "a"]}, "blocks must be distinct; repeated: ['a']"),
        ({"blocks": ["a"], "h": 0.0}, "h=0.0: expected a finite step size > 0"),
        ({"blocks": ["a"], "h": [1.0, 2.0]}, "h has 2 values for 1 blocks"),
        ({"blocks": ["a"], "reduction": "max"}, "reduction='max': expected one of ['mean', 'sum']"),
        ({}, "_Shrink has no residual_blocks; pass blocks=[…]"),
    ],
)
def test_construction_errors(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        TransportPenalty(_Shrink(), **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_errors_during_and_after_the_forward_pass() -> None:
    x = torch.zeros(4, 3)
    with pytest.raises(ConfigError, match=r"not-a-module|expected a torch\.nn\.Module"):
        TransportPenalty("not-a-module", blocks=["a"])  # type: ignore[arg-type]
    net = _Shrink()
    with TransportPenalty(net, blocks=["b"]) as pen, pytest.raises(
        ConfigError, match=r"block 'b' maps shape \(4, 3\) to \(4, 2\); a residual block"
    ):
        net(x)
    with TransportPenalty(net, blocks=["c"]), pytest.raises(
        ConfigError, match=r"layer 'c' ran 2 times in one forward pass; TransportPenalty needs"
    ):
        net(x)
    with TransportPenalty(net, blocks=["a", "unused"]) as pen:
        with pytest.raises(ConfigError, match=r"layer 'unused' ran 0 times in one forward pass"):
            net(x)
        with pytest.raises(ConfigError, match="no complete forward pass of _Shrink"):
            pen.cost()  # the failed pass left nothing behind
    assert repr(pen) == "TransportPenalty(_Shrink, blocks=['a', 'unused'], reduction='mean')"
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_train_refuses_a_penalty_that_does_not_fit() -> None:
    ds = moons(40)
    model = build_model(ModelSpec("resnet", width=3, depth=1), 2, 2, seed=0)
    other = build_model(ModelSpec("resnet", width=3, depth=1), 2, 2, seed=1)
    cfg = TrainConfig(epochs=1, transport_weight=0.1)
    with pytest.raises(ConfigError, match="penalty is a str; expected a TransportPenalty"):
        train(model, ds, cfg, penalty="pen")  # type: ignore[arg-type]
    with TransportPenalty(other) as pen, pytest.raises(
        ConfigError, match="penalty is attached to a ResidualMLP, not to the ResidualMLP"
    ):
        train(model, ds, cfg, penalty=pen)
    with TransportPenalty(model, reduction="sum") as pen, pytest.raises(
        ConfigError, match=r"penalty has reduction='sum' but cfg\.transport_reduction='mean'"
    ):
        train(model, ds, cfg, penalty=pen)
    with pytest.raises(ConfigError, match=r"pass penalty=TransportPenalty\(model"):
        train(build_model(ModelSpec("mlp"), 2, 2, seed=0), ds, cfg)
    assert isinstance(model, ResidualMLP)


def test_velocities_are_refused_when_a_block_output_was_changed_in_place() -> None:
    class InPlace(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                y = self.a(x)
                y.add_(1.0)  # after the block ran
            return y

    net = InPlace()
    x = torch.ones(2, 3)
    with torch.no_grad():
        expected = F.mse_loss(net.a(x), x).item()
    with TransportPenalty(net, blocks=["a"]) as pen:
        net(x)
        np.testing.assert_allclose(pen.cost().item(), expected, rtol=1e-6)  # taken when it ran
        with pytest.raises(ConfigError, match=r"block 'a': its input or output was modified in "
                                               r"place after the block ran"):
            pen.velocities()


def test_a_deep_copy_of_a_model_with_a_live_penalty_runs_without_touching_it() -> None:
    """The hooks answer only the modules they were registered on: a copy runs as a plain model,
    and the original penalty keeps its last pass."""
    from layerflow.maps import jacobian_diagnostics

    model = build_model(ModelSpec("resnet", width=4, depth=2, h=0.5), 2, 2, seed=0, dtype=F64)
    x = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    with TransportPenalty(model) as pen:
        model(x)
        before = pen.cost().detach().clone()
        clone = copy.deepcopy(model)
        out = clone(2.0 * x)  # used to raise "layer 'blocks.0' ran 0 times"
        torch.testing.assert_close(out, model(2.0 * x), rtol=0.0, atol=0.0)
        model(x)  # the original still feeds its penalty, the copy never did
        torch.testing.assert_close(pen.cost().detach(), before, rtol=0.0, atol=0.0)
        clone(3.0 * x)
        torch.testing.assert_close(pen.cost().detach(), before, rtol=0.0, atol=0.0)
        diag = jacobian_diagnostics(model, x.numpy())  # works on a deep copy of the model
        torch.testing.assert_close(pen.cost().detach(), before, rtol=0.0, atol=0.0)
    plain = jacobian_diagnostics(model, x.numpy())  # the same model without the penalty
    for a, b in zip(diag.layers, plain.layers, strict=True):
        np.testing.assert_array_equal(a.logabsdet, b.logabsdet)
    assert diag.n_applicable == 2


def test_a_penalised_transformer_can_seed_an_ensemble() -> None:
    from layerflow.data import load_dataset
    from layerflow.training import train_ensemble

    ds = load_dataset("tokens:sorted", n=16, length=4, vocab=5, seed=0)
    spec = ModelSpec("transformer", width=4, depth=1, heads=2, vocab=5)
    cfg = TrainConfig(optimizer="adam", lr=1e-2, steps=2, batch_size=8, device="cpu",
                      transport_weight=0.1)
    given = build_model(spec, 4, 2, seed=3, dtype=F64)
    with TransportPenalty(given):
        (res,) = train_ensemble(spec, ds, cfg, [3], dtype=F64, initial_models=[given])
    solo = train(build_model(spec, 4, 2, seed=3, dtype=F64), ds, dataclasses.replace(cfg, seed=3))
    assert res.transport_cost_history == solo.transport_cost_history
    assert res.ce_history == solo.ce_history


def _holds_no_tensors(pen: TransportPenalty) -> bool:
    return pen._last is None and not pen._current


def test_paused_passes_are_not_recorded() -> None:
    model = build_model(ModelSpec("resnet", width=4, depth=2), 2, 2, seed=0, dtype=F64)
    x = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    with TransportPenalty(model) as pen:
        model(x)
        before = pen.cost().detach().clone()
        with pen.paused():
            with pen.paused():  # nests
                model(2.0 * x)
            model(2.0 * x)
        torch.testing.assert_close(pen.cost().detach(), before, rtol=0.0, atol=0.0)
        pen.clear()
        with torch.no_grad(), pen.paused():
            model(x)
        assert _holds_no_tensors(pen)
        model(x)  # recording again after the block
        torch.testing.assert_close(pen.cost().detach(), before, rtol=0.0, atol=0.0)


def test_train_evaluates_without_recording_the_penalty() -> None:
    ds = moons(40)
    model = build_model(ModelSpec("resnet", width=4, depth=2), 2, 2, seed=0)
    cfg = TrainConfig(optimizer="sgd", lr=0.1, steps=3, batch_size=8, transport_weight=0.1)
    with TransportPenalty(model) as pen:
        res = train(model, ds, cfg, penalty=pen)
        assert res.status == "ok" and len(res.transport_cost_history) == 3
        assert _holds_no_tensors(pen)  # neither the last step nor the evaluation passes
        with pytest.raises(ConfigError, match="no complete forward pass"):
            pen.cost()
