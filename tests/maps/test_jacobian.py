"""Jacobian diagnostics against central finite differences and closed-form determinants."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow.maps import DEFAULT_COND_MAX, jacobian_diagnostics

from .nets import Net


class Fold(nn.Module):
    """(x1, x2) ↦ (x1², x2): det J = 2·x1, negative on half the plane."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 0] ** 2, x[:, 1]], dim=1)


class Residual(nn.Module):
    """x ↦ x + h·tanh(W x + b)."""

    def __init__(self, d: int, h: float, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.fc = nn.Linear(d, d)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(d, d, generator=g))
            self.fc.bias.copy_(torch.randn(d, generator=g))
        self.h = h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.h * torch.tanh(self.fc(x))


class Twice(Net):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks[0](self.blocks[0](x))


def _fd_jacobians(f: nn.Module, X: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences, float64: J[i, :, k] = (f(x_i + eps e_k) − f(x_i − eps e_k)) / 2eps."""
    x = torch.as_tensor(X, dtype=torch.float64)
    cols = []
    with torch.no_grad():
        for k in range(x.shape[1]):
            e = torch.zeros_like(x)
            e[:, k] = eps
            cols.append(((f(x + e) - f(x - e)) / (2 * eps)).numpy())
    return np.stack(cols, axis=2)


def test_matches_finite_differences(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    net = Net([Residual(4, 0.7, 1), nn.Sequential(nn.Linear(4, 4), nn.Tanh()),
               nn.Sequential(nn.Linear(4, 3), nn.Tanh())]).double()
    X = rng.standard_normal((60, 4))
    diag = jacobian_diagnostics(net, X)
    assert [lay.name for lay in diag.layers] == ["blocks.0", "blocks.1", "blocks.2"]
    x = torch.as_tensor(X)
    for layer, block in zip(diag.layers[:2], net.blocks[:2], strict=True):
        J = _fd_jacobians(block.double(), x.numpy())
        sign, logdet = np.linalg.slogdet(J)
        np.testing.assert_allclose(layer.logabsdet, logdet, rtol=1e-7, atol=1e-8)
        np.testing.assert_array_equal(layer.orientation_preserved, sign > 0)
        np.testing.assert_allclose(layer.condition, np.linalg.cond(J), rtol=1e-6)
        with torch.no_grad():
            x = block(x)
    last = diag.layers[2]
    assert not last.applicable and "input width 4 != output width 3" in last.reason
    assert last.logabsdet.shape == (0,) and np.isnan(last.fraction_diffeomorphic)
    assert diag.n_applicable == 2


def test_small_step_residual_is_orientation_preserving(rng: np.random.Generator) -> None:
    # J = I + h·diag(1 − tanh²)·W with h‖W‖₂ < 1: I + tA is non-singular for t ∈ [0, 1], so det > 0
    blocks = []
    for s in range(3):
        blk = Residual(5, 1.0, seed=s)
        blk.h = 0.9 / float(torch.linalg.matrix_norm(blk.fc.weight.detach(), ord=2))
        blocks.append(blk)
    diag = jacobian_diagnostics(Net(blocks), rng.standard_normal((300, 5)) * 3)
    for layer in diag.layers:
        assert layer.fraction_diffeomorphic == 1.0
        assert np.all(layer.condition < (1 + 0.9) / (1 - 0.9) + 1e-9)  # σ ∈ [1 − h‖W‖, 1 + h‖W‖]
    assert diag.fraction_all == 1.0


def test_fold_is_not_orientation_preserving(rng: np.random.Generator) -> None:
    X = rng.standard_normal((400, 2))
    diag = jacobian_diagnostics(Net([Fold()]), X)
    layer = diag["blocks.0"]
    np.testing.assert_array_equal(layer.orientation_preserved, X[:, 0] > 0)
    np.testing.assert_allclose(layer.logabsdet, np.log(2 * np.abs(X[:, 0])), rtol=1e-12)
    assert layer.fraction_diffeomorphic == pytest.approx(np.mean(X[:, 0] > 0))
    assert 0.4 < layer.fraction_diffeomorphic < 0.6


def test_relu_layer_closed_form(rng: np.random.Generator) -> None:
    # y = relu(Wx + b): J = diag(1[z > 0]) W, a diffeomorphism iff all z > 0 and det W > 0
    torch.manual_seed(3)
    lin = nn.Linear(3, 3).double()
    with torch.no_grad():
        lin.weight.copy_(torch.diag(torch.tensor([2.0, 1.0, 0.5])) + 0.1)
        lin.bias.fill_(0.5)
    X = rng.standard_normal((500, 3))
    Z = X @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    assert np.linalg.det(lin.weight.detach().numpy()) > 0
    diag = jacobian_diagnostics(Net([nn.Sequential(lin, nn.ReLU())]), X)
    np.testing.assert_array_equal(diag.layers[0].diffeomorphic, np.all(Z > 0, axis=1))
    # a dead unit makes J singular: σ_min is 0 (or rounds to ~1e-17), far above the threshold
    assert np.all(diag.layers[0].condition[~np.all(Z > 0, axis=1)] >= DEFAULT_COND_MAX)


def test_model_is_untouched_and_default_layers(rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 4))  # float32, training mode
    before = [p.detach().clone() for p in model.parameters()]
    diag = jacobian_diagnostics(model, rng.standard_normal((10, 2)).astype(np.float32))
    assert [lay.name for lay in diag.layers] == ["0", "1", "2"]
    assert [lay.applicable for lay in diag.layers] == [True, True, False]
    assert model.training and next(model.parameters()).dtype == torch.float32
    for a, b in zip(before, model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_layerflow_resnet_with_small_h(rng: np.random.Generator) -> None:
    from layerflow.models import ModelSpec, build_model

    model = build_model(ModelSpec(kind="resnet", width=6, depth=4, h=0.05), in_dim=2,
                        n_classes=2, seed=0)
    diag = jacobian_diagnostics(model, rng.standard_normal((100, 2)))
    assert not diag.layers[0].applicable  # the lift 2 -> 6
    assert diag.n_applicable == 4 and diag.fraction_all == 1.0


def test_errors(rng: np.random.Generator) -> None:
    net = Net([Fold()])
    X = rng.standard_normal((5, 2))
    with pytest.raises(ConfigError, match=r"unknown layers \['nope'\] in Net; available"):
        jacobian_diagnostics(net, X, layers=["nope"])
    with pytest.raises(ConfigError, match=r"layers must be distinct; repeated: \['blocks.0'\]"):
        jacobian_diagnostics(net, X, layers=["blocks.0", "blocks.0"])
    with pytest.raises(ConfigError, match=r"layers='blocks.0': expected a list"):
        jacobian_diagnostics(net, X, layers="blocks.0")
    with pytest.raises(ConfigError, match=r"model is a ndarray"):
        jacobian_diagnostics(X, X)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"cond_max=1: expected a number > 1"):
        jacobian_diagnostics(net, X, cond_max=1)
    with pytest.raises(ConfigError, match=r"batch_size=0"):
        jacobian_diagnostics(net, X, batch_size=0)
    with pytest.raises(ConfigError, match=r"X has shape \(5,\)"):
        jacobian_diagnostics(net, X[:, 0])
    bad = X.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ConfigError, match=r"NaN or infinite values in 1 of 5 rows \(first: row 1\)"):
        jacobian_diagnostics(net, bad)
    with pytest.raises(ConfigError, match=r"no layers to diagnose"):
        jacobian_diagnostics(net, X, layers=[])
    with pytest.raises(ConfigError, match=r"ran 2 times in one forward pass"):
        jacobian_diagnostics(Twice([Fold()]), X)
    with pytest.raises(KeyError, match=r"no layer 'x'"):
        jacobian_diagnostics(net, X)["x"]


class _Packs(nn.Module):
    """Returns a dict, as attention blocks and some wrappers do."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"h": torch.tanh(x)}


class _DictNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pack = _Packs()
        self.head = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pack(x)["h"])


def test_layer_returning_a_non_tensor_is_refused_naming_the_types() -> None:
    X = np.random.default_rng(0).standard_normal((6, 2))
    with pytest.raises(ConfigError, match=r"layer 'pack' takes Tensor and returns dict; Jacobian "
                       r"diagnostics need a tensor -> tensor layer"):
        jacobian_diagnostics(_DictNet(), X, layers=["pack"])
    assert len(jacobian_diagnostics(_DictNet(), X, layers=["head"]).layers) == 1  # the rest works
