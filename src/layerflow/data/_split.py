"""Argument checks, train/test splits and scaling shared by every loader."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow.data._dataset import Dataset


def check_n(n: Any, name: str, minimum: int = 2) -> int:
    """``n`` must be an int >= ``minimum``."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or int(n) < minimum:
        raise ConfigError(f"{name}: n={n!r}; expected an int >= {minimum}")
    return int(n)


def check_noise(noise: Any, name: str) -> float:
    """``noise`` must be a finite float >= 0."""
    try:
        v = float(noise)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: noise={noise!r}; expected a number >= 0") from None
    if isinstance(noise, bool) or not math.isfinite(v) or v < 0:
        raise ConfigError(f"{name}: noise={noise!r}; expected a finite number >= 0")
    return v


def check_test_fraction(test_fraction: Any, name: str) -> float:
    """``test_fraction`` must lie strictly between 0 and 1."""
    try:
        v = float(test_fraction)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name}: test_fraction={test_fraction!r}; expected a number in (0, 1)"
        ) from None
    if isinstance(test_fraction, bool) or not (0.0 < v < 1.0):
        raise ConfigError(f"{name}: test_fraction={test_fraction!r}; expected a number in (0, 1)")
    return v


def check_seed(seed: Any, name: str) -> int:
    """``seed`` must be a non-negative int (what ``np.random.default_rng`` accepts)."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or int(seed) < 0:
        raise ConfigError(f"{name}: seed={seed!r}; expected an int >= 0")
    return int(seed)


def parse_classes(text: str, name: str, available: Sequence[int]) -> tuple[int, ...]:
    """Parse ``"6,8"`` into ``(6, 8)``: at least two distinct classes, each in ``available``."""
    parts = [p.strip() for p in text.split(",")]
    try:
        classes = tuple(int(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"{name}: classes {text!r}; expected comma-separated integers such as '6,8'"
        ) from None
    if len(classes) < 2:
        raise ConfigError(f"{name}: classes {text!r}; name at least two classes, e.g. '6,8'")
    if len(set(classes)) != len(classes):
        raise ConfigError(
            f"{name}: classes {text!r} repeat a class; a class pair needs two different classes"
        )
    missing = [c for c in classes if c not in set(available)]
    if missing:
        raise ConfigError(
            f"{name}: class {missing[0]} is not present; available classes are "
            f"{sorted(set(int(a) for a in available))}"
        )
    return classes


def relabel(
    X: np.ndarray, y: np.ndarray, classes: Sequence[int] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the rows whose label is in ``classes`` and relabel ``classes[i] -> i``."""
    if classes is None:
        return X, y
    keep = np.isin(y, np.asarray(classes))
    new = np.full(int(y.max()) + 1 if y.size else 1, -1, dtype=np.int64)
    for i, c in enumerate(classes):
        new[c] = i
    return X[keep], new[y[keep]]


def stratified_split(
    y: np.ndarray, test_fraction: float, rng: np.random.Generator, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, test)``: per class, ``round(test_fraction · n_c)`` go to the test split.

    Both splits are shuffled (seeded) and non-empty.
    """
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = round(test_fraction * idx.size)
        test.append(idx[:k])
        train.append(idx[k:])
    tr = np.concatenate(train) if train else np.zeros(0, dtype=np.int64)
    te = np.concatenate(test) if test else np.zeros(0, dtype=np.int64)
    if tr.size == 0 or te.size == 0:
        raise ConfigError(
            f"{name}: test_fraction={test_fraction} splits {y.size} samples into "
            f"{tr.size} train / {te.size} test; both splits need samples (use more samples "
            "or another test_fraction)"
        )
    return rng.permutation(tr), rng.permutation(te)


def subsample(
    X: np.ndarray, y: np.ndarray, n: int | None, rng: np.random.Generator, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random subset of ``n`` rows (all rows if ``n`` is None), original order kept."""
    if n is None:
        return X, y
    n = check_n(n, name)
    if n > y.size:
        raise ConfigError(f"{name}: n={n} but only {y.size} samples are available")
    idx = np.sort(rng.choice(y.size, size=n, replace=False))
    return X[idx], y[idx]


def isotropic_standardise(
    X_train: np.ndarray, X_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Centre on the training mean and divide by one scalar, the training RMS distance to it.

    ``s = sqrt(mean_i ‖x_i − μ‖² / d)``: every feature keeps its relative scale, so the
    geometry (angles, ratios of distances) of the set is unchanged; the training set then has
    mean 0 and average per-feature variance 1.
    """
    mu = X_train.mean(axis=0)
    s = float(np.sqrt(np.mean((X_train - mu) ** 2)))
    if not s > 0:
        s = 1.0
    return (X_train - mu) / s, (X_test - mu) / s, {"center": mu.tolist(), "scale": s}


def make_dataset(
    X: np.ndarray,
    y: np.ndarray,
    *,
    name: str,
    test_fraction: float,
    rng: np.random.Generator,
    standardise: bool,
    info: dict[str, Any],
) -> Dataset:
    """Split (stratified, seeded), optionally standardise, and wrap in a :class:`Dataset`."""
    tr, te = stratified_split(y, test_fraction, rng, name)
    X_train, X_test = X[tr], X[te]
    if standardise:
        X_train, X_test, scaling = isotropic_standardise(X_train, X_test)
        info = {**info, "scale": scaling["scale"]}
    return Dataset(X_train, y[tr], X_test, y[te], name=name, info=info)
