"""Shared helpers of the sweep tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from layerflow.sweep import ResultStore, expand_runs, load_config
from layerflow.sweep._tasks.toy import toy_coefficients, toy_metrics


def toy_config(**over: Any) -> dict[str, Any]:
    """A tiny sweep: 2 widths x 2 lrs x 3 seeds = 12 trained runs (+ baselines if asked)."""
    cfg: dict[str, Any] = {
        "name": "toy",
        "seeds": 3,
        "datasets": ["moons"],
        "models": [{"kind": "mlp", "width": [4, 8], "depth": 2}],
        "training": {"lr": [0.01, 0.02], "epochs": 1},
        "analysis": {"metrics": ["ricci"], "k": 5, "test_points": 20},
        "backend": {"chunk_size": 2},
    }
    cfg.update(over)
    return cfg


def expected(cfg: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {r.run_id: toy_metrics(r) for r in expand_runs(load_config(cfg))}


def check_store(out: Path, cfg: dict[str, Any], statuses: dict[str, str] | None = None) -> None:
    """Exactly one row per expected run, via ResultStore, pandas and DuckDB; toy values exact."""
    exp = expected(cfg)
    df = ResultStore(out).runs()
    assert sorted(df["run_id"]) == sorted(exp)
    direct = pd.read_parquet(out / "store" / "runs.parquet")
    assert sorted(direct["run_id"]) == sorted(exp)
    [(n, distinct)] = duckdb.sql(
        f"select count(*), count(distinct run_id) from '{out}/store/runs.parquet'"
    ).fetchall()
    assert n == distinct == len(exp)
    for _, row in df.iterrows():
        want = (statuses or {}).get(row["run_id"], "ok")
        assert row["status"] == want
        if want == "ok":
            np.testing.assert_allclose(row["test_acc"], exp[row["run_id"]]["test_acc"])
            np.testing.assert_allclose(row["ricci_rho"], exp[row["run_id"]]["ricci_rho"])
    # every coefficient row of every finished run, once (pandas on the compacted table too)
    ok = set(df.loc[df["status"] == "ok", "run_id"])
    runs = {r.run_id: r for r in expand_runs(load_config(cfg))}
    want = pd.DataFrame([c for rid in sorted(ok) for c in toy_coefficients(runs[rid])])
    for coef in (ResultStore(out).coefficients(),
                 pd.read_parquet(out / "store" / "coefficients.parquet")):
        got = coef.sort_values(["run_id", "k"], ignore_index=True)
        if want.empty:
            assert got.empty
            continue
        pd.testing.assert_frame_equal(got, want.sort_values(["run_id", "k"], ignore_index=True),
                                      check_exact=True)
    # nothing counted twice: no run has two finished attempts
    att = ResultStore(out).all_attempts()
    fin = att[att["status"].isin(["ok", "diverged"])]
    assert not fin["run_id"].duplicated().any()


