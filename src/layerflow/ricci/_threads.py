"""Threads of the Ricci view: which work runs in parallel, and on how many threads.

Choices made on ``benchmarks/bench_ricci.py`` (figures in ``benchmarks/README.md``):

* a network's layers are the parallel jobs from :data:`LAYER_THREADS_MIN_N` points on
  (:func:`map_layers`): one independent job per layer, no barrier inside, so a busy machine
  costs no spinning; the kernels release the GIL. The jobs run on one thread pool kept for the
  process (:data:`LAYER_POOL`; ``LAYER_POOL.shutdown()`` lets it go);
* inside a layer job every kernel runs on one thread (:func:`serial_kernels`), and BLAS is held
  to one thread (:func:`blas_one_thread`): BLAS threads on top of the layer jobs oversubscribe
  the cores and spin-wait;
* a single call outside a layer job (``path_mass``, local coefficients) launches a parallel
  Numba kernel from :data:`PARALLEL_MIN_N` nodes on (:func:`kernel_threads`).

These sizes are the defaults of :class:`Thresholds`; :func:`thresholds` takes others for a
block (every path gives the same answer, so a small size runs a parallel path on small data).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

# BLAS products (else a Numba Gram block) from this many points on
BLAS_MIN_N = 1024
# parallel Numba BFS (one launch per call; public geodesic functions) from this many points on
PARALLEL_MIN_N = 8192
# layers of a network spread over threads from this many points on (see layer_threads)
LAYER_THREADS_MIN_N = 1024


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """The sizes (points) from which each parallel path is taken: BLAS products (``blas``),
    parallel Numba kernels (``parallel``), layers spread over threads (``layers``)."""

    blas: int = BLAS_MIN_N
    parallel: int = PARALLEL_MIN_N
    layers: int = LAYER_THREADS_MIN_N


_THRESHOLDS = Thresholds()


@contextlib.contextmanager
def thresholds(blas: int | None = None, parallel: int | None = None,
               layers: int | None = None) -> Iterator[Thresholds]:
    """Context: the paths above taken from other sizes (``None`` keeps the current one), for
    the whole process while it lasts (the layer jobs run on other threads), restored
    afterwards. Every path gives the same answer; a small size forces a path on small data."""
    global _THRESHOLDS
    before = _THRESHOLDS
    _THRESHOLDS = Thresholds(
        before.blas if blas is None else int(blas),
        before.parallel if parallel is None else int(parallel),
        before.layers if layers is None else int(layers),
    )
    try:
        yield _THRESHOLDS
    finally:
        _THRESHOLDS = before


def blas_min_n() -> int:
    """Points from which the kNN keys are BLAS products (else a Numba Gram block)."""
    return _THRESHOLDS.blas


_local = threading.local()
_BLAS_CONTROLLER: Any = None

T = TypeVar("T")
R = TypeVar("R")


def _in_layer_job() -> bool:
    return bool(getattr(_local, "serial", False))


@contextlib.contextmanager
def serial_kernels() -> Iterator[None]:
    """Within this block (a layer job on a worker thread) every kernel runs on one thread."""
    _local.serial = True
    try:
        yield
    finally:
        _local.serial = False


def blas_one_thread(n: int) -> Any:
    """Context: BLAS on one thread for the kNN products of N points (N >= :data:`BLAS_MIN_N`;
    smaller ones use no BLAS). The layers themselves are the parallel jobs; BLAS threads on top
    oversubscribe the cores and spin-wait, which on a loaded machine cost several times the
    product. Uses threadpoolctl (a dependency of scikit-learn; without it, a no-op).
    Process-wide while it lasts, restored afterwards; a no-op inside a layer job."""
    global _BLAS_CONTROLLER
    if n < _THRESHOLDS.blas or _in_layer_job():
        return contextlib.nullcontext()
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - scikit-learn requires it
        return contextlib.nullcontext()
    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def kernel_threads(n: int) -> int:
    """Threads for one parallel Numba kernel launch on N points: 1 below
    :data:`PARALLEL_MIN_N` or inside a layer job. A launch waits at a barrier for every
    thread; on a loaded machine that wait (a descheduled thread, spinning waiters) costs far
    more than the work of a small launch."""
    import numba

    if n < _THRESHOLDS.parallel or _in_layer_job():
        return 1
    return max(1, int(numba.get_num_threads()))


def layer_threads(n: int) -> int:
    """Threads over which the layers of one network are spread (each layer one job): the Numba
    thread count (``NUMBA_NUM_THREADS``, ``numba.set_num_threads``) from
    :data:`LAYER_THREADS_MIN_N` points on, else 1."""
    import numba

    if n < _THRESHOLDS.layers or _in_layer_job():
        return 1
    return max(1, int(numba.get_num_threads()))


class LayerPool:
    """The thread pool on which the layer jobs of this process run, made on first use and again
    when the thread count changes or in a forked process (a pool's threads do not survive a
    fork; ``getpid`` tells the process apart); :meth:`shutdown` lets it go (the next parallel
    call makes a new one)."""

    def __init__(self, getpid: Callable[[], int] = os.getpid) -> None:
        self._getpid = getpid
        self._pid = -1
        self.threads = 0
        self._executor: Any = None

    def get(self, threads: int) -> Any:
        """The executor for ``threads`` workers in this process."""
        pid = self._getpid()
        if self._executor is None or self._pid != pid or self.threads != threads:
            from concurrent.futures import ThreadPoolExecutor

            if self._executor is not None and self._pid == pid:
                self._executor.shutdown(wait=False)
            self._executor = ThreadPoolExecutor(max_workers=threads,
                                                thread_name_prefix="layerflow-ricci")
            self._pid, self.threads = pid, threads
        return self._executor

    def shutdown(self) -> None:
        """Shut the pool down (no-op if there is none in this process)."""
        if self._executor is not None and self._pid == self._getpid():
            self._executor.shutdown(wait=True)
        self._executor, self._pid, self.threads = None, -1, 0


LAYER_POOL = LayerPool()


def map_layers(fn: Callable[[T], R], items: Sequence[T], n: int,
               pool: LayerPool | None = None) -> list[R]:
    """``[fn(x) for x in items]``, the layers spread over threads for large N (see
    :func:`layer_threads`): one independent job per layer, no barrier inside, so a busy machine
    costs no spinning; the kernels release the GIL. With one thread (a sweep worker's setting)
    the jobs run in the calling thread; otherwise on the pool kept for the process
    (``pool``, default :data:`LAYER_POOL`), not one made per call."""
    threads = min(layer_threads(n), len(items))
    if threads <= 1:
        with blas_one_thread(n):
            return [fn(x) for x in items]

    def job(x: T) -> R:
        with serial_kernels():
            return fn(x)

    with blas_one_thread(n):
        return list((LAYER_POOL if pool is None else pool).get(layer_threads(n)).map(job, items))
