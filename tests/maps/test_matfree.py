"""Matrix-free estimates (SLQ, Lanczos bounds) against closed forms and exactly formed Jacobians.

The references are independent of the code under test: singular values chosen by hand (a linear
map ``U diag(σ) Vᵀ``: ``log|det J| = Σ log σ``, ``κ = σ_max/σ_min``), and Jacobians formed column by
column with ``torch.autograd.functional.jacobian`` and factorised by NumPy.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow.maps import MatfreeOptions, jacobian_diagnostics
from layerflow.maps._matfree import NormalOperator, matfree_layer, rows_independent

from .nets import Net

Z_MAX = 4.0  # |estimate − exact| ≤ 4 standard errors (seeded, so each check is deterministic)


def _linear(sv: np.ndarray, seed: int) -> nn.Linear:
    rng = np.random.default_rng(seed)
    d = sv.size
    U, _ = np.linalg.qr(rng.standard_normal((d, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    lin = nn.Linear(d, d, bias=False).double().requires_grad_(False)
    lin.weight.copy_(torch.as_tensor((U * sv) @ V.T))
    return lin


class Residual(nn.Module):
    """x ↦ x + h·tanh(W x + b)."""

    def __init__(self, d: int, h: float, seed: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.fc = nn.Linear(d, d).double()
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5)
            self.fc.bias.copy_(torch.randn(d, generator=g, dtype=torch.float64))
        self.h = h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.h * torch.tanh(self.fc(x))


class ConvResidual(nn.Module):
    """x ↦ x + conv(relu(conv(x))) on (C, H, W) images (a ResNet basic block without BN)."""

    def __init__(self, channels: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.c1 = nn.Conv2d(channels, channels, 3, padding=1).double()
        self.c2 = nn.Conv2d(channels, channels, 3, padding=1).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(torch.relu(self.c1(x)))


def _exact(module: nn.Module, X: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent reference: (sign det J, log|det J|, singular values) per sample."""
    signs, logs, svs = [], [], []
    for x in X:
        shape = (1, *x.shape)
        J = torch.autograd.functional.jacobian(
            lambda v, shape=shape: module(v.reshape(shape)).reshape(-1), x.reshape(-1)
        ).numpy()
        s, ld = np.linalg.slogdet(J)
        signs.append(s)
        logs.append(ld)
        svs.append(np.linalg.svd(J, compute_uv=False))
    return np.array(signs), np.array(logs), np.array(svs)


def _check_against(est: object, logdet: np.ndarray, smax: np.ndarray, smin: np.ndarray) -> None:
    z = (est.logabsdet - logdet) / est.logabsdet_se  # type: ignore[attr-defined]
    assert np.all(np.abs(z) <= Z_MAX), z
    kappa = smax / smin
    lo, hi = est.condition_bounds[:, 0], est.condition_bounds[:, 1]  # type: ignore[attr-defined]
    assert np.all(lo <= kappa * (1 + 1e-9)) and np.all(kappa <= hi * (1 + 1e-9))
    sm, sn = est.sigma_max_bounds, est.sigma_min_bounds  # type: ignore[attr-defined]
    assert np.all(sm[:, 0] <= smax * (1 + 1e-9)) and np.all(smax <= sm[:, 1] * (1 + 1e-9))
    assert np.all(sn[:, 0] <= smin * (1 + 1e-9)) and np.all(smin <= sn[:, 1] * (1 + 1e-9))


