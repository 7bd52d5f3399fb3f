from __future__ import annotations

import networkx as nx
import numpy as np

from layerflow.ricci import knn_graph
from layerflow.ricci._path_mass import bfs_pair_distances

from ..reference import nx_csr, ref_graph


def test_pair_distances_match_networkx() -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(150, 2))
    G = knn_graph(X, 3)
    g = ref_graph(X, 3)
    sp_ = dict(nx.all_pairs_shortest_path_length(g))
    sources = rng.choice(150, 70, replace=False)
    targets = [rng.choice(150, rng.integers(0, 6)) for _ in sources]
    d = bfs_pair_distances(G, sources, targets)
    ref = [sp_[s].get(int(t), -1) for s, tt in zip(sources, targets, strict=True) for t in tt]
    np.testing.assert_array_equal(d, ref)


def test_one_bfs_source_compiled_serial_and_parallel() -> None:
    # one Python kernel, two compilations (parallel flag, own cache names), the same answers
    import numba

    from layerflow.ricci._shortest_paths import bfs

    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    par, ser = bfs.bfs_sources_parallel, bfs.bfs_sources_serial
    assert par.targetoptions["parallel"] is True and ser.targetoptions["parallel"] is False
    assert par.py_func.__code__ is ser.py_func.__code__
    assert par.py_func.__qualname__ != ser.py_func.__qualname__
    g = nx.connected_watts_strogatz_graph(300, 6, 0.1, seed=1)
    A = nx_csr(g)
    indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    sources = np.arange(300, dtype=np.int64)
    empty_ptr = np.zeros(301, dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    lengths = dict(nx.all_pairs_shortest_path_length(g))
    expected = np.array([sum(lengths[s].values()) for s in range(300)])
    for W in (1, 2):  # 64·W sources per batch: several batches, spread over threads by prange
        out_p = par(indptr, indices, sources, W, empty_ptr, empty, True, True)
        out_s = ser(indptr, indices, sources, W, empty_ptr, empty, True, True)
        np.testing.assert_array_equal(out_p[0], expected)
        np.testing.assert_array_equal(out_s[0], expected)
        np.testing.assert_array_equal(out_p[1], 300)
        assert out_p[3] == out_s[3] == expected.sum()
