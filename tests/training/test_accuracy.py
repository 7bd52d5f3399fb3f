"""One accuracy: batched, the model's inputs as it takes them (token ids stay ids), the same for
every batch size; and one measurement path: every caller goes through ``View.measure``."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import layerflow as lf
from layerflow._errors import LayerflowError
from layerflow.training import accuracy
from layerflow.views import measure_views


def _by_hand(model: torch.nn.Module, X: np.ndarray, y: np.ndarray, ids: bool) -> float:
    """Row by row, the input built here: ids as int64, else float32."""
    hits = 0
    with torch.no_grad():
        for xi, yi in zip(X, y, strict=True):
            x = torch.as_tensor(xi[None], dtype=torch.int64 if ids else torch.float32)
            logits = model(x)
            pred = int(logits[0, 0] > 0) if logits.shape[-1] == 1 else int(logits[0].argmax())
            hits += pred == yi
    return hits / len(y)


def test_token_ids_given_as_floats_reach_the_model_as_ids() -> None:
    model = lf.build_model(lf.ModelSpec("transformer", width=8, depth=2, vocab=10), in_dim=6,
                           n_classes=3, seed=0).eval()
    rng = np.random.default_rng(0)
    X = rng.integers(0, 10, size=(23, 6)).astype(np.float32)  # a Dataset stores ids as float32
    y = rng.integers(0, 3, size=23)
    want = _by_hand(model, X, y, ids=True)
    assert accuracy(model, X, y) == pytest.approx(want)
    assert accuracy(model, X, y, batch_size=4) == pytest.approx(want)


def test_a_float_model_batched_or_not_and_no_rows() -> None:
    model = lf.build_model(lf.ModelSpec("mlp", width=8, depth=2), in_dim=3, n_classes=2,
                           seed=1)
    model.train()
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(50, 3)).astype(np.float32), rng.integers(0, 2, size=50)
    want = _by_hand(model.eval(), X, y, ids=False)
    model.train()
    assert accuracy(model, X, y, batch_size=7) == pytest.approx(want)
    assert model.training  # its mode restored
    assert math.isnan(accuracy(model, X[:0], y[:0]))


def test_measure_views_goes_through_measure() -> None:
    traj = lf.Trajectory([np.eye(4), 2 * np.eye(4)])
    with pytest.raises(LayerflowError, match="the jacobian view needs the model"):
        measure_views(traj, ["jacobian"])