@pytest.mark.parametrize(
    ("sv", "max_steps", "resolved"),
    [
        (np.linspace(0.5, 2.0, 32), 80, True),     # well conditioned, κ = 4
        (np.geomspace(1e-3, 1.0, 32), 80, True),   # κ = 1e3, full Krylov space (exact Lanczos)
        # κ = 30 with a clustered bottom, 40 steps < d = 64: the extremes are not resolved to
        # ritz_tol, but the intervals must still hold the truth
        (np.geomspace(0.1, 3.0, 64), 40, False),
    ],
)
def test_linear_map_with_known_singular_values(
    sv: np.ndarray, max_steps: int, resolved: bool
) -> None:
    lin = _linear(sv, seed=sv.size)
    X = torch.randn(3, sv.size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    est = matfree_layer(lin, X, MatfreeOptions(max_steps=max_steps), samples_per_batch=2)
    n = X.shape[0]
    _check_against(est, np.full(n, np.log(sv).sum()), np.full(n, sv.max()), np.full(n, sv.min()))
    assert est.converged.all() == resolved
    # the interval is informative, not just valid: κ to 1 % (a factor 2 when unresolved)
    width = est.condition_bounds[:, 1] / est.condition_bounds[:, 0]
    assert np.all(width < (1.01 if resolved else 2.0))


def test_standard_error_is_calibrated_across_independent_estimates() -> None:
    # one linear map, 40 samples, each with its own probes: the z-scores of the SLQ estimates
    # should look standard normal (mean 0, spread 1), i.e. the stated error is the actual error
    sv = np.linspace(0.3, 3.0, 32)
    lin = _linear(sv, seed=7)
    X = torch.zeros(40, 32, dtype=torch.float64)
    est = matfree_layer(lin, X, MatfreeOptions(probes=16), samples_per_batch=8)
    z = (est.logabsdet - np.log(sv).sum()) / est.logabsdet_se
    assert abs(z.mean()) < 3 / math.sqrt(40)
    assert 0.6 < z.std() < 1.5


@pytest.mark.parametrize("h", [0.3, 1.5])
def test_residual_block_against_exact_jacobians(h: float) -> None:
    block = Residual(32, h, seed=3).requires_grad_(False)
    X = torch.randn(4, 32, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2
    _, logdet, sv = _exact(block, X)
    est = matfree_layer(block, X, MatfreeOptions(max_steps=30), samples_per_batch=3)
    _check_against(est, logdet, sv[:, 0], sv[:, -1])


def test_ill_conditioned_tanh_layer_against_exact_jacobians() -> None:
    # y = tanh(W x): J = diag(1 − tanh²) W with W's singular values spread over 1e-4 … 1
    lin = _linear(np.geomspace(1e-4, 1.0, 32), seed=11)
    layer = nn.Sequential(lin, nn.Tanh())
    X = torch.randn(3, 32, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    _, logdet, sv = _exact(layer, X)
    est = matfree_layer(layer, X, MatfreeOptions(), samples_per_batch=4)
    _check_against(est, logdet, sv[:, 0], sv[:, -1])
    assert np.all(sv[:, 0] / sv[:, -1] > 1e3)


def test_conv_residual_block_against_exact_jacobians() -> None:
    block = ConvResidual(2, seed=0).requires_grad_(False)  # width 2·4·4 = 32
    X = torch.randn(3, 2, 4, 4, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    _, logdet, sv = _exact(block, X)
    est = matfree_layer(block, X, MatfreeOptions(), samples_per_batch=3)
    _check_against(est, logdet, sv[:, 0], sv[:, -1])


def test_unconverged_smallest_singular_value_gives_an_open_interval() -> None:
    # 6 steps cannot resolve the bottom of a κ = 1e4 spectrum: the lower bound stays valid and
    # the upper end is infinite (or at least above the truth), never a false certainty
    sv = np.geomspace(1e-4, 1.0, 48)
    est = matfree_layer(_linear(sv, seed=1), torch.zeros(2, 48, dtype=torch.float64),
                        MatfreeOptions(max_steps=6, check_every=3), samples_per_batch=2)
    assert not est.converged.any()
    assert np.all(est.condition_bounds[:, 0] <= 1e4)
    assert np.all(est.condition_bounds[:, 1] >= 1e4)
    assert np.all(est.products == 32 * 6)


def test_estimates_do_not_depend_on_the_batching() -> None:
    block = Residual(24, 0.8, seed=1).requires_grad_(False)
    X = torch.randn(5, 24, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = matfree_layer(block, X, MatfreeOptions(seed=3), samples_per_batch=1)
    b = matfree_layer(block, X, MatfreeOptions(seed=3), samples_per_batch=5)
    np.testing.assert_allclose(a.logabsdet, b.logabsdet, rtol=1e-10)
    np.testing.assert_allclose(a.condition_bounds, b.condition_bounds, rtol=1e-8)
    c = matfree_layer(block, X, MatfreeOptions(seed=4), samples_per_batch=5)
    assert not np.allclose(a.logabsdet, c.logabsdet)  # the seed does choose the probes


def test_jacobian_diagnostics_matfree_method_reports_orientation_unknown() -> None:
    net = Net([Residual(20, 0.5, seed=0), nn.Linear(20, 3).double()])
    X = np.random.default_rng(0).standard_normal((8, 20))
    exact = jacobian_diagnostics(net, X, method="exact")
    mf = jacobian_diagnostics(net, X, method="matfree")
    lay, ref = mf.layers[0], exact.layers[0]
    assert (lay.method, ref.method, mf.layers[1].method) == ("matfree", "exact", "")
    assert mf.estimate is not None and mf.estimate.methods == ("matfree",)
    assert not lay.orientation_known.any() and ref.orientation_known.all()
    assert math.isnan(lay.fraction_orientation_preserved) and math.isnan(lay.fraction_diffeomorphic)
    assert math.isnan(mf.fraction_all) and exact.fraction_all == 1.0
    assert np.all(np.abs(lay.logabsdet - ref.logabsdet) <= Z_MAX * lay.logabsdet_se)
    assert np.all(lay.condition_bounds[:, 0] <= ref.condition * (1 + 1e-9))
    assert np.all(ref.condition <= lay.condition_bounds[:, 1] * (1 + 1e-9))
    assert lay.fraction_invertible == ref.fraction_invertible == 1.0
    # the exact path states zero estimator error and a degenerate interval
    np.testing.assert_array_equal(ref.logabsdet_se, 0.0)
    np.testing.assert_array_equal(ref.condition_bounds, np.stack([ref.condition] * 2, axis=1))


def test_options_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"MatfreeOptions.probes=1: expected an int >= 2"):
        MatfreeOptions(probes=1)
    with pytest.raises(ConfigError, match=r"extreme_probes=5 exceeds probes=4"):
        MatfreeOptions(probes=4, extreme_probes=5)
    with pytest.raises(ConfigError, match=r"MatfreeOptions.max_steps=True"):
        MatfreeOptions(max_steps=True)
    with pytest.raises(ConfigError, match=r"MatfreeOptions.quad_tol=0: expected a number > 0"):
        MatfreeOptions(quad_tol=0)
    with pytest.raises(ConfigError, match=r"MatfreeOptions.ritz_tol=nan"):
        MatfreeOptions(ritz_tol=math.nan)
    with pytest.raises(ConfigError, match=r"MatfreeOptions.seed=-1: expected an int >= 0"):
        MatfreeOptions(seed=-1)


class BatchCentred(nn.Module):
    """x ↦ tanh(W (x − mean over the batch)): its output for a row depends on the other rows."""

    def __init__(self, d: int) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.fc = nn.Linear(d, d).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(x - x.mean(dim=0, keepdim=True))) + x


def test_normal_products_both_ways_equal_the_formed_jacobian() -> None:
    block = Residual(10, 0.9, seed=4).requires_grad_(False)
    X = torch.randn(3, 10, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    V = torch.randn(3, 10, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    expected = []
    for x, v in zip(X, V, strict=True):
        J = torch.autograd.functional.jacobian(lambda z: block(z[None])[0], x).numpy()
        expected.append(J.T @ (J @ v.numpy()))
    rows = torch.arange(3)
    assert rows_independent(block, (10,), X)
    for batched in (True, False):
        got = NormalOperator(block, (10,), X, batched)(rows, V).numpy()
        np.testing.assert_allclose(got, np.stack(expected), rtol=1e-12, atol=1e-12)
    op = NormalOperator(block, (10,), X, batched=True)
    got = op(rows[1:], V[1:]).numpy()  # a new set of rows: linearised again at those rows
    np.testing.assert_allclose(got, np.stack(expected[1:]), rtol=1e-12, atol=1e-12)


def test_a_layer_that_mixes_rows_is_run_one_row_at_a_time() -> None:
    layer = BatchCentred(16).requires_grad_(False)
    X = torch.randn(3, 16, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    assert not rows_independent(layer, (16,), X)
    # the per-sample map is the layer on a batch of one (as in the exact path): x ↦ tanh(b) + x
    _, logdet, sv = _exact(layer, X)
    np.testing.assert_allclose(logdet, 0.0, atol=1e-12)
    est = matfree_layer(layer, X, MatfreeOptions(probes=4), samples_per_batch=3)
    np.testing.assert_allclose(est.logabsdet, 0.0, atol=1e-9)  # J = I: every probe exact
    np.testing.assert_allclose(est.condition, 1.0, rtol=1e-9)
    np.testing.assert_allclose(sv, 1.0, rtol=1e-12)
