"""The Dask backend on a real multi-process LocalCluster: a task that SIGKILLs its worker (issue 8)
fails alone, every other run is stored once, and a re-run completes exactly the missing rows.
Plus the backend errors that need no cluster."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from layerflow._errors import ConfigError
from layerflow.sweep import ResultStore, run_sweep
from layerflow.sweep._backends import Backend, make_backend

from .helpers import check_store, toy_config

pytest.importorskip("distributed")


def _cfg() -> dict[str, Any]:
    # 2 widths x 1 lr x seeds 0, 1, 2 in chunks of 2: per width one task {0, 1} and one task {2}
    return toy_config(training={"lr": 0.01, "epochs": 1})


@pytest.mark.timeout(120)  # a dask cluster that stops restarting workers must not hang the suite
def test_dask_worker_killed_by_a_task_fails_only_that_task(tmp_path: Path) -> None:
    cfg = _cfg()
    t0 = time.perf_counter()
    res = run_sweep(cfg, tmp_path, task="toy", backend="dask", workers=2,
                    task_options={"die_seeds": [2]})  # processes=True: real worker processes
    first = time.perf_counter() - t0
    # the two seed-2 tasks killed a worker, were retried alone once, killed it again: failed.
    # A sibling whose future died with the worker after it had committed reports its rows as
    # "skipped" on its retry (see test_runner); the store below is the truth.
    assert res.statuses["failed"] == 2
    assert res.statuses.get("ok", 0) + res.statuses.get("skipped", 0) == 4
    df = ResultStore(tmp_path).runs()
    assert len(df) == 6 and not df["run_id"].duplicated().any()
    assert df["status"].value_counts().to_dict() == {"ok": 4, "failed": 2}
    failed = df[df.status == "failed"]
    assert sorted(failed["seed"]) == [2, 2]
    assert failed["error"].str.startswith(
        "RuntimeError: the worker running this task died twice").all()
    # the runner's scheduler allows no Dask-side retry (allowed_failures=0): one death per attempt
    assert failed["error"].str.contains("on 1 different workers").all()
    # re-run without the poison: exactly the two missing runs, then every row once, values exact
    t0 = time.perf_counter()
    again = run_sweep(cfg, tmp_path, task="toy", backend="dask", workers=2)
    second = time.perf_counter() - t0
    assert again.n_skipped == 4 and again.statuses == {"ok": 2}
    check_store(tmp_path, cfg)
    print(f"dask worker death: first run {first:.1f} s, re-run {second:.1f} s", file=sys.stderr)


def test_dask_backend_without_distributed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ConfigError, match=r"dask backend needs dask\.distributed: pip install "
                       r"layerflow\[dask\]"):
        make_backend("dask")
    with pytest.raises(ConfigError, match=r"layerflow\[dask\]"):
        run_sweep(_cfg(), tmp_path, task="toy", backend="dask")
    assert not (tmp_path / "store").exists()


def test_a_backend_without_map_says_so() -> None:
    class Half(Backend):
        name = "half"

    with pytest.raises(NotImplementedError, match=r"Half \(backend 'half'\) does not implement map"):
        list(Half(workers=1).map(print, [()]))
