"""The runner and the store with the cheap toy task: skips, retries, failures, dead workers."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pandas as pd
import pytest

from layerflow._errors import ConfigError
from layerflow.sweep import ResultStore, expand_runs, load_config, run_sweep
from layerflow.sweep._runner import SweepProgress, make_tasks

from .helpers import check_store, toy_config


def test_sweep_writes_every_run_once_and_resumes(tmp_path: Path, toy: dict) -> None:
    events: list[SweepProgress] = []
    res = run_sweep(toy, tmp_path, task="toy", backend="serial", progress=events.append)
    assert res.n_runs == 12 and res.statuses == {"ok": 12} and res.n_skipped == 0
    assert res.n_tasks == 8  # 4 groups of 3 seeds, in chunks of 2 and 1
    assert [e.tasks_done for e in events] == list(range(9))
    assert events[-1].networks_done == 12 and events[-1].rate > 0
    check_store(tmp_path, toy)
    layers = ResultStore(tmp_path).layers()
    assert len(layers) == 12 * 3  # depth 2 -> 3 states
    assert set(layers.columns) >= {"run_id", "layer", "layer_name", "metric", "k", "value"}
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / "versions.json").is_file()
    assert load_config(tmp_path / "config.yaml").to_dict() == load_config(toy).to_dict()
    again = run_sweep(toy, tmp_path, task="toy", backend="serial")
    assert again.n_skipped == 12 and again.n_tasks == 0 and again.statuses == {}
    check_store(tmp_path, toy)


def test_config_growth_runs_only_new_runs(tmp_path: Path, toy: dict) -> None:
    run_sweep(toy, tmp_path, task="toy", backend="serial")
    bigger = {**toy, "seeds": 4}
    res = run_sweep(bigger, tmp_path, task="toy", backend="serial")
    assert res.n_skipped == 12 and res.statuses == {"ok": 4}
    check_store(tmp_path, bigger)


def test_failed_member_is_retried_and_siblings_kept(tmp_path: Path, toy: dict) -> None:
    res = run_sweep(toy, tmp_path, task="toy", backend="serial",
                    task_options={"fail_seeds": [1], "diverge_seeds": [2]})
    assert res.statuses == {"ok": 4, "failed": 4, "diverged": 4}
    runs = expand_runs(load_config(toy))
    status = {r.run_id: {0: "ok", 1: "failed", 2: "diverged"}[r.seed] for r in runs}
    check_store(tmp_path, toy, status)
    df = ResultStore(tmp_path).runs()
    assert df.loc[df.status == "failed", "error"].str.contains("toy analysis failed").all()
    assert df.loc[df.status == "diverged", "test_acc"].isna().all()
    # re-run: failed ones retried (and now succeed), diverged ones are results and kept
    res = run_sweep(toy, tmp_path, task="toy", backend="serial")
    assert res.statuses == {"ok": 4} and res.n_skipped == 8
    status = {r.run_id: "diverged" if r.seed == 2 else "ok" for r in runs}
    check_store(tmp_path, toy, status)


def test_ok_row_never_replaced_by_later_failure(tmp_path: Path, toy: dict) -> None:
    run_sweep(toy, tmp_path, task="toy", backend="serial")
    store = ResultStore(tmp_path)
    row = store.runs().iloc[0].to_dict()
    store.write_task("manual", [{**row, "status": "failed", "error": "late failure"}])
    assert store.runs().set_index("run_id").loc[row["run_id"], "status"] == "ok"
    assert len(store.all_attempts()) == 13


def test_task_exception_fails_only_its_members(tmp_path: Path, toy: dict) -> None:
    res = run_sweep(toy, tmp_path, task="toy", backend="serial",
                    task_options={"raise_seeds": [2]})
    # seed 2 sits alone in the second chunk of each group
    assert res.statuses == {"ok": 8, "failed": 4}
    df = ResultStore(tmp_path).runs()
    assert (df.loc[df.seed == 2, "error"].str.startswith("RuntimeError: toy task raised")).all()


def test_dead_worker_marks_its_task_failed_others_finish(tmp_path: Path, toy: dict) -> None:
    res = run_sweep(toy, tmp_path, task="toy", backend="local", workers=2,
                    task_options={"die_seeds": [2]})
    # A dead worker breaks loky's whole pool, so a sibling task that had already committed its
    # rows may see its future fail too; its solo retry then finds the rows and reports them as
    # "skipped" (already finished). The store is the truth: 8 ok, 4 failed, nothing twice.
    assert res.statuses["failed"] == 4
    assert res.statuses.get("ok", 0) + res.statuses.get("skipped", 0) == 8
    df = ResultStore(tmp_path).runs()
    assert df["status"].value_counts().to_dict() == {"ok": 8, "failed": 4}
    assert df.loc[df.seed == 2, "error"].str.contains("died").all()
    assert (df.loc[df.seed != 2, "status"] == "ok").all()
    res = run_sweep(toy, tmp_path, task="toy", backend="local", workers=2)
    assert res.statuses == {"ok": 4}
    check_store(tmp_path, toy)


def test_local_and_serial_backends_agree(tmp_path: Path, toy: dict) -> None:
    run_sweep(toy, tmp_path / "a", task="toy", backend="local", workers=2)
    run_sweep(toy, tmp_path / "b", task="toy", backend="serial")
    cols = ["run_id", "status", "test_acc", "ricci_rho"]
    pd.testing.assert_frame_equal(ResultStore(tmp_path / "a").runs()[cols],
                                  ResultStore(tmp_path / "b").runs()[cols])


def test_tasks_are_config_determined_chunks() -> None:
    runs = expand_runs(load_config({**toy_config(), "seeds": 5}))
    tasks = make_tasks(runs, chunk_size=2)
    assert sorted(len(t.runs) for t in tasks) == sorted([2, 2, 1] * 4)
    for t in tasks:
        assert len({r.group_key for r in t.runs}) == 1
    assert sorted(r.run_id for t in tasks for r in t.runs) == sorted(r.run_id for r in runs)
    assert [t.task_id for t in make_tasks(runs, 2)] == [t.task_id for t in tasks]
    saved = make_tasks(runs, 2, save_trajectories=1)
    assert sum(len(t.save_ids) for t in saved) == 4  # one per group: its lowest seed
    assert all(r.seed == 0 for t in saved for r in t.runs if r.run_id in t.save_ids)


def test_backend_errors(tmp_path: Path, toy: dict) -> None:
    with pytest.raises(ConfigError, match="unknown backend 'spark'"):
        run_sweep(toy, tmp_path, task="toy", backend="spark")
    if importlib.util.find_spec("ray") is None:
        with pytest.raises(ConfigError, match=r"pip install layerflow\[ray\]"):
            run_sweep(toy, tmp_path, task="toy", backend="ray")
    with pytest.raises(ConfigError, match="workers=0"):
        from layerflow.sweep import make_backend
        make_backend("local", workers=0)


def test_store_write_requires_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no rows to write"):
        ResultStore(tmp_path).write_task("t", [])


def test_empty_store_reads_empty(tmp_path: Path) -> None:
    s = ResultStore(tmp_path)
    assert s.runs().empty and s.layers().empty and s.done_ids() == set()
    assert s.compact() == (0, 0)


def test_temp_files_are_ignored_by_every_reader(tmp_path: Path, toy: dict) -> None:
    run_sweep(toy, tmp_path, task="toy", backend="serial")
    # a half-written file, as a kill -9 during a write leaves it
    for d in ("parts", "."):  # beside the part files and the compacted tables
        (tmp_path / "store" / d / ".tmp-deadbeef").write_bytes(b"PAR1 half written")
    check_store(tmp_path, toy)
    assert not math.isnan(ResultStore(tmp_path).runs()["test_acc"].sum())


def test_unknown_task_name_is_named() -> None:
    from layerflow.sweep._tasks import resolve_task

    with pytest.raises(ValueError, match=r"unknown task 'trian'; expected one of \["):
        resolve_task("trian")


def test_ray_backend_gives_the_same_rows_as_serial(tmp_path: Path, toy: dict) -> None:
    """A real local Ray instance (runs where the optional extra is installed)."""
    pytest.importorskip("ray")
    run_sweep(toy, tmp_path / "ray", task="toy", backend="ray", workers=2)
    run_sweep(toy, tmp_path / "serial", task="toy", backend="serial")
    cols = ["run_id", "status", "test_acc", "ricci_rho"]
    pd.testing.assert_frame_equal(ResultStore(tmp_path / "ray").runs()[cols],
                                  ResultStore(tmp_path / "serial").runs()[cols])
    check_store(tmp_path / "ray", toy)
