from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from layerflow._capture import capture
from layerflow._errors import ConfigError
from layerflow.models import ModelSpec, build_model


def _x(n: int = 10, d: int = 3) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, d)).astype(np.float32)


def test_resnet_capture_equals_running_the_layers_by_hand() -> None:
    model = build_model(ModelSpec("resnet", width=4, depth=3), 3, 2, seed=0)
    X = _x()
    traj = capture(model, X, batch_size=4, labels=np.arange(10) % 2)
    assert traj.layer_names == ("input", "lift", "blocks.0", "blocks.1", "blocks.2")
    with torch.no_grad():
        x = torch.from_numpy(X)
        expected = [X]
        s = model.lift(x)
        expected.append(s.numpy())
        for k in range(3):
            blk = model.blocks[k]
            s = s + (1 / 3) * blk.fc2(torch.relu(blk.fc1(s)))
            expected.append(s.numpy())
    assert len(traj.states) == len(expected)
    for got, exp in zip(traj.states, expected, strict=True):
        np.testing.assert_allclose(got, exp, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(traj.labels, np.arange(10) % 2)
    assert traj.metadata["model"] == "ResidualMLP"


def test_mlp_default_layers_and_torch_input() -> None:
    model = build_model(ModelSpec("bottleneck", width=6, depth=3), 3, 2, seed=1)
    X = torch.from_numpy(_x())
    traj = capture(model, X)
    assert traj.widths == (3, 6, 3, 6)
    with torch.no_grad():
        h = X
        for i, blk in enumerate(model.blocks):
            h = torch.relu(h @ blk.fc.weight.T + blk.fc.bias)
            np.testing.assert_allclose(traj.states[i + 1], h.numpy(), rtol=1e-5, atol=1e-6)


def test_batches_do_not_change_states_and_input_is_flattened() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.Tanh())
    X = np.random.default_rng(1).normal(size=(9, 2, 3))
    a = capture(model, X, batch_size=2)
    b = capture(model, X, batch_size=100)
    assert a.layer_names == ("input", "0", "1", "2")  # top-level children by default
    assert a.states[0].shape == (9, 6)
    for sa, sb in zip(a.states, b.states, strict=True):
        np.testing.assert_allclose(sa, sb, rtol=1e-6, atol=1e-7)


def test_mode_weights_and_hooks_restored() -> None:
    model = build_model(ModelSpec("mlp", width=5, depth=2), 3, 3, seed=0)
    model.blocks.append(nn.Dropout(0.5))  # would change outputs in train mode
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    a = capture(model, _x(), layers=["blocks.2"])
    b = capture(model, _x(), layers=["blocks.2"])
    np.testing.assert_array_equal(a.states[1], b.states[1])  # eval mode: dropout off
    assert model.training
    model.eval()
    capture(model, _x())
    assert not model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert all(not m._forward_hooks for m in model.modules())



def test_mixed_modes_restored() -> None:
    """A frozen sub-module kept in eval inside a training model stays in eval (SPEC §1)."""
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5), nn.Linear(3, 2))
    model.train()
    model[1].eval()
    capture(model, _x(), layers=["0", "2"])
    assert [m.training for m in model.modules()] == [True, True, False, True]

