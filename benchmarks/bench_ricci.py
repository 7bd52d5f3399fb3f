"""Ricci coefficient of one network: layerflow vs a straightforward reference, in one run.

Workload: N = 2,000 points, 7 states (3-D input + 6 ReLU layers of width 50, seeded
random weights so the layers differ), k = 30, Forman curvature, exact geodesic mass.

Reference: scikit-learn ``kneighbors_graph`` (union-symmetrised), ``scipy.sparse.csgraph.
shortest_path`` per layer (unweighted BFS, N×N matrix), Forman by a Python loop over edges,
``numpy.corrcoef``. Both results are checked equal before timings are printed.

Then the sweep's use: ``ricci_k_scan(traj, ks=(20, 50, 100), local=False)`` on N = 200 points and
12 states (what every sweep task runs, many networks per worker process); the authors' scale:
one network at N = 2,000 for ks (30, 120, 300) in one call, both protocols, beside
three separate calls and the R code's own time (about 50 s per network for the three ks, timed by
hand with cccd + igraph; R is not run here); N = 20,000 with sampled geodesics (1,024 sources)
against the exact geodesic mass; and the kNN search of one wide state (20,000 × 768, k = 30):
layerflow's automatic choice (candidates from half the Gram matrix at this width), its
row-by-row BLAS keys (and the same with 13-row blocks), the faiss candidate path,
and scikit-learn; layerflow's paths are checked equal.

Threads: both sides run in the same environment. Set ``NUMBA_NUM_THREADS`` (layerflow spreads the
layers of a network over that many threads from N = 1,024 on) and ``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` (BLAS and scikit-learn) before starting; the script prints what it ran with.

    python benchmarks/bench_ricci.py [--quick] [--skip-knn]
    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_ricci.py
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
import warnings

import numpy as np


def synthetic_trajectory(
    n: int, seed: int = 0, width: int = 50, depth: int = 6
) -> list[np.ndarray]:
    """Two noisy interleaved spirals in 3-D pushed through a random ReLU network."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.5, 3.0 * np.pi, size=n)
    lab = rng.integers(0, 2, size=n)
    r = t / (3.0 * np.pi)
    X = np.stack(
        [r * np.cos(t + np.pi * lab), r * np.sin(t + np.pi * lab), 0.3 * rng.normal(size=n)], 1
    )
    X += 0.05 * rng.normal(size=X.shape)
    states = [X]
    h = X
    for _ in range(depth):
        W = rng.normal(size=(h.shape[1], width)) * np.sqrt(2.0 / h.shape[1])
        b = 0.1 * rng.normal(size=width)
        h = np.maximum(h @ W + b, 0.0)
        states.append(h)
    return states


def reference(states: list[np.ndarray], k: int) -> tuple[float, np.ndarray, np.ndarray]:
    from scipy.sparse.csgraph import shortest_path
    from sklearn.neighbors import kneighbors_graph

    ric, gm = [], []
    for X in states:
        A = kneighbors_graph(X, k, mode="connectivity", include_self=False)
        A = ((A + A.T) > 0).astype(np.int8).tocsr()
        deg = np.asarray(A.sum(axis=1)).ravel()
        coo = A.tocoo()
        F = 0.0
        for i, j in zip(coo.row, coo.col, strict=True):
            if i < j:
                F += 4 - deg[i] - deg[j]
        ric.append(F)
        D = shortest_path(A, method="D", unweighted=True, directed=False)
        gm.append(D.sum() / 2.0)
    g = np.array(gm)
    R = np.array(ric)
    eta = g[1:] - g[:-1]
    rho = float(np.corrcoef(eta, R[:-1])[0, 1])
    return rho, R, g


def clear_input_memo() -> None:
    """Forget the input states kept between calls, so that a repeat pays for every state."""
    from layerflow.ricci import INPUT_CACHE

    INPUT_CACHE.clear()


def timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    """(result, wall seconds, process CPU seconds) without tracing overhead."""
    c0 = time.process_time()
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0, time.process_time() - c0


