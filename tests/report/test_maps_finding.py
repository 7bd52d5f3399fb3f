"""The Jacobian finding prints shares with fmt_percent: a proper part never reads 0 % or 100 %."""

from __future__ import annotations

import pandas as pd

from layerflow.report._findings.maps import jacobian_orientation
from layerflow.stats._tables import prepare_runs


def test_shares_near_0_and_1_keep_their_digits() -> None:
    runs = prepare_runs(pd.DataFrame({
        "run_id": ["res", "pl"], "dataset": "moons", "model_kind": ["resnet", "mlp"],
        "status": "ok", "trained": True}))
    layers = pd.DataFrame({"run_id": ["res", "res", "pl", "pl"], "layer": [1, 2, 1, 2],
                           "layer_name": "b", "metric": "orientation_fraction", "k": None,
                           "value": [0.99984, 1.0, 0.0046, 0.0]})
    (f,) = jacobian_orientation(runs, layers)
    assert f.numbers["residual_mean"] == (0.99984 + 1.0) / 2
    assert "at 99.99 % of samples on average, plain layers at 0.2 % (" in f.text
