"""coefficient_table: the one reader of per-(protocol, k) coefficients, with why each is
undefined."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerflow.stats.ricci import COEFFICIENT_COLUMNS, coefficient_table


def _runs() -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": ["a", "b", "c", "d", "e"], "status": ["ok"] * 4 + ["failed"],
        "k": [10, 10, 10, 20, 10], "ricci_protocol": "layerflow",
        "ricci_rho_k10": [-0.5, np.nan, np.nan, np.nan, 0.1],
        "ricci_rho_baptista_k10": [-0.4, 0.2, np.nan, np.nan, 0.1],
        "ricci_connected": [1, 0, 1, 1, 1], "ricci_first_pair_baptista": [1, 1, 1, 1, 1],
        "ricci_skipped_ks": ["", "", "", "k=10 (N=8)", ""],
    })


def test_rows_values_and_reasons() -> None:
    layers = pd.DataFrame({"run_id": ["c", "c"], "metric": ["geodesic_mass_baptista"] * 2,
                           "k": [10, 10], "value": [1.0, np.inf], "layer": [0, 1]})
    t = coefficient_table(_runs(), layers)
    assert tuple(t.columns) == COEFFICIENT_COLUMNS
    assert len(t) == 8  # 4 finished runs × 2 protocols at k = 10
    lf = t[t["protocol"] == "layerflow"].set_index("run_id")
    assert lf.loc["a", "rho"] == -0.5 and lf.loc["a", "reason"] == ""
    assert lf.loc["b", "reason"] == "disconnected"  # ricci_connected == 0 at its primary k
    assert lf.loc["c", "reason"] == "too few layer pairs or no variance"
    assert lf.loc["d", "reason"] == "k >= N"
    bp = t[t["protocol"] == "baptista"].set_index("run_id")
    assert bp.loc["b", "rho"] == 0.2 and bp.loc["a", "first_pair"] == 1
    assert bp.loc["c", "reason"] == "disconnected"  # read from its layer rows
    assert lf.loc["a", "first_pair"] == 0


def test_a_store_with_only_the_primary_coefficient() -> None:
    runs = pd.DataFrame({"run_id": ["a", "b"], "k": [30, 30], "ricci_rho": [-0.2, np.nan],
                         "ricci_connected": [1, 0]})
    t = coefficient_table(runs)
    assert list(t["k"]) == [30, 30] and list(t["reason"]) == ["", "disconnected"]
    assert coefficient_table(pd.DataFrame({"run_id": ["a"]})).empty