def peak_python_alloc(fn, *args, **kw) -> int:  # type: ignore[no-untyped-def]
    """Peak bytes of Python-side allocations (tracemalloc) of one separate call."""
    tracemalloc.start()
    fn(*args, **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return int(peak)


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def blas_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "?"
    return ", ".join(f"{d['internal_api']} {d['num_threads']}" for d in threadpool_info())


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# the R code's time per network for ks (30, 120, 300) at N = 2,000 (about 11 s at
# k = 30, about 50 s for the three ks), timed by hand with cccd + igraph
R_SECONDS_THREE_KS = 50.0


def authors_scale(ricci_coefficient, ricci_k_scan) -> None:  # type: ignore[no-untyped-def]
    """One network at N = 2,000, ks (30, 120, 300), both protocols: one call vs three."""
    ks = (30, 120, 300)
    states = synthetic_trajectory(2000, seed=7, depth=6)
    print(f"\n== authors' scale: N = 2,000, {len(states)} states, ks = {ks}, exact geodesics")
    for protocol in ("layerflow", "baptista"):
        ricci_k_scan(states[:2], ks=(5,), local=False, protocol=protocol)  # warm
        clear_input_memo()
        sw, t_one, c_one = timed(ricci_k_scan, states, ks=ks, local=False, protocol=protocol)
        t0 = time.perf_counter()
        sep = {k: ricci_coefficient(states, k=k, protocol=protocol) for k in ks}
        t_sep = time.perf_counter() - t0
        for k in ks:
            np.testing.assert_array_equal(sw.global_[k].geodesic_mass, sep[k].geodesic_mass)
            np.testing.assert_array_equal(sw.global_[k].scalar_curvature, sep[k].scalar_curvature)
        rhos = ", ".join(f"k={k}: {sw.global_[k].coefficient:+.3f}" for k in ks)
        print(
            f"protocol={protocol!r}: one call {t_one:.2f} s (CPU {c_one:.2f} s), three separate "
            f"calls {t_sep:.2f} s; R ≈ {R_SECONDS_THREE_KS:.0f} s -> {R_SECONDS_THREE_KS / t_one:.0f}x; "
            f"rho {rhos}; load {loadavg()}"
        )


def wide_knn(n: int, d: int, k: int) -> None:
    """kNN of one random (N, d) float32 state on one thread: layerflow's automatic choice (the
    symmetric keys at this width), the row-by-row BLAS keys (new and old blocks), the faiss
    candidate path, and scikit-learn; layerflow's paths checked equal."""
    from sklearn.neighbors import NearestNeighbors

    from layerflow.ricci import _knn as knn
    from layerflow.ricci import _threads as threads

    X = np.ascontiguousarray(
        np.random.default_rng(0).normal(size=(n, d)).astype(np.float32), dtype=np.float64
    )
    print(f"\n== kNN of one wide state: {n} x {d} (float32 values), k = {k}; one thread each")
    knn.blas_knn(X[:1500], 5)  # compile / load kernels
    knn.blas_knn(X[:1500], 5, symmetric=True)
    path = knn.choose_knn("auto", n, d, k)
    with threads.blas_one_thread(n):
        (idx, sqd), t_a, c_a = timed(knn.exact_knn, X, k)
    print(f"layerflow, automatic ({path}): {t_a:.1f} s (CPU {c_a:.1f} s); load {loadavg()}")
    with threads.blas_one_thread(n):
        (idx_b, sqd_b), t_b, c_b = timed(knn.blas_knn, X, k)
    np.testing.assert_array_equal(idx_b, idx)
    np.testing.assert_array_equal(sqd_b, sqd)
    print(f"layerflow row-by-row BLAS keys (blocks of >= {knn._MIN_BLOCK_ROWS} rows): {t_b:.1f} s "
          f"(CPU {c_b:.1f} s); load {loadavg()}")
    old = knn._MIN_BLOCK_ROWS
    knn._MIN_BLOCK_ROWS = 0  # no minimum block size: blocks of 256K keys (13 rows here)
    try:
        with threads.blas_one_thread(n):
            (idx_o, _), t_o, c_o = timed(knn.blas_knn, X, k)
    finally:
        knn._MIN_BLOCK_ROWS = old
    np.testing.assert_array_equal(idx_o, idx)
    print(f"layerflow before (row keys, {max(1, knn._BLOCK_ENTRIES // n)}-row blocks): "
          f"{t_o:.1f} s (CPU {c_o:.1f} s); load {loadavg()}")
    if knn.faiss_installed():
        knn.faiss_knn(X[:1500], 5)
        (idx_f, sqd_f), t_f, c_f = timed(knn.faiss_knn, X, k)
        np.testing.assert_array_equal(idx_f, idx)
        np.testing.assert_array_equal(sqd_f, sqd)
        print(f"layerflow faiss candidates + exact re-rank: {t_f:.1f} s (CPU {c_f:.1f} s); "
              f"load {loadavg()}")
    else:
        print("faiss not installed (pip install 'layerflow[faiss]'): faiss path skipped")
    with threads.blas_one_thread(n):
        t0 = time.perf_counter()
        c0 = time.process_time()
        _, nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X).kneighbors(X)
        t_s, c_s = time.perf_counter() - t0, time.process_time() - c0
    same = float((np.sort(nn[:, 1:], axis=1) == np.sort(idx, axis=1)).all(axis=1).mean())
    print(f"scikit-learn NearestNeighbors (brute, float64): {t_s:.1f} s (CPU {c_s:.1f} s); "
          f"same neighbour sets in {100 * same:.2f} % of rows; load {loadavg()}")
    print(f"ratios (wall): sklearn / layerflow {t_s / t_a:.1f}x; before / now {t_o / t_a:.1f}x")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the N = 20,000 part")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--big", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-knn", action="store_true", help="skip the 20,000 × 768 kNN part")
    ap.add_argument("--knn-only", action="store_true", help="only the 20,000 × 768 kNN part")
    ap.add_argument("--wide", type=int, nargs=2, default=(20000, 768), metavar=("N", "D"))
    args = ap.parse_args()
    k = 30
    if args.knn_only:
        print(f"load average before: {loadavg()} (on {os.cpu_count()} CPUs)")
        wide_knn(*args.wide, k=k)
        return 0

    t0 = time.perf_counter()
    import numba

    from layerflow.ricci import (
        knn_graph,
        path_mass,
        ricci_coefficient,
        ricci_k_scan,
    )
    from layerflow.stats._correlation import pearson

    print(
        f"import: {time.perf_counter() - t0:.2f} s; numba threads: {numba.get_num_threads()} "
        f"(threading layer {numba.config.THREADING_LAYER}); BLAS: {blas_threads()}; env "
        + ", ".join(
            f"{v}={os.environ.get(v, '-')}"
            for v in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
        )
    )
    print(f"load average before: {loadavg()} (on {os.cpu_count()} CPUs)")
    t0 = time.perf_counter()
    ricci_coefficient(synthetic_trajectory(200, seed=1), k=10, geodesics="exact")
    t1 = time.perf_counter()
    ricci_coefficient(synthetic_trajectory(1100, seed=1), k=10, geodesics="exact")
    t2 = time.perf_counter()
    print(
        f"first call (Numba on-disk cache load, or JIT compile on a fresh install): "
        f"{t1 - t0:.2f} s small path, {t2 - t1:.2f} s large-N path (BLAS, threads)"
    )

    states = synthetic_trajectory(args.n, seed=0)
    rss0 = maxrss_mib()  # after warm-up: the high-water mark the runs below add
    print(
        f"\n== N = {args.n}, {len(states)} states, widths {[s.shape[1] for s in states]}, k = {k}"
    )
    times, cpus = [], []
    res = None
    for _ in range(args.repeat):
        clear_input_memo()  # each repeat from scratch (a sweep shares the input state's work)
        res, dt, cpu = timed(ricci_coefficient, states, k=k, geodesics="exact")
        times.append(dt)
        cpus.append(cpu)
    peak_fast = peak_python_alloc(ricci_coefficient, states, k=k, geodesics="exact")
    rss_fast = maxrss_mib()
    rss_fast_delta = maxrss_mib() - rss0
    t_fast = float(np.median(times))
    cpu_fast = float(np.median(cpus))
    (rho_ref, R_ref, g_ref), t_ref, cpu_ref = timed(reference, states, k)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # one state has no correlation; only memory counts here
        peak_ref = peak_python_alloc(reference, states[:1], k)  # one layer: its N×N matrix
    rss_ref = maxrss_mib()
    assert res is not None
    np.testing.assert_array_equal(res.scalar_curvature, R_ref)
    np.testing.assert_array_equal(res.geodesic_mass, g_ref)
    np.testing.assert_allclose(res.coefficient, rho_ref, rtol=0, atol=1e-9)
    print(f"rho = {res.coefficient:.6f} (reference {rho_ref:.6f}); Ric and g identical")
    print(
        f"layerflow: {t_fast:.3f} s per network (median of {args.repeat}; "
        f"min {min(times):.3f}, max {max(times):.3f}); peak Python allocations "
        f"{peak_fast / 2**20:.1f} MiB; process CPU time {cpu_fast:.3f} s per network"
    )
    print(
        f"reference: {t_ref:.3f} s per network (CPU {cpu_ref:.3f} s); peak Python "
        f"allocations {peak_ref / 2**20:.1f} MiB (one layer)"
    )
    print(f"speed-up: {t_ref / t_fast:.1f}x (wall); {cpu_ref / cpu_fast:.1f}x (CPU time)")
    print(f"load average after: {loadavg()}")
    print(
        f"process maxrss after layerflow runs: {rss_fast:.0f} MiB (+{rss_fast_delta:.0f} MiB over "
        f"the imported baseline); after reference: {rss_ref:.0f} MiB"
    )

    small = synthetic_trajectory(200, seed=3, depth=11)
    ks = (20, 50, 100)
    ricci_k_scan(small, ks=ks, local=False)
    sw_t, sw_c = [], []
    for _ in range(20):
        _, dt, cpu = timed(ricci_k_scan, small, ks=ks, local=False)
        sw_t.append(dt)
        sw_c.append(cpu)
    print(
        f"\n== sweep task: ricci_k_scan(N = 200, {len(small)} states, ks={ks}, local=False): "
        f"{1000 * float(np.median(sw_t)):.1f} ms per network (median of 20; min "
        f"{1000 * min(sw_t):.1f}); CPU {1000 * float(np.median(sw_c)):.1f} ms; "
        f"load {loadavg()}"
    )
    authors_scale(ricci_coefficient, ricci_k_scan)
    if args.quick:
        return 0

    n = args.big
    big = synthetic_trajectory(n, seed=2)
    print(f"\n== N = {n}, {len(big)} states, k = {k}, sampled geodesics (1024 sources)")
    res_s, t_s, cpu_s = timed(
        ricci_coefficient, big, k=k, geodesics="sampled", n_sources=1024, seed=0
    )
    print(
        f"layerflow sampled: {t_s:.1f} s (CPU {cpu_s:.1f} s); rho = {res_s.coefficient:.4f}; "
        f"maxrss {maxrss_mib():.0f} MiB; load average {os.getloadavg()[0]:.2f}"
    )
    t0 = time.perf_counter()
    exact = np.array([path_mass(knn_graph(X, k), method="exact").value for X in big])
    t_e = time.perf_counter() - t0
    rel = np.abs(res_s.geodesic_mass - exact) / exact
    z = np.abs(res_s.geodesic_mass - exact) / res_s.geodesic_stderr
    print(f"exact geodesic masses of all {len(big)} layers (graphs rebuilt): {t_e:.1f} s")
    print(
        f"relative error of the estimates: max {rel.max():.2e}; per layer "
        f"{np.array2string(rel, precision=5)}"
    )
    print(
        f"stated relative stderr: max {(res_s.geodesic_stderr / exact).max():.2e}; "
        f"|err|/stderr max {z.max():.2f}"
    )
    rho_exact = pearson(exact[1:] - exact[:-1], res_s.scalar_curvature[:-1])
    print(f"rho with exact geodesic masses = {rho_exact:.4f} vs sampled {res_s.coefficient:.4f}")
    if not args.skip_knn:
        del big
        wide_knn(*args.wide, k=k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