class _Boom(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


def test_hooks_removed_and_mode_restored_when_forward_raises() -> None:
    model = nn.Sequential(nn.Linear(3, 3), _Boom())
    model.train()
    with pytest.raises(RuntimeError, match="boom"):
        capture(model, _x(), layers=["0"])
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training


class _TupleOut(nn.Module):
    def __init__(self, first: object) -> None:
        super().__init__()
        self.first = first
        self.lin = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> object:
        y = self.lin(x)
        if self.first == "tensor":
            return (y, "extra")
        if self.first == "dict":
            return {"y": y}
        return (self.first, y)


class _Wrap(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> object:
        return self.inner(x)


def test_tuple_output_takes_first_tensor() -> None:
    model = _Wrap(_TupleOut("tensor"))
    traj = capture(model, _x(), layers=["inner"])
    with torch.no_grad():
        expected = model.inner.lin(torch.from_numpy(_x())).numpy()
    np.testing.assert_allclose(traj.states[1], expected, rtol=1e-6)


@pytest.mark.parametrize(("first", "needle"), [("text", "first element is str"),
                                               ("dict", "returned dict, not a tensor")])
def test_non_tensor_outputs_refused(first: str, needle: str) -> None:
    model = _Wrap(_TupleOut(first))
    with pytest.raises(ConfigError, match=needle):
        capture(model, _x(), layers=["inner"])
    assert all(not m._forward_hooks for m in model.modules())


def test_empty_tuple_refused() -> None:
    class Empty(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[()]:
            return ()

    with pytest.raises(ConfigError, match="first element is nothing"):
        capture(_Wrap(Empty()), _x(), layers=["inner"])


def test_unknown_layer_lists_available() -> None:
    model = build_model(ModelSpec("mlp", width=3, depth=1), 3, 2, seed=0)
    with pytest.raises(ConfigError) as info:
        capture(model, _x(), layers=["blocks.0", "nope"])
    msg = str(info.value)
    assert "['nope']" in msg and "'blocks.0.fc'" in msg and "'head'" in msg


class _Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(self.lin(x))


class _Reduce(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.pool = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.lin(x).sum(dim=0))


class _Leaf(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.parametrize(
    ("model", "kwargs", "needle"),
    [
        (_Twice(), {"layers": ["lin"]}, "ran 2 times"),
        (_Reduce(), {"layers": ["pool"]}, "expected a batch-first output"),
        (_Leaf(), {}, "has no submodules"),
        (_Twice(), {"layers": []}, "layers is empty"),
        (_Twice(), {"layers": "lin"}, "not a string"),
        (_Twice(), {"layers": ["lin", "lin"]}, "repeated: ['lin']"),
        (_Twice(), {"layers": ["lin"], "batch_size": 0}, "batch_size=0"),
        (nn.Sequential(nn.Identity()), {"layers": ["0"], "X": np.zeros((0, 3))}, "0 samples"),
        (nn.Sequential(nn.Identity()), {"layers": ["0"], "X": np.float32(1.0)}, "scalar"),
        (nn.Sequential(nn.Identity()), {"layers": ["0"], "X": np.array([["a"]])}, "dtype <U1"),
        (nn.Sequential(nn.Identity()), {"layers": ["0"], "X": torch.zeros(2, 3, dtype=torch.cfloat)},
         "complex"),
        (nn.ModuleDict({"input": nn.Identity()}), {"layers": ["input"]}, "clashes"),
    ],
)
def test_capture_errors(model: nn.Module, kwargs: dict[str, object], needle: str) -> None:
    X = kwargs.pop("X", _x())
    with pytest.raises(ConfigError) as info:
        capture(model, X, **kwargs)  # type: ignore[arg-type]
    assert needle in str(info.value)
    assert all(not m._forward_hooks for m in model.modules())


def test_model_must_be_a_module() -> None:
    with pytest.raises(ConfigError, match=r"expected a torch\.nn\.Module"):
        capture("model", _x())  # type: ignore[arg-type]


def test_metadata_merged_and_model_dtype_used() -> None:
    model = build_model(ModelSpec("mlp", width=3, depth=1), 3, 2, seed=0, dtype=torch.float64)
    traj = capture(model, _x(), metadata={"data": "moons"})
    assert {k: traj.metadata[k] for k in ("model", "data")} == {"model": "MLP", "data": "moons"}
    # how it ran: threads, device and versions (from torch itself, not from layerflow)
    assert traj.metadata["threads"] == torch.get_num_threads()
    assert traj.metadata["device"] == "cpu" and traj.metadata["torch"] == torch.__version__
    assert traj.states[1].dtype == np.float64


def test_lf_capture_callable_after_importing_the_module() -> None:
    """`from layerflow._capture import …` first must not turn `lf.capture` into a plain module."""
    import subprocess
    import sys

    code = (
        "from layerflow._capture import ConfigError\n"
        "import numpy as np, torch, layerflow as lf\n"
        "net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh())\n"
        "t = lf.capture(net, np.ones((4, 2), dtype=np.float32))\n"
        "print(t.widths)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "(2, 3, 3)"


def test_scalar_and_unconvertible_inputs_are_refused() -> None:
    net = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(ConfigError, match=r"X is a scalar; expected an array of shape \(N, …\)"):
        capture(net, torch.tensor(1.0), layers=["0"])
    with pytest.raises(ConfigError, match=r"X could not be converted to an array"):
        capture(net, [[1.0, 2.0], [3.0]], layers=["0"])


def test_a_bfloat16_model_is_captured_as_float32() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh()).to(torch.bfloat16)
    X = _x(6, 3)
    traj = capture(model, X)
    xb = torch.as_tensor(X).to(torch.bfloat16)
    with torch.no_grad():
        h1 = model[0](xb)
        h2 = torch.tanh(h1)
    for state, want in zip(traj.states, (xb, h1, h2), strict=True):
        assert state.dtype == np.float32
        np.testing.assert_array_equal(state, np.array(want.tolist(), dtype=np.float32))
