"""Sentences about networks without a Ricci coefficient name the cause the store records, and a
correlation whose interval contains 0 is not given a direction."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerflow.report import ReportInput
from layerflow.report._findings.ricci import (
    no_coefficient,
    rho_by_protocol_and_k,
    rho_vs_accuracy,
    undefined_rho,
)
from layerflow.report._findings.transformer import token_findings
from layerflow.stats._tables import prepare_runs

OTHER = "a connected graph but too few layer pairs or no variance (see ricci_reason)"


def _runs(rho: np.ndarray, acc: np.ndarray, connected: list[float | None]) -> pd.DataFrame:
    n = rho.size
    return prepare_runs(pd.DataFrame({
        "run_id": [f"r{i}" for i in range(n)], "dataset": ["a", "b"] * (n // 2),
        "model_kind": "resnet", "status": "ok", "trained": True, "test_acc": acc,
        "ricci_rho": rho, "k": 10, "ricci_connected": connected, "ricci_skipped_ks": ""}))


def test_undefined_rho_splits_the_causes_the_store_records() -> None:
    nan = np.nan
    df = pd.DataFrame({"run_id": [f"r{i}" for i in range(6)],
                       "ricci_rho": [0.1, nan, nan, nan, nan, nan],
                       "ricci_connected": [1.0, 0.0, 0.0, 1.0, None, 1.0]})
    assert undefined_rho(df) == (2, 2, 1)  # the primary coefficient: ricci_connected
    # one protocol and k of the coefficients table: its reasons; k >= N is not counted, a run
    # without a row (or an old store's "unrecorded") is a cause the store does not record
    coef = pd.DataFrame({"run_id": ["r0", "r1", "r2", "r3", "r4"], "protocol": "baptista",
                         "k": 30, "rho": [0.1, nan, nan, nan, nan], "first_pair": 1,
                         "reason": ["", "disconnected", "too few pairs", "k >= N",
                                    "unrecorded"]})
    assert undefined_rho(df, coef) == (1, 1, 2)
    assert undefined_rho(df, coef.iloc[0:0]) == (0, 0, 6)  # no row: not recorded


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
    runs = store.runs.assign(ricci_connected=1.0)
    acc = runs["test_acc"]
    well = runs.index[runs["trained"] & (acc >= 0.98)]
    runs.loc[well[:3], "ricci_rho"] = np.nan
    runs.loc[well[:2], "ricci_connected"] = 0.0
    at10 = pd.DataFrame({"run_id": runs["run_id"], "protocol": "layerflow", "k": 10,
                         "rho": runs["ricci_rho"], "first_pair": 0, "reason": ""})
    at10.loc[well[:2], "reason"] = "disconnected"
    at10.loc[well[2], "reason"] = "zero variance"
    at5 = at10.assign(k=5, rho=store.runs["ricci_rho"] * 0.9, reason="")
    at5.loc[well[3:5], ["rho", "reason"]] = [np.nan, "unrecorded"]
    coef = pd.concat([at10, at5], ignore_index=True)
    found = {f.numbers["k"]: f for f in rho_by_protocol_and_k(prepare_runs(runs), store.layers,
                                                              coef)}
    assert (f"; 3 well-trained networks had no coefficient (2 a disconnected kNN graph; 1 "
            f"{OTHER})") in found[10].text
    # a store that did not record why (read from the old layout): said so
    assert ("; 2 well-trained networks had no coefficient (a cause the store does not "
            "record)") in found[5].text
