"""Where tasks run: a registry of backends with one small interface.

``local`` (default) runs on joblib's loky process pool on this machine; ``dask`` on a
``distributed`` cluster (a ``LocalCluster`` by default, or the scheduler at ``address``); ``ray`` on
a Ray cluster (optional extra, ``pip install layerflow[ray]``); ``serial`` in this process (for
debugging). Dask and Ray are imported only when their backend is chosen.

A backend maps a picklable function over argument tuples and yields ``(index, result, error)`` as
tasks finish, in any order. :meth:`Backend.is_worker_death` tells the runner which errors mean a
worker process died (loky ``TerminatedWorkerError``, Dask ``KilledWorker``, Ray
``WorkerCrashedError``) rather than the task raising.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from layerflow._errors import ConfigError
from layerflow._suggest import did_you_mean

Item = tuple[int, Any, BaseException | None]


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _init_worker(threads: int) -> None:
    """Per-process setup: a fair share of the cores for torch and the BLAS libraries."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["LAYERFLOW_THREADS"] = str(threads)


class Backend:
    name = "base"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 **options: Any) -> None:
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise ConfigError(f"workers={workers!r}: expected an int >= 1 or None")
        self.workers = workers or default_workers()
        self.address = address
        self.options = options

    @property
    def threads_per_worker(self) -> int:
        return max(1, default_workers() // self.workers)

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> Iterator[Item]:
        raise NotImplementedError(
            f"{type(self).__name__} (backend {self.name!r}) does not implement map(); a backend "
            "yields (index, result, error) for every argument tuple"
        )

    def is_worker_death(self, exc: BaseException) -> bool:
        return False

    def close(self) -> None:
        """Release the backend's resources (pools, clusters)."""


class SerialBackend(Backend):
    """Run every task in this process, one after another."""

    name = "serial"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 **options: Any) -> None:
        super().__init__(1, address, **options)

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> Iterator[Item]:
        for i, a in enumerate(args):
            try:
                yield i, fn(*a), None
            except Exception as exc:
                yield i, None, exc


class LocalBackend(Backend):
    """joblib/loky worker processes on this machine (``workers`` defaults to the core count)."""

    name = "local"

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> Iterator[Item]:
        from concurrent.futures import as_completed

        from joblib.externals.loky import get_reusable_executor

        ex = get_reusable_executor(max_workers=self.workers, timeout=30,
                                   initializer=_init_worker,
                                   initargs=(self.threads_per_worker,))
        futures = {ex.submit(fn, *a): i for i, a in enumerate(args)}
        for f in as_completed(futures):
            try:
                yield futures[f], f.result(), None
            except BaseException as exc:
                yield futures[f], None, exc

    def is_worker_death(self, exc: BaseException) -> bool:
        from concurrent.futures.process import BrokenProcessPool

        from joblib.externals.loky.process_executor import TerminatedWorkerError

        return isinstance(exc, TerminatedWorkerError | BrokenProcessPool)


class DaskBackend(Backend):
    """A ``dask.distributed`` cluster: ``LocalCluster(n_workers=workers, threads_per_worker=1)``
    by default (option ``processes=False`` keeps the workers in this process), or ``address``.

    The local cluster's scheduler gets ``allowed_failures=0`` (option ``allowed_failures``): a task
    in flight on a worker that dies fails at once with ``KilledWorker`` and the runner's own policy
    applies (retry once, alone), as with loky. Dask's default (3) lets a task that kills its worker
    do so 4 times per attempt, and every death counts against the tasks queued on that worker.
    """

    name = "dask"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 **options: Any) -> None:
        super().__init__(workers, address, **options)
        _require("distributed", "the dask backend needs dask.distributed: pip install "
                                "layerflow[dask]")
        self._client: Any = None
        self._cluster: Any = None

    def _connect(self) -> Any:
        if self._client is None:
            import logging

            from distributed import Client, LocalCluster

            if self.address:
                self._client = Client(self.address)
            else:
                self._cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1,
                    processes=bool(self.options.get("processes", True)),
                    dashboard_address=":0", silence_logs=logging.ERROR,
                    scheduler_kwargs={
                        "allowed_failures": int(self.options.get("allowed_failures", 0))
                    },
                )
                self._client = Client(self._cluster)
        return self._client

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> Iterator[Item]:
        from distributed import as_completed

        client = self._connect()
        futures = {client.submit(fn, *a, pure=False): i for i, a in enumerate(args)}
        for f in as_completed(list(futures)):
            try:
                yield futures[f], f.result(), None
            except BaseException as exc:
                yield futures[f], None, exc

    def is_worker_death(self, exc: BaseException) -> bool:
        from distributed.scheduler import KilledWorker

        return isinstance(exc, KilledWorker)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _require(module: str, message: str) -> None:
    """Import ``module`` (an optional extra) or raise :class:`ConfigError` with ``message``."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(message) from exc


class RayBackend(Backend):
    """A Ray cluster (``address`` or a local one with ``workers`` CPUs); needs the ``ray`` extra."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 **options: Any) -> None:
        super().__init__(workers, address, **options)
        _require("ray", "the ray backend needs Ray, which is not installed: pip install "
                        "layerflow[ray]")

    def map(self, fn: Callable[..., Any], args: Sequence[tuple[Any, ...]]) -> Iterator[Item]:
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False)
        remote = ray.remote(num_cpus=1, max_retries=0)(fn)
        refs = {remote.remote(*a): i for i, a in enumerate(args)}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            ref = done[0]
            try:
                yield refs[ref], ray.get(ref), None
            except BaseException as exc:
                yield refs[ref], None, exc

    def is_worker_death(self, exc: BaseException) -> bool:
        import ray.exceptions

        return isinstance(exc, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError)


BACKENDS: dict[str, type[Backend]] = {
    "local": LocalBackend,
    "dask": DaskBackend,
    "ray": RayBackend,
    "serial": SerialBackend,
}


def make_backend(name: str, workers: int | None = None, address: str | None = None,
                 **options: Any) -> Backend:
    """A backend by name (see :data:`BACKENDS`)."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}{did_you_mean(name, BACKENDS)}; expected one "
                           f"of {', '.join(BACKENDS)}")
    return BACKENDS[name](workers=workers, address=address, **options)
