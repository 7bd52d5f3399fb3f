"""The post-add rule (a residual block whose output passes an activation after the add) and the
refusal of shape-changing blocks, shared by capture, the transport penalty and the Jacobians.

A hand-written block with torchvision's structure (an in-place ReLU module called twice, the
second time after the add) declares its activation; torchvision's own blocks are tested in
tests/test_vision.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import layerflow as lf
from layerflow._errors import ConfigError, LayerflowError
from layerflow._hooks import (
    LayerHooks,
    PreActivation,
    post_add_activation,
    post_add_layers,
    record_layers,
    shape_change,
)
from layerflow.maps import jacobian_diagnostics


class PostAdd(nn.Module):
    """``relu(x + fc2(relu(fc1 x)))`` with one in-place ReLU module used twice."""

    post_add_activation = "act"

    def __init__(self, d: int, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.fc1, self.fc2 = nn.Linear(d, d), nn.Linear(d, d)
        with torch.no_grad():
            for fc in (self.fc1, self.fc2):
                fc.weight.copy_(torch.randn(d, d, generator=g) / d ** 0.5)
                fc.bias.copy_(torch.randn(d, generator=g))
        self.act = nn.ReLU(inplace=True)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x), computed without the module's activation object."""
        return self.fc2(torch.relu(self.fc1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc2(self.act(self.fc1(x)))
        out = out + x
        return self.act(out)


class Net(nn.Module):
    def __init__(self, d: int = 4, n: int = 2) -> None:
        super().__init__()
        self.stem = nn.Linear(3, d)
        self.stage = nn.Sequential(*(PostAdd(d, seed) for seed in range(n)))
        self.head = nn.Linear(d, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stage(self.stem(x)))


def _by_hand(net: Net, x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, x + F(x)) of every block, computed without hooks."""
    h = net.stem(x)
    out = []
    for block in net.stage:
        s = h + block.branch(h)
        out.append((h, s))
        h = torch.relu(s)
    return out


def test_blocks_are_recorded_before_their_post_add_activation() -> None:
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(6, 3)
    io = record_layers(net, ["stage.0", "stage.1", "stage"], x, 4, inputs=True)
    with torch.no_grad():
        hand = _by_hand(net, x)
    for i, (inp, s) in enumerate(hand):
        np.testing.assert_allclose(io[f"stage.{i}"][0].numpy(), inp.numpy(), rtol=1e-6)
        np.testing.assert_allclose(io[f"stage.{i}"][1].numpy(), s.numpy(), rtol=1e-6)
        assert (s < 0).any()  # the activation would have clipped these: the test can tell
    # a stage ends with its last block's activation: read before it too
    np.testing.assert_allclose(io["stage"][1].numpy(), hand[-1][1].numpy(), rtol=1e-6)
    out = record_layers(net, ["stage.0"], x, 4, post_add="output")["stage.0"][1]
    np.testing.assert_allclose(out.numpy(), torch.relu(hand[0][1]).detach().numpy(), rtol=1e-6)
    assert post_add_layers(net, ["stem", "stage.0", "stage"]) == {
        "stage.0": "stage.0.act", "stage": "stage.1.act"}
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())


def test_refuse_and_unknown_rules_name_the_block_and_the_alternatives() -> None:
    net = Net()
    with pytest.raises(LayerflowError, match=r"layer 'stage.0' applies its activation "
                       r"'stage.0.act' after the residual add .*post_add='pre_activation'.*"
                       r"post_add='output'"):
        LayerHooks(net, ["stage.0"], lambda *a: None, post_add="refuse")
    with pytest.raises(LayerflowError, match=r"post_add='after': expected one of "
                       r"\['pre_activation', 'output', 'refuse'\]"):
        LayerHooks(net, ["stage.0"], lambda *a: None, post_add="after")
    LayerHooks(net, ["stem"], lambda *a: None, post_add="refuse").remove()  # not a post-add block


def test_declared_activation_must_exist_and_must_end_the_block() -> None:
    class Bad(PostAdd):
        post_add_activation = "missing"

    with pytest.raises(LayerflowError, match=r"Bad.post_add_activation='missing': expected "
                       "the name of the submodule"):
        post_add_activation(Bad(2, 0))

    class NotLast(PostAdd):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(x + self.fc1(x)) * 2.0

    net = nn.Sequential(NotLast(2, 0))
    with pytest.raises(LayerflowError, match=r"layer '0': its output is not the output of its "
                       r"post-add activation '0.act'"):
        record_layers(net, ["0"], torch.randn(3, 2), 3)
    with pytest.raises(LayerflowError, match=r"Linear applies no known activation"):
        PreActivation(nn.Linear(2, 2))
    assert post_add_activation(nn.Sequential()) is None
    assert shape_change(nn.Linear(3, 2)) is None  # not inspected: only known block types are


def test_a_reused_activation_is_refused_with_a_way_forward() -> None:
    net = Net()
    with pytest.raises(lf.ConfigError, match=r"layer 'stage.0.act' ran 2 times in one forward "
                       r"pass; capture needs each layer to run exactly once; .*name the module "
                       r"that calls it, 'stage.0'"):
        lf.capture(net, torch.randn(3, 3), layers=["stage.0.act"])


def test_capture_records_the_rule_in_the_metadata() -> None:
    net = Net()
    x = torch.randn(5, 3)
    traj = lf.capture(net, x, layers=["stem", "stage.0", "stage.1"])
    assert traj.metadata["pre_activation"] == "stage.0,stage.1"
    with torch.no_grad():
        hand = _by_hand(net, x)
    np.testing.assert_allclose(traj.states[2], hand[0][1].numpy(), rtol=1e-6)
    assert "pre_activation" not in lf.capture(net, x, layers=["stem"]).metadata


def test_penalty_velocity_is_the_residual_branch_and_its_gradient_is_right() -> None:
    torch.manual_seed(0)
    net = Net()
    x = torch.randn(6, 3)
    with lf.TransportPenalty(net, ["stage.0", "stage.1"], h=0.5) as pen:
        net(x)
        cost = pen.cost()
        vel = pen.velocities()
        assert pen.pre_activation == {"stage.0": "stage.0.act", "stage.1": "stage.1.act"}
        grads = torch.autograd.grad(cost, list(net.parameters()), allow_unused=True)
    hand = _by_hand(net, x)
    expected = sum(((s - h) / 0.5).pow(2).mean() for h, s in hand)
    for v, (h, s) in zip(vel, hand, strict=True):
        np.testing.assert_allclose(v.detach().numpy(), ((s - h) / 0.5).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cost, expected)
    ref = torch.autograd.grad(expected, list(net.parameters()), allow_unused=True)
    for a, b in zip(grads, ref, strict=True):
        if b is None:
            assert a is None or float(a.abs().max()) == 0.0
        else:
            torch.testing.assert_close(a, b)
    with lf.TransportPenalty(net, ["stage.0"], post_add="output") as pen:
        net(x)
        clipped = pen.velocities()[0] * 1.0 + hand[0][0]  # relu(x + F(x))
    np.testing.assert_allclose(clipped.detach().numpy(),
                               torch.relu(hand[0][1]).detach().numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ConfigError, match=r"layer 'stage.1' applies its activation"):
        lf.TransportPenalty(net, ["stage.1"], post_add="refuse")


def test_penalty_with_an_example_refuses_shape_changes_at_construction() -> None:
    net = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 2))
    with pytest.raises(ConfigError, match=r"block '1' \(Linear\) maps shape \(4, 3\) to "
                       r"\(4, 2\) on the example input; a residual block"):
        lf.TransportPenalty(net, ["0", "1"], example=torch.zeros(4, 3))
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in net.modules())
    with pytest.raises(ConfigError, match=r"example is a list; expected a tensor"):
        lf.TransportPenalty(net, ["0"], example=[1.0, 2.0])
    unused = nn.ModuleDict({"a": nn.Linear(3, 3), "b": nn.Linear(3, 3)})

    class Only(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = unused

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.m["a"](x)

    with pytest.raises(ConfigError, match=r"block 'm.b' did not run on the example input"):
        lf.TransportPenalty(Only(), ["m.b"], example=torch.zeros(2, 3))
    pen = lf.TransportPenalty(net, ["0"], example=torch.zeros(4, 3))  # keeps its shape: built
    pen.remove()


def test_jacobian_of_a_post_add_block_is_that_of_x_plus_f() -> None:
    torch.manual_seed(0)
    net = Net(d=4).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    res = jacobian_diagnostics(net, x, layers=["stage.0"], method="exact")
    lay = res["stage.0"]
    h = net.stem(x).detach()
    block = net.stage[0]
    for i in range(5):
        J = torch.autograd.functional.jacobian(lambda v: v + block.branch(v), h[i])
        np.testing.assert_allclose(lay.logabsdet[i], float(torch.linalg.slogdet(J)[1]),
                                   rtol=1e-10)
    assert np.isfinite(lay.logabsdet).all()
    # the activation included: singular wherever a unit is clipped
    out = jacobian_diagnostics(net, x, layers=["stage.0"], method="exact",
                               post_add="output")["stage.0"]
    clipped = ((h + block.branch(h)) <= 0).any(dim=1).numpy()
    assert clipped.any()
    assert np.all(out.logabsdet[clipped] == -np.inf)
    assert not out.diffeomorphic[clipped].any()
    with pytest.raises(ConfigError, match=r"post_add='x': expected one of"):
        jacobian_diagnostics(net, x, layers=["stage.0"], post_add="x")
    with pytest.raises(ConfigError, match=r"layer 'stage.0' applies its activation"):
        jacobian_diagnostics(net, x, layers=["stage.0"], post_add="refuse")


def test_pre_activation_module_differentiates_x_plus_f() -> None:
    block = PostAdd(3, 1).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    wrapped = PreActivation(block)
    torch.testing.assert_close(wrapped(x), x + block.branch(x))
    from torch.func import jacrev, vmap

    J = vmap(jacrev(lambda v: wrapped(v[None])[0]))(x)
    ref = torch.stack([torch.autograd.functional.jacobian(lambda v: v + block.branch(v), r)
                       for r in x])
    torch.testing.assert_close(J, ref)
