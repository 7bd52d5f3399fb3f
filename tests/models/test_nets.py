from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from layerflow._errors import ConfigError
from layerflow.models import ACTIVATIONS, MLP, Activation, ModelSpec, ResidualMLP, build_model

SPECS = [
    ModelSpec("mlp", width=6, depth=3, activation="tanh"),
    ModelSpec("bottleneck", width=8, depth=5),
    ModelSpec("resnet", width=5, depth=4, activation="gelu"),
]


def _params(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_same_seed_same_weights_and_global_rng_untouched(spec: ModelSpec) -> None:
    state = torch.random.get_rng_state()
    a, b = build_model(spec, 3, 2, seed=7), build_model(spec, 3, 2, seed=7)
    c = build_model(spec, 3, 2, seed=8)
    assert torch.equal(state, torch.random.get_rng_state())
    pa, pb, pc = _params(a), _params(b), _params(c)
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k])
    assert any(not np.array_equal(pa[k], pc[k]) for k in pa)


def test_init_is_pytorch_default_uniform() -> None:
    model = build_model(ModelSpec("mlp", widths=(400,)), 100, 3, seed=0)
    w = model.blocks[0].fc.weight.detach().numpy().ravel()
    bound = 1 / math.sqrt(100)
    assert np.abs(w).max() <= bound
    # U(-b, b): mean 0, variance b²/3 (40 000 draws: standard errors ~ 3e-4 and 1e-4 relative)
    assert abs(w.mean()) < 5 * bound / math.sqrt(3 * w.size)
    np.testing.assert_allclose(w.var(), bound**2 / 3, rtol=0.03)


def test_float64_weights_are_float32_weights_unrounded() -> None:
    spec = SPECS[2]
    m32 = build_model(spec, 3, 4, seed=1)
    m64 = build_model(spec, 3, 4, seed=1, dtype=torch.float64)
    for (n, p32), (_, p64) in zip(m32.named_parameters(), m64.named_parameters(), strict=True):
        assert p64.dtype == torch.float64, n
        np.testing.assert_array_equal(p64.detach().float().numpy(), p32.detach().numpy())


def test_shapes_outputs_and_capture_layers() -> None:
    x = torch.randn(7, 3, generator=torch.Generator().manual_seed(0))
    mlp = build_model(ModelSpec("bottleneck", width=50, depth=5), 3, 2, seed=0)
    assert isinstance(mlp, MLP)
    assert [b.fc.out_features for b in mlp.blocks] == [50, 50, 25, 50, 50]
    assert mlp(x).shape == (7, 1) and mlp.out_features == 1
    assert mlp.capture_layers == [f"blocks.{i}" for i in range(5)]
    res = build_model(ModelSpec("resnet", width=4, depth=3), 3, 5, seed=0)
    assert isinstance(res, ResidualMLP)
    assert res(x).shape == (7, 5) and res.out_features == 5
    assert res.capture_layers == ["lift", "blocks.0", "blocks.1", "blocks.2"]
    assert len(res.blocks) == 3 and res.h == pytest.approx(1 / 3)


def test_residual_forward_and_transport_cost_by_hand() -> None:
    """x_{k+1} = x_k + h·(W2 act(W1 x_k + b1) + b2); C = Σ_k mean_i ‖r_k‖² ("sum") and C/d
    ("mean", the default), computed by hand."""
    model = build_model(ModelSpec("resnet", width=3, depth=2, h=0.3, activation="tanh"), 2, 3, seed=4)
    sd = {k: v.detach().numpy().astype(np.float64) for k, v in model.state_dict().items()}
    X = np.array([[0.5, -1.0], [2.0, 0.25], [-0.3, 0.7]])
    x = X @ sd["lift.weight"].T + sd["lift.bias"]
    cost = 0.0
    for k in range(2):
        hid = np.tanh(x @ sd[f"blocks.{k}.fc1.weight"].T + sd[f"blocks.{k}.fc1.bias"])
        r = hid @ sd[f"blocks.{k}.fc2.weight"].T + sd[f"blocks.{k}.fc2.bias"]
        cost += float(np.mean([r[i] @ r[i] for i in range(3)]))
        x = x + 0.3 * r
    logits = x @ sd["head.weight"].T + sd["head.bias"]
    got_logits, got_cost = model.forward_with_transport(torch.tensor(X, dtype=torch.float32),
                                                        reduction="sum")
    np.testing.assert_allclose(got_logits.detach().numpy(), logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model(torch.tensor(X, dtype=torch.float32)).detach().numpy(),
                               logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got_cost.item(), cost, rtol=1e-5)
    # the default is the authors' cost: the mean over the coordinates too, C/width
    _, mean_cost = model.forward_with_transport(torch.tensor(X, dtype=torch.float32))
    np.testing.assert_allclose(mean_cost.item(), cost / 3, rtol=1e-5)


