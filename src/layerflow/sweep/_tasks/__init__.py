"""The task contract: what a worker does with one group of runs.

A task function has the signature ``fn(runs, ctx) -> list[MemberResult]``: ``runs`` share
everything but the seed; ``ctx`` is a :class:`TaskContext`. It must return one
:class:`MemberResult` per run and record a failure of one member in that member's result, not
raise. Task functions are chosen by name (:data:`TASKS`) so that workers on other machines import
them themselves. This module imports nothing of the runner: tasks depend on the contract only.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layerflow.sweep._grid import RunSpec

__all__ = ["TASKS", "MemberResult", "TaskContext", "resolve_task", "torch_threads"]

TASKS: dict[str, str] = {
    "train": "layerflow.sweep._tasks.train:run_task",
    "toy": "layerflow.sweep._tasks.toy:run_task",
}


@dataclass(frozen=True)
class TaskContext:
    """What a task function may use besides its runs."""

    options: Mapping[str, Any]
    trajectories: Path
    save_ids: frozenset[str]
    threads: int = 1


@dataclass
class MemberResult:
    """The outcome of one network: status, error text, scalar metrics, per-layer rows and
    coefficient rows (one per protocol and k; :func:`layerflow.views.coefficient_row`)."""

    run: RunSpec
    status: str  # "ok" | "diverged" | "failed"
    error: str | None
    metrics: dict[str, Any]
    layers: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    coefficients: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the body with torch on ``threads`` intra-op threads, then restore the caller's count.

    A no-op while torch is not imported (a task that imports it sets its own count with this
    helper). Restoring matters for the serial backend, which runs tasks in the user's process.
    """
    if "torch" not in sys.modules:
        yield
        return
    import torch

    prev = torch.get_num_threads()
    if prev != threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != prev:
            torch.set_num_threads(prev)


def resolve_task(name: str) -> Callable[..., Any]:
    """A task name (or ``"module:function"``) -> the function."""
    target = TASKS.get(name, name)
    if ":" not in target:
        raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)} or "
                         "'module:function'")
    module, func = target.split(":", 1)
    fn: Callable[..., Any] = getattr(importlib.import_module(module), func)
    return fn
