"""The one forward-hook machinery (layerflow._hooks) behind capture, Jacobians and penalties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from layerflow._errors import LayerflowError
from layerflow._hooks import (
    LayerHooks,
    eval_mode,
    model_input,
    named_submodules,
    record_layers,
    takes_token_ids,
)


class _Err(LayerflowError):
    pass


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def test_records_inputs_and_outputs_with_their_graph() -> None:
    net = _net()
    x = torch.randn(5, 3, dtype=torch.float32)
    seen: dict[str, tuple[torch.Tensor | None, torch.Tensor]] = {}
    with LayerHooks(net, ["1", "2"], lambda n, a, b: seen.__setitem__(n, (a, b)),
                    inputs=True) as hooks:
        out = net(x)
        assert hooks.calls == {"1": 1, "2": 1}
        hooks.check_once()
    h = net[0](x)
    np.testing.assert_array_equal(seen["1"][0].detach().numpy(), h.detach().numpy())
    np.testing.assert_array_equal(seen["1"][1].detach().numpy(), torch.tanh(h).detach().numpy())
    assert seen["2"][1] is out and out.requires_grad  # the tensor itself, graph kept
    assert all(not m._forward_hooks for m in net.modules())


def test_record_layers_equals_the_layers_by_hand_in_any_batching() -> None:
    net = _net()
    x = torch.randn(7, 3)
    for bs in (1, 3, 100):
        io = record_layers(net, ["0", "2"], x, bs, inputs=True)
        with torch.no_grad():
            h = net[0](x)
            np.testing.assert_allclose(io["0"][0].numpy(), x.numpy())
            np.testing.assert_allclose(io["0"][1].numpy(), h.numpy(), rtol=1e-6)
            np.testing.assert_allclose(io["2"][1].numpy(), net(x).numpy(), rtol=1e-6)
        assert not io["2"][1].requires_grad


def test_modes_restored_and_hooks_removed_when_forward_raises() -> None:
    class Boom(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    net = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.2), Boom())
    net.train()
    net[1].eval()
    with pytest.raises(RuntimeError, match="boom"):
        record_layers(net, ["0"], torch.zeros(2, 3), 4)
    assert [m.training for m in net.modules()] == [True, True, False, True]
    assert all(not m._forward_hooks for m in net.modules())
    with eval_mode(net):
        assert not any(m.training for m in net.modules())
    assert net.training and not net[1].training


def test_errors_name_the_layer_and_what_was_expected() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(self.lin(x))

    with pytest.raises(_Err, match=r"unknown layers \['x'\] in Twice; available: \['lin'\]"):
        named_submodules(Twice(), ["x"], _Err)
    with pytest.raises(_Err, match=r"layers must be distinct; repeated: \['lin'\]"):
        named_submodules(Twice(), ["lin", "x", "lin"], _Err)
    with pytest.raises(_Err, match=r"blocks must be distinct; repeated: \['lin'\]"):
        named_submodules(Twice(), ["lin", "lin"], _Err, what="blocks")
    with pytest.raises(_Err, match=r"layer 'lin' ran 2 times in one forward pass; the test "
                                   r"needs each layer to run exactly once"):
        record_layers(Twice(), ["lin"], torch.zeros(2, 3), 2, needs="the test needs", error=_Err)

    class Takes(nn.Module):
        def forward(self, x: object) -> torch.Tensor:
            return torch.zeros(2, 1)

    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = Takes()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner([x])

    with pytest.raises(_Err, match=r"layer 'inner' takes list and returns Tensor; the test need "
                                   r"a tensor -> tensor layer"):
        record_layers(Outer(), ["inner"], torch.zeros(2, 3), 2, inputs=True,
                      needs="the test need", error=_Err)


def test_remove_is_idempotent() -> None:
    net = _net()
    hooks = LayerHooks(net, ["0"], lambda *a: None)
    hooks.remove()
    hooks.remove()
    net(torch.zeros(1, 3))
    assert hooks.calls == {"0": 0}


def test_model_input_gives_token_ids_exactly_and_casts_the_rest() -> None:
    emb = nn.Sequential(nn.Embedding(1000, 2))
    ids = np.array([[257.0, 513.0], [999.0, 0.0]], dtype=np.float32)
    # a model with an embedding that does not say it reads floats as ids keeps float input
    got = model_input(emb, ids, torch.device("cpu"), torch.float32)
    assert got.dtype == torch.float32 and got.tolist() == [[257.0, 513.0], [999.0, 0.0]]
    emb.float_token_ids = True  # as layerflow's transformer says
    got = model_input(emb, ids, torch.device("cpu"), torch.bfloat16)
    assert got.dtype == torch.int64
    assert got.tolist() == [[257, 513], [999, 0]]  # bfloat16 would say 256, 512, 1000
    got = model_input(emb, torch.tensor([[3, 4]], dtype=torch.int32), "cpu", torch.float32)
    assert got.dtype == torch.int64 and got.tolist() == [[3, 4]]
    assert takes_token_ids(emb) and not takes_token_ids(nn.Linear(2, 2))
    lin = nn.Linear(2, 2)
    got = model_input(lin, ids, torch.device("cpu"), torch.bfloat16)
    assert got.dtype == torch.bfloat16 and got.tolist() == [[256.0, 512.0], [1000.0, 0.0]]
    # non-whole values are not token ids: they are cast as for any model
    frac = np.array([[0.5, 1.0]])
    got = model_input(emb, frac, torch.device("cpu"), torch.float32)
    assert got.dtype == torch.float32 and got.tolist() == [[0.5, 1.0]]
