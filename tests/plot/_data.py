"""Shared inputs and independent answers of the figure tests."""

from __future__ import annotations

import numpy as np

import layerflow as lf


def curvy_trajectory() -> lf.Trajectory:
    """A 2-D input, a lift to 3-D and four 3-D states that bend and drift (seeded), two labels."""
    rng = np.random.default_rng(7)
    N = 60
    X0 = rng.normal(size=(N, 2))
    lift = np.column_stack([X0, 0.3 * X0[:, 0] * X0[:, 1]])
    states = [X0, lift]
    cur = lift
    for i in range(4):
        cur = cur + 0.2 * np.tanh(cur @ rng.normal(size=(3, 3))) + 0.05 * (i + 1)
        states.append(cur)
    labels = (X0[:, 0] > 0).astype(int)
    return lf.Trajectory(states, labels=labels, layer_names=["input", "lift", *"abcd"])


def pca_reference(states: list[np.ndarray], n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """PCA of the stacked states by eigen-decomposition of the covariance (not an SVD), as
    ``(S, N, n)`` coordinates and explained-variance shares — the independent answer."""
    flat = np.concatenate(states).astype(np.float64)
    centred = flat - flat.mean(axis=0)
    cov = centred.T @ centred
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:n]
    coords = centred @ vecs[:, order]
    return coords.reshape(len(states), states[0].shape[0], n), vals[order] / vals.sum()


def assert_same_up_to_sign(got: np.ndarray, want: np.ndarray) -> None:
    """Principal axes are defined up to sign: compare each column with its best sign."""
    got = np.asarray(got).reshape(-1, want.shape[-1])
    want = want.reshape(-1, want.shape[-1])
    for c in range(want.shape[1]):
        sign = 1.0 if got[:, c] @ want[:, c] >= 0 else -1.0
        np.testing.assert_allclose(sign * got[:, c], want[:, c], rtol=1e-9, atol=1e-9)
