"""The dataset container every loader returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from layerflow._errors import ConfigError


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split of a classification task.

    ``X_train`` has shape ``(n_train, d)`` (float32), ``y_train`` shape ``(n_train,)`` (int64,
    classes ``0 … n_classes-1``); likewise the test split. ``name`` is the registry name that
    rebuilds it (e.g. ``"moons"`` or ``"digits:6,8"``); ``info`` holds the loader's arguments.
    ``X_val``/``y_val`` are a validation split held out of the training set
    (:meth:`hold_out_validation`; empty by default); training reports its accuracy, and never
    trains on it.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    name: str
    info: Mapping[str, Any] = field(default_factory=dict)
    X_val: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    y_val: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __post_init__(self) -> None:
        if np.asarray(self.X_val).size == 0:  # no validation split: (0, d) to match the width
            object.__setattr__(self, "X_val", np.zeros((0, np.asarray(self.X_train).shape[-1])))
            object.__setattr__(self, "y_val", np.zeros(0, dtype=np.int64))
        for split in ("train", "test", "val"):
            X = np.asarray(getattr(self, f"X_{split}"))
            y = np.asarray(getattr(self, f"y_{split}"))
            if X.ndim != 2:
                raise ConfigError(f"{self.name}: X_{split} has shape {X.shape}; expected (n, d)")
            if y.ndim != 1 or y.shape[0] != X.shape[0]:
                raise ConfigError(
                    f"{self.name}: y_{split} has shape {y.shape}; expected ({X.shape[0]},)"
                )
            if not np.isfinite(X).all():
                raise ConfigError(f"{self.name}: X_{split} holds NaN or infinite values")
            object.__setattr__(self, f"X_{split}", np.ascontiguousarray(X, dtype=np.float32))
            object.__setattr__(self, f"y_{split}", np.ascontiguousarray(y, dtype=np.int64))
        if self.X_train.shape[1] != self.X_test.shape[1]:
            raise ConfigError(
                f"{self.name}: train width {self.X_train.shape[1]} != test width "
                f"{self.X_test.shape[1]}"
            )
        if len(self.X_val) and self.X_val.shape[1] != self.X_train.shape[1]:
            raise ConfigError(f"{self.name}: validation width {self.X_val.shape[1]} != train "
                               f"width {self.X_train.shape[1]}")
        if self.y_train.size and self.y_train.min() < 0:
            raise ConfigError(f"{self.name}: labels must be 0 … n_classes-1, got negative ones")

    @property
    def n_features(self) -> int:
        return int(self.X_train.shape[1])

    @property
    def n_classes(self) -> int:
        ys = [y for y in (self.y_train, self.y_test) if y.size]
        return int(max(int(y.max()) for y in ys) + 1) if ys else 0

    @staticmethod
    def valid_fraction(fraction: float) -> bool:
        """Whether ``fraction`` can be a training share: ``0 < fraction <= 1``."""
        return 0.0 < fraction <= 1.0

    def subset_train(self, fraction: float, seed: int = 0) -> Dataset:
        """A stratified fraction of the training set (at least one sample per class); test kept."""
        if not self.valid_fraction(fraction):
            raise ConfigError(f"fraction={fraction!r}: expected 0 < fraction <= 1")
        if fraction == 1.0:
            return self
        rng = np.random.default_rng(seed)
        keep: list[np.ndarray] = []
        for c in np.unique(self.y_train):
            idx = np.flatnonzero(self.y_train == c)
            m = max(1, round(fraction * idx.size))
            keep.append(rng.choice(idx, size=m, replace=False))
        sel = np.sort(np.concatenate(keep))
        return Dataset(
            self.X_train[sel], self.y_train[sel], self.X_test, self.y_test,
            name=self.name, info={**self.info, "train_fraction": fraction, "subset_seed": seed},
            X_val=self.X_val, y_val=self.y_val,
        )

    def hold_out_validation(self, fraction: float, seed: int = 0) -> Dataset:
        """Move a stratified ``fraction`` of the training set into ``X_val``/``y_val``.

        Per class ``round(fraction · n_c)`` samples (at least one stays for training), drawn with
        ``numpy.random.default_rng(seed)`` (:func:`layerflow.data.validation_indices`). Hold the
        split out *before* :meth:`subset_train`, and every train fraction, arm and seed of a
        study is tuned on the same validation samples.
        """
        if not (isinstance(fraction, float | int) and 0.0 < fraction < 1.0):
            raise ConfigError(f"val_fraction={fraction!r}: expected a number with 0 < it < 1")
        if len(self.X_val):
            raise ConfigError(f"{self.name}: a validation split is already held out "
                               f"({len(self.X_val)} samples)")
        train, val = validation_indices(self.y_train, float(fraction), int(seed))
        return Dataset(self.X_train[train], self.y_train[train], self.X_test, self.y_test,
                       name=self.name, info={**self.info, "val_fraction": float(fraction),
                                             "val_seed": int(seed)},
                       X_val=self.X_train[val], y_val=self.y_train[val])


def validation_indices(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)`` of a stratified validation split of labels ``y`` (both sorted).

    Per class ``c`` with ``n_c`` samples, ``min(round(fraction · n_c), n_c − 1)`` go to the
    validation split (at least one stays for training), chosen by
    ``numpy.random.default_rng(seed).permutation`` of the class's indices, classes in sorted
    order. Raises :class:`ConfigError` when no sample would be held out.
    """
    rng = np.random.default_rng(seed)
    val: list[np.ndarray] = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        val.append(idx[: min(round(fraction * idx.size), idx.size - 1)])
    v = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    if v.size == 0:
        raise ConfigError(
            f"val_fraction={fraction} of {y.size} training samples leaves no validation sample "
            f"(per class round(val_fraction · n_c) is 0 for class sizes "
            f"{[int((y == c).sum()) for c in np.unique(y)]})"
        )
    keep = np.ones(y.size, dtype=bool)
    keep[v] = False
    return np.flatnonzero(keep), v
