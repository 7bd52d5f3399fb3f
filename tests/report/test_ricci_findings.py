"""The per-protocol, per-k Ricci findings state the numbers of stats.ricci.protocol_table."""

from __future__ import annotations

import numpy as np
import pandas as pd

import layerflow as lf
from layerflow.report._findings.ricci import rho_by_protocol_and_k
from layerflow.ricci._view import measure_ricci
from layerflow.stats._ricci import protocol_table


def test_one_finding_per_protocol_and_k_with_the_tables_numbers() -> None:
    runs, rows, coef = [], [], []
    for m in range(8):
        rng = np.random.default_rng(m)
        X = rng.normal(size=(60, 3))
        states = [X]
        for _ in range(4):
            states.append(np.tanh(states[-1] @ rng.normal(size=(3, 3)) * 0.5))
        trained = m < 5
        res = measure_ricci(lf.Trajectory(states), k=12, ks=[12, 20],
                            protocols=["layerflow", "baptista"])
        runs.append({"run_id": f"r{m}", "trained": trained, "status": "ok",
                     "test_acc": 0.99 if trained else 0.5, "k": 12, **res.scalars})
        rows += [{"run_id": f"r{m}", **row} for row in res.layers]
        coef += [{"run_id": f"r{m}", **row} for row in res.coefficients]
    runs_df, layers, coefs = pd.DataFrame(runs), pd.DataFrame(rows), pd.DataFrame(coef)
    found = rho_by_protocol_and_k(runs_df, layers, coefs)
    tab = protocol_table(runs_df, layers, coefs)
    assert {(f.numbers["protocol"], f.numbers["k"]) for f in found} == {
        (p, k) for p in ("layerflow", "baptista") for k in (12, 20)}
    for f in found:
        row = tab[(tab["protocol"] == f.numbers["protocol"]) & (tab["k"] == f.numbers["k"])
                  & (tab["networks"] == "well-trained")].iloc[0]
        assert f.numbers["pooled"] == row["pooled"] and f.numbers["n"] == row["n"]
        assert "untrained networks of the same shapes" in f.text
