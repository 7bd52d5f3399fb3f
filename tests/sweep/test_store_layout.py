"""The store as a user opens it: three tables at documented paths, no lock files left behind."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from layerflow.sweep import ResultStore, read_coefficients, run_sweep


def test_finished_sweep_leaves_the_documented_layout(tmp_path: Path, toy: dict) -> None:
    run_sweep(toy, tmp_path, task="toy", backend="serial")
    store = tmp_path / "store"
    visible = sorted(p.name for p in store.iterdir() if not p.name.startswith("."))
    assert visible == ["coefficients.parquet", "layers.parquet", "parts", "runs.parquet"]
    assert not (store / ".locks").exists()  # one lock per task while it ran; none after
    runs = pd.read_parquet(store / "runs.parquet")
    [(n,)] = duckdb.sql(f"select count(distinct run_id) from '{store}/runs.parquet'").fetchall()
    assert len(runs) == n == 12
    layers = pd.read_parquet(store / "layers.parquet")
    assert set(layers["run_id"]) == set(runs["run_id"])
    [(n, distinct)] = duckdb.sql(f"select count(*), count(distinct (run_id, protocol, k)) from "
                                 f"'{store}/coefficients.parquet'").fetchall()
    assert n == distinct == 2 * 12
    assert list(pd.read_parquet(store / "coefficients.parquet").columns) == [
        "run_id", "protocol", "k", "rho", "first_pair", "reason"]
    pd.testing.assert_frame_equal(read_coefficients(tmp_path), ResultStore(tmp_path).coefficients())


def test_an_uncommitted_attempt_counts_no_coefficient(tmp_path: Path) -> None:
    """Coefficient rows are read only for attempts whose runs part exists (the commit)."""
    store = ResultStore(tmp_path)
    row = {"run_id": "r1", "status": "ok", "ricci_rho": 0.5, "k": 5}
    coef = {"run_id": "r1", "protocol": "layerflow", "k": 5, "rho": 0.5, "first_pair": 0,
            "reason": ""}
    store.write_task("t1", [row], [], [coef])
    (part,) = store.parts.glob("runs-*.parquet")
    part.unlink()  # killed between the coefficients part and the commit
    assert store.coefficients().empty and store.runs().empty
    store.write_task("t1", [row], [], [coef, {**coef, "k": 8, "rho": float("nan"),
                                              "reason": "k >= N"}])
    got = store.coefficients()
    assert list(got["k"]) == [5, 8] and list(got["reason"]) == ["", "k >= N"]


def test_a_held_lock_is_never_removed(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    with store.lock("t1"):
        assert store.remove_free_locks() == 0  # held: left alone
        assert (store.locks / "t1.lock").exists()
    assert store.remove_free_locks() == 1
    assert not store.locks.exists()
    with store.lock("t1"):  # taken again after removal
        assert (store.locks / "t1.lock").exists()


def test_lock_taken_on_a_removed_file_is_retaken(tmp_path: Path, monkeypatch) -> None:
    """A runner that opened the lock file just before another runner unlinked it must not
    believe it holds the task: it re-checks the path after locking and takes a new file."""
    from layerflow.sweep import _store as store_module

    store = ResultStore(tmp_path)
    real_open = os.open
    calls = {"n": 0}

    def open_then_lose_the_race(path, flags, mode=0o777):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, mode)
        calls["n"] += 1
        if calls["n"] == 1:
            os.unlink(path)  # the remover unlinks the file between our open and our flock
        return fd

    monkeypatch.setattr(store_module.os, "open", open_then_lose_the_race)
    with store.lock("t2"):
        path = store.locks / "t2.lock"
        assert path.exists(), "the lock must be held on the file that is at the path"
    assert calls["n"] == 2
