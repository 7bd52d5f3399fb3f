"""Run a sweep: config -> tasks -> backend workers -> Parquet store.

Runs that share dataset, model shape, training config and arm (everything but the seed) form a
*group*; a group is split into *tasks* of at most ``backend.chunk_size`` seeds (chunks depend on the
config only, so every runner of one config agrees on them). A task trains its seeds as one batched
ensemble and analyses each member; its rows are committed to the store in one atomic step.

Fault tolerance:

* a member that diverges is recorded ``diverged``; an analysis error of one member is recorded
  ``failed`` with its message; the siblings are unaffected;
* a task that raises records all its pending members ``failed`` (retried by the next run);
* a worker that dies (loky ``TerminatedWorkerError``, Dask ``KilledWorker``) fails every task in
  flight with it; each such task is retried once on its own, and if it kills its worker again it is
  recorded ``failed``; the other tasks finish;
* ``kill -9`` of the runner loses only the tasks in flight (nothing of them is committed); the next
  run skips finished runs (``ok``/``diverged``) and redoes the rest;
* a task holds an ``fcntl`` lock while it runs and re-checks the store under that lock, so two
  runners on one store never train the same task twice.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from layerflow._environment import environment
from layerflow.sweep._backends import Backend, make_backend
from layerflow.sweep._config import SweepConfig, expand_runs, load_config, training_fields
from layerflow.sweep._grid import RunSpec, run_id_of
from layerflow.sweep._store import ResultStore, atomic_write_text
from layerflow.sweep._tasks import MemberResult, TaskContext, resolve_task, torch_threads


@dataclass(frozen=True)
class Task:
    """Runs of one group (same everything but seed), trained together."""

    task_id: str
    runs: tuple[RunSpec, ...]
    save_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TaskOutcome:
    task_id: str
    statuses: dict[str, int]
    n_skipped: int
    seconds: float


@dataclass(frozen=True)
class SweepProgress:
    """Progress of a sweep, passed to the ``progress`` callback after every task."""

    tasks_done: int
    tasks_total: int
    networks_done: int
    networks_total: int
    networks_skipped: int
    elapsed_s: float

    @property
    def rate(self) -> float:
        """Networks per second so far."""
        return self.networks_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float:
        left = self.networks_total - self.networks_done
        return left / self.rate if self.rate > 0 else math.inf


@dataclass(frozen=True)
class SweepResult:
    out: Path
    backend: str
    n_runs: int
    n_skipped: int
    n_tasks: int
    statuses: dict[str, int]
    seconds: float

    @property
    def n_failed(self) -> int:
        return self.statuses.get("failed", 0)


# ----------------------------------------------------------------------------- tasks
def make_tasks(runs: Sequence[RunSpec], chunk_size: int = 32,
               save_trajectories: int = 0) -> list[Task]:
    """Group runs (all but seed equal), sort each group by seed and cut it into chunks.

    The first ``save_trajectories`` seeds of each group have their trajectories saved.
    """
    groups: dict[str, list[RunSpec]] = {}
    for r in runs:
        groups.setdefault(r.group_key, []).append(r)
    tasks = []
    for members in groups.values():
        members = sorted(members, key=lambda r: r.seed)
        save = frozenset(r.run_id for r in members[:save_trajectories])
        for i in range(0, len(members), chunk_size):
            chunk = tuple(members[i : i + chunk_size])
            tid = run_id_of({"runs": [r.run_id for r in chunk]})
            tasks.append(Task(tid, chunk, save & {r.run_id for r in chunk}))
    # big tasks first: better balance across workers
    tasks.sort(key=lambda t: -_task_cost(t))
    return tasks


def _task_cost(task: Task) -> float:
    r = task.runs[0]
    t = r.training or {}
    epochs = t.get("steps", 0) / 20 if t.get("steps") else (t.get("epochs") or 0)
    cost: float = len(task.runs) * (1 + epochs / 10) * r.model["depth"]
    return cost


def _row(res: MemberResult) -> dict[str, Any]:
    row: dict[str, Any] = dict(res.run.columns(training_fields()))
    row["status"] = res.status
    row["error"] = res.error
    row["seconds"] = float(res.seconds)
    row.setdefault("train_acc", math.nan)
    row.setdefault("val_acc", math.nan)
    row.setdefault("test_acc", math.nan)
    for k, v in res.metrics.items():
        if k in row and k not in ("train_acc", "val_acc", "test_acc"):
            k = f"metric_{k}"
        if v is None:
            v = math.nan
        elif isinstance(v, bool):
            v = float(v)
        elif isinstance(v, int | float):
            v = float(v)
        elif not isinstance(v, str):
            v = float(v)  # numpy scalars
        row[k] = v
    return row


def failed_result(run: RunSpec, error: str) -> MemberResult:
    return MemberResult(run, "failed", error, {})


def execute_task(task: Task, out: str, task_name: str = "train",
                 options: Mapping[str, Any] | None = None, threads: int = 1) -> TaskOutcome:
    """Run one task in a worker and commit its rows. Safe to call from any process or machine."""
    t0 = time.perf_counter()
    threads = int(os.environ.get("LAYERFLOW_THREADS", threads))
    store = ResultStore(out)
    with torch_threads(threads), store.lock(task.task_id):
        done = store.task_done_ids(task.task_id)
        pending = [r for r in task.runs if r.run_id not in done]
        if not pending:
            return TaskOutcome(task.task_id, {}, len(task.runs), time.perf_counter() - t0)
        ctx = TaskContext(dict(options or {}), store.trajectories, task.save_ids, threads)
        try:
            fn = resolve_task(task_name)
            results = list(fn(pending, ctx))
        except Exception as exc:
            msg = f"{type(exc).__name__}: {exc}"
            results = [failed_result(r, msg) for r in pending]
        by_id = {res.run.run_id: res for res in results}
        results = [by_id.get(r.run_id) or failed_result(r, "the task returned no result for it")
                   for r in pending]
        env = {f"env_{k}": v for k, v in environment().items()}  # threads, device, versions
        rows = [{**_row(res), **env} for res in results]
        layers = [dict(lr) for res in results for lr in res.layers]
        coefficients = [dict(c) for res in results for c in res.coefficients]
        store.write_task(task.task_id, rows, layers, coefficients)
    counts = Counter(res.status for res in results)
    return TaskOutcome(task.task_id, dict(counts), len(task.runs) - len(pending),
                       time.perf_counter() - t0)


# ----------------------------------------------------------------------------- metadata
def versions() -> dict[str, str]:
    """Versions recorded with every sweep (OUT/versions.json); read without importing them."""
    from importlib.metadata import PackageNotFoundError, version

    from layerflow._version import __version__

    v = {"python": platform.python_version(), "platform": platform.platform(),
         "layerflow": __version__}
    for dist in ("torch", "numpy", "scipy", "pandas", "pyarrow", "POT", "scikit-learn"):
        try:
            v[dist] = version(dist)
        except PackageNotFoundError:  # pragma: no cover - optional
            continue
    return v


def _check_datasets(cfg: SweepConfig) -> None:
    """Load every dataset once before any training, so a bad name fails fast with its key; and
    cut the first seed's draw into each train fraction's budget and validation split, so a budget
    too small to carve a validation sample from fails before anything is trained."""
    import numpy as np

    from layerflow._errors import ConfigError
    from layerflow.data import load_dataset
    from layerflow.sweep._grid import make_run

    for i, ds in enumerate(cfg.datasets):
        draw = make_run({**ds, **({"data_draw": "seed"} if cfg.data_draw == "seed" else {})},
                        {}, None, "", cfg.seeds[0], False, {})
        try:
            full = load_dataset(ds["name"], **draw.draw_args())
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"datasets[{i}]", f"{ds['name']!r} cannot be loaded: {exc}") from exc
        if not cfg.val_fraction:
            continue
        for frac in cfg.train_fraction:
            budget = full.subset_train(frac, seed=draw.data_seed) if frac < 1.0 else full
            try:
                budget.hold_out_validation(cfg.val_fraction, seed=draw.data_seed)
            except ConfigError as exc:
                counts = np.bincount(budget.y_train).tolist()
                raise ConfigError("val_fraction", f"{cfg.val_fraction!r} cannot be carved from "
                                  f"the labelled budget of datasets[{i}] ({ds['name']!r}) at "
                                  f"train_fraction {frac!r}: {counts} samples per class "
                                  f"({exc}); use a larger dataset or train fraction") from exc


# ----------------------------------------------------------------------------- driver
def run_sweep(
    config: str | Path | Mapping[str, Any] | SweepConfig,
    out: str | os.PathLike[str] | None = None,
    *,
    backend: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
    task: str = "train",
    task_options: Mapping[str, Any] | None = None,
    backend_options: Mapping[str, Any] | None = None,
    compact_every: float = 30.0,
) -> SweepResult:
    """Run every run of ``config`` that the store at ``out`` does not hold yet.

    Parameters
    ----------
    config
        A YAML path, a built-in name (``paper-ricci``), a mapping or a :class:`SweepConfig`.
    out
        Output folder (default: ``config.out``, else ``results/<name>``). Holds ``store/``,
        ``trajectories/``, ``config.yaml`` and ``versions.json``.
    backend, workers, address
        Override ``config.backend`` (``local`` | ``dask`` | ``ray`` | ``serial``).
    progress
        Called with a :class:`SweepProgress` at the start and after every task.
    task
        Task function name (``train``; ``toy`` is a cheap stand-in used to test the runner).
    """
    cfg = load_config(config)
    out_dir = Path(out if out is not None else (cfg.out or Path("results") / cfg.name))
    bname = backend or cfg.backend["name"]
    be = make_backend(bname, workers or cfg.backend["workers"],
                      address or cfg.backend["address"], **dict(backend_options or {}))
    runs = expand_runs(cfg)
    if task == "train":
        _check_datasets(cfg)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "config.yaml", cfg.to_yaml())
    atomic_write_text(out_dir / "versions.json", json.dumps(versions(), indent=2))
    store = ResultStore(out_dir)
    done = store.done_ids()
    tasks = []
    for t in make_tasks(runs, cfg.backend["chunk_size"], cfg.analysis["save_trajectories"]):
        pending = tuple(r for r in t.runs if r.run_id not in done)
        if pending:
            tasks.append(replace(t, runs=pending))
    n_total = sum(len(t.runs) for t in tasks)
    skipped = len(runs) - n_total
    t0 = time.perf_counter()
    statuses: Counter[str] = Counter()
    state = {"tasks": 0, "nets": 0}
    last_compact = [time.monotonic()]

    def report() -> None:
        if progress is not None:
            progress(SweepProgress(state["tasks"], len(tasks), state["nets"], n_total, skipped,
                                   time.perf_counter() - t0))

    def finish(tk: Task, outcome: TaskOutcome | None, error: BaseException | None) -> None:
        if outcome is not None:
            statuses.update(outcome.statuses)
            statuses["skipped"] += outcome.n_skipped
        else:
            msg = f"{type(error).__name__}: {error}"
            store.write_task(tk.task_id, [_row(failed_result(r, msg)) for r in tk.runs])
            statuses["failed"] += len(tk.runs)
        state["tasks"] += 1
        state["nets"] += len(tk.runs)
        if time.monotonic() - last_compact[0] > compact_every:
            store.compact()
            last_compact[0] = time.monotonic()
        report()

    report()
    try:
        if tasks:
            _execute(be, tasks, str(out_dir), task, dict(task_options or {}), finish)
    finally:
        be.close()
        store.compact()
        store.remove_free_locks()
    return SweepResult(out_dir, bname, len(runs), skipped, len(tasks), dict(+statuses),
                       time.perf_counter() - t0)


def _execute(be: Backend, tasks: list[Task], out: str, task_name: str, options: dict[str, Any],
             finish: Callable[[Task, TaskOutcome | None, BaseException | None], None]) -> None:
    threads = be.threads_per_worker

    def args(t: Task) -> tuple[Any, ...]:
        return (t, out, task_name, options, threads)

    suspects: list[Task] = []
    for i, outcome, err in be.map(execute_task, [args(t) for t in tasks]):
        if err is not None and be.is_worker_death(err):
            suspects.append(tasks[i])  # maybe innocent: in flight when a worker died
            continue
        finish(tasks[i], outcome, err)
    for t in suspects:  # one at a time, so a task that kills its worker cannot take others along
        for _, outcome, err in be.map(execute_task, [args(t)]):
            if err is not None and be.is_worker_death(err):
                err = RuntimeError(f"the worker running this task died twice ({err})")
            finish(t, outcome, err)