def test_transport_cost_gradcheck_float64() -> None:
    model = build_model(ModelSpec("resnet", width=3, depth=2, activation="tanh"), 2, 2, seed=0,
                        dtype=torch.float64)
    names = [n for n, _ in model.named_parameters()]
    x = torch.randn(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x.requires_grad_(True)

    wrapper = _CostOnly(model)

    def cost(inp: torch.Tensor, *params: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(wrapper, dict(zip(names, params, strict=True)), (inp,))

    params = tuple(p.detach().clone().requires_grad_(True) for p in model.parameters())
    assert torch.autograd.gradcheck(cost, (x, *params), eps=1e-6, atol=1e-6)


class _CostOnly(torch.nn.Module):
    """Exposes ``C`` of a ResidualMLP as the forward output (for functional_call)."""

    def __init__(self, model: ResidualMLP) -> None:
        super().__init__()
        self.lift, self.blocks, self.head = model.lift, model.blocks, model.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ResidualMLP.forward_with_transport(self, x)[1]  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_forward_stacked_equals_each_member(spec: ModelSpec) -> None:
    members = [build_model(spec, 3, 3, seed=s, dtype=torch.float64) for s in range(4)]
    names = [n for n, _ in members[0].named_parameters()]
    stacked = {n: torch.stack([dict(m.named_parameters())[n] for m in members]) for n in names}
    x = torch.randn(4, 6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    logits, cost = members[0].forward_stacked(stacked, x, transport=spec.kind == "resnet")
    for e, m in enumerate(members):
        if spec.kind == "resnet":
            ref_logits, ref_cost = m.forward_with_transport(x[e])
            assert cost is not None
            np.testing.assert_allclose(cost[e].item(), ref_cost.item(), rtol=1e-12)
            _, sum_cost = members[0].forward_stacked(stacked, x, True, "sum")
            assert sum_cost is not None
            np.testing.assert_allclose(sum_cost[e].item(),
                                       m.forward_with_transport(x[e], "sum")[1].item(), rtol=1e-12)
        else:
            ref_logits = m(x[e])
        np.testing.assert_allclose(logits[e].detach().numpy(), ref_logits.detach().numpy(),
                                   rtol=1e-12, atol=1e-12)


def test_unknown_transport_reduction() -> None:
    m = build_model(ModelSpec("resnet", width=3, depth=1), 3, 2, seed=0)
    with pytest.raises(ConfigError, match=r"reduction='max': expected one of \['mean', 'sum'\]"):
        m.forward_with_transport(torch.zeros(2, 3), reduction="max")
    stacked = {n: p.unsqueeze(0) for n, p in m.named_parameters()}
    with pytest.raises(ConfigError, match=r"reduction='l1'"):
        m.forward_stacked(stacked, torch.zeros(1, 2, 3), True, "l1")


def test_mlp_has_no_stacked_transport() -> None:
    m = build_model(SPECS[0], 3, 2, seed=0)
    stacked = {n: p.unsqueeze(0) for n, p in m.named_parameters()}
    with pytest.raises(ConfigError, match="kind='resnet'"):
        m.forward_stacked(stacked, torch.zeros(1, 2, 3), transport=True)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_registry(name: str) -> None:
    x = torch.linspace(-3, 3, 13)
    expected = {
        "relu": torch.clamp(x, min=0), "tanh": torch.tanh(x), "gelu": F.gelu(x),
        "sigmoid": 1 / (1 + torch.exp(-x)), "silu": x / (1 + torch.exp(-x)),
        "elu": torch.where(x > 0, x, torch.exp(x) - 1), "leaky_relu": torch.where(x > 0, x, 0.01 * x),
        "softplus": torch.log1p(torch.exp(x)), "identity": x,
    }[name]
    np.testing.assert_allclose(Activation(name)(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_unknown_activation_module() -> None:
    with pytest.raises(ConfigError, match="activation='nope'"):
        Activation("nope")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("notaspec", 3, 2, 0), "expected a ModelSpec"),
        ((SPECS[0], 0, 2, 0), "in_dim=0"),
        ((SPECS[0], 3, 1, 0), "n_classes=1"),
        ((SPECS[0], 3, 2, 1.5), "seed=1.5"),
    ],
)
def test_build_model_errors(args: tuple[object, ...], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_model(*args)  # type: ignore[arg-type]
    assert needle in str(info.value)


def test_build_model_rejects_integer_dtype() -> None:
    with pytest.raises(ConfigError, match=r"dtype=torch\.int64"):
        build_model(SPECS[0], 3, 2, seed=0, dtype=torch.int64)
