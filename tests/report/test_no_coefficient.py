"""Sentences about networks without a Ricci coefficient name the cause the store records, and a
correlation whose interval contains 0 is not given a direction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerflow.report import ReportInput
from layerflow.report.findings.ricci import (
    no_coefficient,
    rho_by_protocol_and_k,
    rho_vs_accuracy,
    undefined_rho,
)
from layerflow.report.findings.transformer import token_findings
from layerflow.stats.tables import prepare_runs

OTHER = "a connected graph but too few layer pairs or no variance (see ricci_reason)"


def _runs(rho: np.ndarray, acc: np.ndarray, connected: list[float | None]) -> pd.DataFrame:
    n = rho.size
    return prepare_runs(pd.DataFrame({
        "run_id": [f"r{i}" for i in range(n)], "dataset": ["a", "b"] * (n // 2),
        "model_kind": "resnet", "status": "ok", "trained": True, "test_acc": acc,
        "ricci_rho": rho, "ricci_rho_k10": rho, "k": 10, "ricci_connected": connected,
        "ricci_skipped_ks": ""}))


def test_undefined_rho_splits_the_causes_the_store_records() -> None:
    nan = np.nan
    df = pd.DataFrame({"ricci_rho": [0.1, nan, nan, nan, nan, nan],
                       "ricci_rho_k10": [0.1, nan, nan, nan, nan, nan],
                       "ricci_rho_k30": [0.1, nan, nan, nan, nan, nan],
                       "ricci_connected": [1.0, 0.0, 0.0, 1.0, None, 1.0],
                       "k": [10, 10, 10, 10, 10, 30],
                       "ricci_skipped_ks": ["", "", "", "", "", "k=10 (N=8)"]})
    assert undefined_rho(df) == (2, 2, 1)
    # at k = 10 the last run had no graph (k >= N): not counted
    assert undefined_rho(df, "ricci_rho_k10") == (2, 1, 1)
    # at k = 30 only the last run's cause is recorded (its primary k)
    assert undefined_rho(df, "ricci_rho_k30") == (0, 1, 4)
    assert undefined_rho(df, "ricci_rho_baptista_k10") == (0, 0, 0)  # no such column


def test_undefined_rho_reads_the_cause_from_the_layer_rows_where_the_columns_do_not() -> None:
    nan, inf = np.nan, np.inf
    # four runs without ρ at k = 30 under the baptista protocol (not the primary): run 1's
    # graph is disconnected in layer 2, run 2's is connected everywhere, run 3 has no layer
    # rows at that k, run 4's k = 30 rows belong to the other protocol only
    df = pd.DataFrame({"run_id": ["r0", "r1", "r2", "r3", "r4"],
                       "ricci_rho_baptista_k30": [0.2, nan, nan, nan, nan],
                       "ricci_connected": [1.0, 1.0, 1.0, 1.0, 1.0], "k": 10,
                       "ricci_skipped_ks": ""})
    rows = []
    for rid, masses in (("r0", [5.0, 6.0, 7.0]), ("r1", [5.0, 6.0, inf]),
                        ("r2", [5.0, 6.0, 7.0])):
        rows += [{"run_id": rid, "metric": "geodesic_mass_baptista", "k": 30, "layer": i,
                  "value": v} for i, v in enumerate(masses)]
    rows += [{"run_id": "r3", "metric": "geodesic_mass_baptista", "k": 10, "layer": 0,
              "value": 1.0},
             {"run_id": "r4", "metric": "geodesic_mass", "k": 30, "layer": 0, "value": inf}]
    layers = pd.DataFrame(rows)
    assert undefined_rho(df, "ricci_rho_baptista_k30") == (0, 0, 4)  # no layer rows given
    assert undefined_rho(df, "ricci_rho_baptista_k30", layers) == (1, 1, 2)
    # the primary protocol's column at k = 30: run 4's infinite mass says disconnected
    df2 = df.rename(columns={"ricci_rho_baptista_k30": "ricci_rho_k30"})
    assert undefined_rho(df2, "ricci_rho_k30", layers) == (1, 0, 3)


def test_the_sentence_names_one_cause_or_each() -> None:
    assert no_coefficient((0, 0, 0), "networks") == ""
    assert no_coefficient((3, 0, 0), "networks") == \
        "3 networks had no coefficient (a disconnected kNN graph)"
    assert no_coefficient((0, 2, 0), "networks") == f"2 networks had no coefficient ({OTHER})"
    assert no_coefficient((2, 1, 1), "networks") == (
        f"4 networks had no coefficient (2 a disconnected kNN graph; 1 {OTHER}; 1 a cause the "
        "store does not record)")


def test_rho_vs_accuracy_gives_a_direction_only_when_the_interval_excludes_0() -> None:
    rng = np.random.default_rng(0)
    acc = rng.uniform(0.98, 1.0, 40)
    strong = -50.0 * (acc - 0.99) + rng.normal(0, 0.02, 40)
    connected: list[float | None] = [1.0] * 40
    (f,) = rho_vs_accuracy(_runs(strong, acc, connected), pd.DataFrame())
    assert "were negatively correlated" in f.text and "; the interval excludes 0)" in f.text
    assert f.numbers["ci_high"] < 0  # type: ignore[operator]
    flat = rng.uniform(-1, 1, 40)
    (f,) = rho_vs_accuracy(_runs(flat, acc, connected), pd.DataFrame())
    lo, hi = f.numbers["ci_low"], f.numbers["ci_high"]
    assert lo <= 0 <= hi  # type: ignore[operator]
    assert "were not clearly correlated" in f.text and "; the interval contains 0)" in f.text
    assert "negatively" not in f.text and "positively" not in f.text


def test_rho_vs_accuracy_counts_each_cause() -> None:
    rng = np.random.default_rng(1)
    acc = rng.uniform(0.98, 1.0, 40)
    rho = rng.uniform(-1, 1, 40)
    rho[:4] = np.nan
    connected: list[float | None] = [0.0, 0.0, 1.0, 1.0] + [1.0] * 36
    (f,) = rho_vs_accuracy(_runs(rho, acc, connected), pd.DataFrame())
    assert f.numbers["n_undefined"] == 4
    assert (f"; 4 trained networks had no coefficient (2 a disconnected kNN graph; 2 {OTHER}) "
            "and are not counted.") in f.text
    connected = [1.0] * 40
    (f,) = rho_vs_accuracy(_runs(rho, acc, connected), pd.DataFrame())
    assert f"4 trained networks had no coefficient ({OTHER})" in f.text
    assert "disconnected" not in f.text


def test_transformer_sentence_counts_each_cause() -> None:
    rng = np.random.default_rng(2)
    n = 12
    rho = rng.uniform(-1, 1, n)
    rho[[0, 1, 6]] = np.nan
    runs = prepare_runs(pd.DataFrame({
        "run_id": [f"t{i}" for i in range(n)], "dataset": "tokens", "model_kind": "transformer",
        "status": "ok", "trained": [True] * 6 + [False] * 6, "test_acc": 0.9,
        "ricci_rho": rho, "k": 10, "ricci_connected": [0.0, 1.0] + [1.0] * 4 + [1.0] * 6}))
    (f,) = [f for f in token_findings(runs, pd.DataFrame()) if f.key == "token_ricci_rho"]
    assert f.numbers["n_undefined"] == 3
    assert (f"; 3 networks had no coefficient (1 a disconnected kNN graph; 2 {OTHER}) and are "
            "not counted.") in f.text


def test_protocol_sentence_counts_each_cause(store: ReportInput) -> None:
    runs = store.runs.assign(ricci_rho_k5=store.runs["ricci_rho"] * 0.9,
                             ricci_connected=1.0)
    acc = runs["test_acc"]
    well = runs.index[runs["trained"] & (acc >= 0.98)]
    runs.loc[well[:3], "ricci_rho"] = np.nan
    runs.loc[well[:3], "ricci_rho_k10"] = np.nan
    runs.loc[well[:2], "ricci_connected"] = 0.0
    runs.loc[well[3:5], "ricci_rho_k5"] = np.nan
    found = {f.numbers["k"]: f for f in rho_by_protocol_and_k(prepare_runs(runs), store.layers)}
    assert (f"; 3 well-trained networks had no coefficient (2 a disconnected kNN graph; 1 "
            f"{OTHER})") in found[10].text
    # k = 5 is not the runs' primary k: the store does not record why
    assert ("; 2 well-trained networks had no coefficient (a cause the store does not "
            "record)") in found[5].text
