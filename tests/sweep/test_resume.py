"""kill -9 at random moments, and two runners on one store: nothing lost, nothing counted twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from layerflow.sweep import ResultStore, run_sweep

from .helpers import check_store, toy_config

SLEEP = 0.25  # per network: 16 networks on 2 workers take >= 2 s after the workers start

SCRIPT = """
import json, sys
from layerflow.sweep import run_sweep
cfg, out, workers, SLEEP = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
run_sweep(cfg, out, task="toy", backend="local", workers=workers, compact_every=0.0,
          task_options={"sleep": SLEEP})
"""


def resume_config() -> dict[str, Any]:
    # 2 widths x 2 lrs x 4 seeds = 16 runs in 16 one-seed tasks
    return toy_config(seeds=4, backend={"chunk_size": 1})


def start(cfg: dict[str, Any], out: Path, workers: int = 2,
          stderr: int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, json.dumps(cfg), str(out), str(workers), str(SLEEP)],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr,
    )


def kill_trial(tmp_path: Path, seed: int) -> None:
    cfg = resume_config()
    out = tmp_path / f"trial{seed}"
    proc = start(cfg, out, stderr=subprocess.DEVNULL)
    # strike at a random moment after the runner started (it writes config.yaml first) or, in
    # even trials, after its first task was committed (so some runs are done, others in flight)
    parts = out / "store" / "parts"

    def started() -> bool:
        if seed % 2:
            return (out / "config.yaml").exists()
        return parts.is_dir() and any(parts.glob("runs-*.parquet"))

    t0 = time.monotonic()
    while not started() and proc.poll() is None:
        assert time.monotonic() - t0 < 120, "the runner did not start"
        time.sleep(0.01)
    time.sleep(float(np.random.default_rng(seed).uniform(0.0, 2.0)))
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, like a power cut
    proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed mid-sweep, not finished
    before = ResultStore(out).all_attempts()
    n_before = 0 if before.empty else before[before["status"] == "ok"]["run_id"].nunique()
    assert n_before < 16
    res = run_sweep(cfg, out, task="toy", backend="serial")
    assert res.n_skipped == n_before
    assert res.n_skipped + res.statuses.get("ok", 0) == 16
    check_store(out, cfg)


@pytest.mark.parametrize("seed", [1, 2, 4])
def test_kill_9_at_random_moments_resumes_exactly(tmp_path: Path, seed: int) -> None:
    kill_trial(tmp_path, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, *range(5, 15)])
def test_kill_9_many_more_moments(tmp_path: Path, seed: int) -> None:
    kill_trial(tmp_path, seed)


def test_two_runners_on_one_store(tmp_path: Path) -> None:
    cfg = resume_config()
    a, b = start(cfg, tmp_path, workers=1), start(cfg, tmp_path, workers=1)
    for p in (a, b):
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    check_store(tmp_path, cfg)
    # the task locks kept the runners from training a task twice
    att = ResultStore(tmp_path).all_attempts()
    assert len(att) == 16
