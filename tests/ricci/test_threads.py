from __future__ import annotations

import numpy as np
import pytest

from layerflow.ricci import (
    layer_coefficients,
    ricci_coefficient,
    ricci_k_scan,
)

from .reference import random_relu_states, ref_local, ref_ricci


@pytest.mark.parametrize(
    ("blas", "parallel", "layers"), [(2, 10**9, 2), (2, 2, 10**9), (10**9, 10**9, 2)]
)
def test_parallel_and_blas_paths_equal_the_reference(
    blas: int, parallel: int, layers: int
) -> None:
    # large N uses BLAS products, layer jobs on threads, or parallel Numba kernels; force each
    # on a small case (size thresholds lowered for the block)
    import numba

    from layerflow.ricci import _threads as threads

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    states = random_relu_states(160, seed=11, depth=4)
    serial = ricci_coefficient(states, k=7, geodesics="exact")
    with threads.thresholds(blas=blas, parallel=parallel, layers=layers) as t:
        assert (t.blas, t.parallel, t.layers) == (blas, parallel, layers)
        assert threads.blas_min_n() == blas
        par = ricci_coefficient(states, k=7, geodesics="exact")
        sw = ricci_k_scan(states, ks=(5, 7), local=True)
    assert threads.blas_min_n() == threads.BLAS_MIN_N  # restored
    ref = ref_ricci(states, 7)
    for res in (serial, par, sw.global_[7]):
        np.testing.assert_array_equal(res.scalar_curvature, ref["ric"])
        np.testing.assert_array_equal(res.geodesic_mass, ref["g"])
        np.testing.assert_allclose(res.coefficient, ref["rho"], rtol=0, atol=1e-12)
    curv, delta = ref_local(states, 7)
    for lay in (layer_coefficients(states, k=7), sw.layer[7]):
        np.testing.assert_allclose(lay.curvature, curv, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lay.delta, delta, rtol=0, atol=1e-12)


def test_layer_jobs_reuse_one_pool_per_process() -> None:
    # with one thread the jobs run in the caller; with more, on a pool kept for the process (a
    # forked worker, seen as another pid, makes its own)
    import threading

    import numba

    from layerflow.ricci import _threads as threads

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    with threads.thresholds(layers=2):
        where = threads.map_layers(lambda x: threading.current_thread().name, [1, 2, 3], 10)
        if numba.get_num_threads() == 1:
            assert set(where) == {threading.current_thread().name}
            return
        assert all(name.startswith("layerflow-ricci") for name in where)
        pool = threads.LAYER_POOL.get(numba.get_num_threads())
        threads.map_layers(lambda x: x, [1, 2], 10)
        assert threads.LAYER_POOL.get(numba.get_num_threads()) is pool
        # a pool of its own, whose process id the test sets: a forked worker (another pid)
        # makes its own executor
        pid = [1]
        own = threads.LayerPool(getpid=lambda: pid[0])
        threads.map_layers(lambda x: x, [1, 2], 10, pool=own)
        first = own.get(numba.get_num_threads())
        assert first is not pool and own.threads == numba.get_num_threads()
        pid[0] = 2  # as if in a forked worker
        threads.map_layers(lambda x: x, [1, 2], 10, pool=own)
        assert own.get(numba.get_num_threads()) is not first
        own.shutdown()  # visible, and let go on demand
        assert own.threads == 0
        first.shutdown()
    with threads.thresholds(layers=10**9):
        assert threads.map_layers(lambda x: threading.current_thread().name, [1], 10) == [
            threading.current_thread().name
        ]
