"""A cheap, deterministic stand-in for training: exercises the runner and the store.

Every metric is a closed-form function of the run's content, so tests can predict each row.
Options (``ctx.options``) inject the hostile cases the runner must survive:

* ``sleep`` — seconds spent per member (so a ``kill -9`` can land mid-task);
* ``diverge_seeds`` — members recorded as ``diverged``;
* ``fail_seeds`` — members whose analysis raises (status ``failed``, siblings unaffected);
* ``raise_seeds`` — the whole task raises if it holds one of these seeds;
* ``die_seeds`` — the worker process kills itself with SIGKILL (a dead worker).
"""

from __future__ import annotations

import math
import os
import signal
import time
from typing import Any

from layerflow.sweep._grid import RunSpec
from layerflow.sweep._tasks import MemberResult


def toy_metrics(run: RunSpec) -> dict[str, float]:
    """The metrics the toy task reports for ``run`` (a closed form the tests can recompute)."""
    s, w, d = run.seed, run.model["width"], run.model["depth"]
    lr = (run.training or {}).get("lr", 0.0)
    acc = 0.9 + 0.009 * ((s * 7 + w) % 11) if run.trained else 0.5
    return {
        "train_acc": min(1.0, acc + 0.005),
        "test_acc": acc,
        "ricci_rho": math.sin(s + w + d + 1000 * lr),
    }


def toy_coefficients(run: RunSpec) -> list[dict[str, Any]]:
    """The coefficient rows the toy task reports for ``run``: its ``ricci_rho`` at its k, and
    ``cos`` of the same argument at k + 1 (a closed form the tests can recompute)."""
    s, w, d = run.seed, run.model["width"], run.model["depth"]
    x = s + w + d + 1000 * (run.training or {}).get("lr", 0.0)
    k = int(run.analysis["k"])
    return [{"run_id": run.run_id, "protocol": "layerflow", "k": k, "rho": math.sin(x),
             "first_pair": 0, "reason": ""},
            {"run_id": run.run_id, "protocol": "layerflow", "k": k + 1, "rho": math.cos(x),
             "first_pair": 0, "reason": ""}]


def run_task(runs: list[RunSpec], ctx: Any) -> list[Any]:
    opts = ctx.options
    seeds = {r.seed for r in runs}
    if seeds & set(opts.get("raise_seeds", ())):
        raise RuntimeError(f"toy task raised for seeds {sorted(seeds)}")
    out = []
    for r in runs:
        t0 = time.perf_counter()
        if opts.get("sleep"):
            time.sleep(float(opts["sleep"]))
        if r.seed in opts.get("die_seeds", ()):
            os.kill(os.getpid(), signal.SIGKILL)
        if r.seed in opts.get("diverge_seeds", ()):
            out.append(MemberResult(r, "diverged", "loss became NaN at epoch 1",
                                    {"train_acc": math.nan, "test_acc": math.nan}, [],
                                    time.perf_counter() - t0))
            continue
        if r.seed in opts.get("fail_seeds", ()):
            out.append(MemberResult(r, "failed", "ValueError: toy analysis failed", {}, [],
                                    time.perf_counter() - t0))
            continue
        m = toy_metrics(r)
        layers = [
            {"run_id": r.run_id, "layer": layer, "layer_name": f"layer{layer}",
             "metric": "scalar_curvature", "k": r.analysis["k"], "protocol": "layerflow",
             "value": float(layer * r.seed)}
            for layer in range(r.model["depth"] + 1)
        ]
        out.append(MemberResult(r, "ok", None, m, layers, time.perf_counter() - t0,
                                toy_coefficients(r)))
    return out
