"""Batched Lanczos against NumPy's eigendecomposition of explicit symmetric matrices."""

from __future__ import annotations

import numpy as np
import torch

from layerflow.maps._lanczos import lanczos, ritz


def _spd(rng: np.random.Generator, d: int, eigenvalues: np.ndarray) -> np.ndarray:
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (Q * eigenvalues) @ Q.T


def _operator(mats: np.ndarray):  # type: ignore[no-untyped-def]
    A = torch.as_tensor(mats)

    def apply(rows: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bij,bj->bi", A[rows], V)

    return apply


def test_full_run_recovers_the_spectrum_and_the_quadratic_form(rng: np.random.Generator) -> None:
    d = 12
    spectra = [np.linspace(0.5, 3.0, d), np.geomspace(1e-3, 10.0, d), rng.uniform(1, 2, d)]
    mats = np.stack([_spd(rng, d, ev) for ev in spectra])
    Z = rng.choice([-1.0, 1.0], size=(3, d))
    run = lanczos(_operator(mats), torch.as_tensor(Z), max_steps=50)
    assert run.steps.tolist() == [d, d, d]  # capped at the width
    theta, weights, _ = ritz(run.alpha, run.beta, run.steps)
    for r, ev in enumerate(spectra):
        np.testing.assert_allclose(theta[r].numpy(), np.sort(ev), rtol=1e-9, atol=1e-12)
        # Gauss quadrature with d nodes is exact: ‖z‖² Σ S₁ᵢ² log θᵢ = zᵀ log(A) z
        w, V = np.linalg.eigh(mats[r])
        exact = Z[r] @ (V * np.log(w)) @ V.T @ Z[r]
        quad = d * float((weights[r] * torch.log(theta[r])).sum())
        np.testing.assert_allclose(quad, exact, rtol=1e-8)


def test_partial_run_ritz_values_interlace_and_residuals_bound_the_distance(
    rng: np.random.Generator,
) -> None:
    d, k = 40, 9
    mats = np.stack([_spd(rng, d, rng.uniform(0.1, 5.0, d)) for _ in range(4)])
    Z = rng.choice([-1.0, 1.0], size=(4, d))
    run = lanczos(_operator(mats), torch.as_tensor(Z), max_steps=k)
    assert run.steps.tolist() == [k] * 4 and not run.stopped.any()
    theta, _, residual = ritz(run.alpha, run.beta, run.steps)
    for r in range(4):
        ev = np.linalg.eigvalsh(mats[r])
        assert ev[0] - 1e-12 <= theta[r].min() and theta[r].max() <= ev[-1] + 1e-12
        for t, res in zip(theta[r].numpy(), residual[r].numpy(), strict=True):
            assert np.min(np.abs(ev - t)) <= res * (1 + 1e-8) + 1e-12


def test_breakdown_stops_a_row_with_an_exact_answer(rng: np.random.Generator) -> None:
    d = 10
    mats = np.stack([2.5 * np.eye(d), _spd(rng, d, np.arange(1.0, d + 1))])
    Z = rng.choice([-1.0, 1.0], size=(2, d))
    run = lanczos(_operator(mats), torch.as_tensor(Z), max_steps=d, check_every=1)
    assert run.steps.tolist() == [1, d]
    assert bool(run.stopped[0])
    theta, weights, residual = ritz(run.alpha, run.beta, run.steps)
    assert float(theta[0, -1]) == 2.5 and float(theta[0, 0]) == 2.5  # padding is α₁ itself
    np.testing.assert_allclose(float(weights[0].sum()), 1.0, rtol=1e-12)
    assert float(residual[0].max()) <= 1e-12


def test_stop_rule_retires_rows_and_padding_leaves_each_row_unchanged(
    rng: np.random.Generator,
) -> None:
    d = 30
    mats = np.stack([_spd(rng, d, rng.uniform(0.5, 4.0, d)) for _ in range(3)])
    Z = torch.as_tensor(rng.choice([-1.0, 1.0], size=(3, d)))
    seen: list[list[int]] = []

    def stop(rows: torch.Tensor, steps: torch.Tensor, run: object) -> torch.Tensor:
        seen.append(rows.tolist())
        return rows == 1  # retire row 1 at the first check

    run = lanczos(_operator(mats), Z, max_steps=12, stop=stop, check_every=4)
    assert run.steps.tolist() == [12, 4, 12]
    assert run.stopped.tolist() == [False, True, False]
    assert seen == [[0, 1, 2], [0, 2], [0, 2]]
    theta, weights, residual = ritz(run.alpha, run.beta, run.steps)
    alone = lanczos(_operator(mats[1:2]), Z[1:2], max_steps=4)
    t1, w1, r1 = ritz(alone.alpha, alone.beta, alone.steps)
    # row 1 padded from 4 to 12: same extremes, same quadrature, same extreme residuals
    np.testing.assert_allclose(float(theta[1, 0]), float(t1[0, 0]), rtol=1e-12)
    np.testing.assert_allclose(float(theta[1, -1]), float(t1[0, -1]), rtol=1e-12)
    np.testing.assert_allclose(float((weights[1] * theta[1].log()).sum()),
                               float((w1[0] * t1[0].log()).sum()), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(float(residual[1, -1]), float(r1[0, -1]), rtol=1e-9)
