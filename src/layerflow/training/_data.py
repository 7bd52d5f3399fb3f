"""What the loop trains on: the dataset checked once, and the validation split held out of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow.data import validation_indices
from layerflow.training._config import TrainConfig


def check_dataset(dataset: Any) -> int:
    """The number of classes of a layerflow ``Dataset`` with training samples (else an error)."""
    for attr in ("X_train", "y_train", "X_test", "y_test"):
        if not hasattr(dataset, attr):
            raise ConfigError(
                f"dataset is a {type(dataset).__name__} without {attr}; expected a "
                "layerflow Dataset"
            )
    n = int(np.asarray(dataset.X_train).shape[0])
    if n == 0:
        raise ConfigError("dataset has 0 training samples; nothing to train on")
    n_classes = int(dataset.n_classes)
    if n_classes < 2:
        raise ConfigError(f"dataset has n_classes={n_classes}; training needs at least 2")
    return n_classes


@dataclass(frozen=True)
class FitData:
    """The rows trained on (``X``, ``y``) and the held-out validation rows (empty without one)."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def fit_data(dataset: Any, cfg: TrainConfig) -> FitData:
    """``dataset``'s training set, less the validation split of ``cfg`` (``val_fraction``)."""
    X, y = np.asarray(dataset.X_train), np.asarray(dataset.y_train)
    held = getattr(dataset, "X_val", None)
    if held is not None and len(held):
        if cfg.val_fraction != 0.0:
            raise ConfigError(
                f"val_fraction={cfg.val_fraction!r} but the dataset already holds a validation "
                f"split of {len(held)} samples (Dataset.hold_out_validation); use one of them")
        return FitData(X, y, np.asarray(held), np.asarray(dataset.y_val))
    if cfg.val_fraction == 0.0:
        return FitData(X, y, X[:0], y[:0])
    train, val = validation_indices(y, cfg.val_fraction, cfg.val_seed)
    return FitData(X[train], y[train], X[val], y[val])
