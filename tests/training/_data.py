"""Small data sets for the training tests."""

from __future__ import annotations

import numpy as np

from layerflow.data import Dataset, load_dataset


def moons(n: int = 200, seed: int = 0) -> Dataset:
    return load_dataset("moons", n=n, noise=0.1, seed=seed)


def three_blobs(n: int = 90, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    y = np.arange(n) % 3
    X = centres[y] + 0.6 * rng.normal(size=(n, 2))
    cut = (3 * n) // 4
    return Dataset(X[:cut], y[:cut], X[cut:], y[cut:], name="three_blobs")
