"""Per-token analysis at transformer scale: layerflow vs a straightforward reference, in one run.

Workload: 20,000 tokens × 13 states of width 768 (a residual stream: the embedding and
12 blocks, one point per token), k = 30: the kNN graph of every state, Forman curvature, the
sampled geodesic mass (1,024 sources), the global Ricci coefficient ρ, and the line-shape score of
every token's track (``layerflow.transport.line_shape_score``). Goal: ≤ 60 s on the 2-core
machine; peak memory printed.

Token states are synthetic and seeded, a random-walk residual stream with structure: the
embedding of a token is a linear image of a 24-dimensional Gaussian code plus a smooth position
signal (sequences of 100 tokens); each block adds ``0.5·tanh(x W_l)`` (random W_l) and a small
random step. Stored as float32, as a model's hidden states are.

Reference (straightforward, as in ``bench_ricci.py``), each part timed on one state and
extrapolated: scikit-learn ``NearestNeighbors`` (brute) for 2,000 of the 20,000 query tokens,
``scipy.sparse.csgraph.shortest_path`` (unweighted BFS) from 64 of the 1,024 sources on the union
kNN graph, Forman curvature by a Python loop over the edges; × 10, × 16 and × 13 states.
Its scalar curvature of that state is checked equal to layerflow's.

    python benchmarks/bench_tokens.py [--tokens 20000] [--states 13] [--width 768]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np


def token_states(
    n_tokens: int, n_states: int, width: int, seed: int = 0, seq_len: int = 100, latent: int = 24
) -> list[np.ndarray]:
    """``n_states`` float32 states of shape ``(n_tokens, width)``: embedding, then blocks.

    The embedding of a token is a random linear image of a ``latent``-dimensional Gaussian code
    (tokens that mean similar things lie close) plus a smooth position signal (sines of the
    position) and a little isotropic noise; each block adds ``0.5·tanh(x W_l)`` and a random
    step of size 0.1 per coordinate to the stream."""
    rng = np.random.default_rng(seed)
    pos = np.arange(n_tokens) % seq_len
    z = rng.normal(size=(n_tokens, latent)).astype(np.float32)
    A = (rng.normal(size=(latent, width)) * np.sqrt(width / latent) / np.sqrt(width)).astype(
        np.float32
    )
    freq = rng.uniform(0.01, 0.3, size=width)
    phase = rng.uniform(0, 2 * np.pi, size=width)
    x = z @ A * 3.0 + (0.5 * np.sin(pos[:, None] * freq + phase)).astype(np.float32)
    x += 0.1 * rng.normal(size=x.shape).astype(np.float32)
    states = [x]
    for _ in range(n_states - 1):
        W = (rng.normal(size=(width, width)) / np.sqrt(width)).astype(np.float32)
        x = x + 0.5 * np.tanh(x @ W) + 0.1 * rng.normal(size=x.shape).astype(np.float32)
        states.append(x)
    return states


def loadavg() -> str:
    return "/".join(f"{v:.2f}" for v in os.getloadavg())


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reference_one_state(X: np.ndarray, k: int, n_queries: int, n_sources: int) -> dict[str, float]:
    """Time the straightforward pipeline on one state (parts on a subsample)."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import shortest_path
    from sklearn.neighbors import NearestNeighbors

    n = X.shape[0]
    t0 = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X)
    nn.kneighbors(X[:n_queries])
    t_knn = time.perf_counter() - t0
    # the graph itself from layerflow's exact neighbours (the reference's own would be the same
    # graph but for float rounding; only its BFS and curvature times are taken)
    from layerflow.ricci import knn_graph

    A = knn_graph(X, k)
    t0 = time.perf_counter()
    deg = np.asarray(A.sum(axis=1)).ravel()
    coo = sp.triu(A, 1).tocoo()
    ric = 0.0
    for i, j in zip(coo.row, coo.col, strict=True):
        ric += 4 - deg[i] - deg[j]
    t_forman = time.perf_counter() - t0
    sources = np.random.default_rng(0).choice(n, size=n_sources, replace=False)
    t0 = time.perf_counter()
    shortest_path(A, method="D", unweighted=True, directed=False, indices=sources)
    t_bfs = time.perf_counter() - t0
    return {"knn": t_knn, "forman": t_forman, "bfs": t_bfs, "ric": ric}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=20000)
    ap.add_argument("--states", type=int, default=13)
    ap.add_argument("--width", type=int, default=768)
    ap.add_argument("--k", type=int, default=30)
    ap.add_argument("--sources", type=int, default=1024)
    ap.add_argument("--skip-reference", action="store_true")
    args = ap.parse_args()
    n, k = args.tokens, args.k

    import numba

    import layerflow as lf
    from layerflow.ricci import _knn, ricci_coefficient
    from layerflow.transport import line_shape_score

    path = _knn.choose_knn("auto", n, args.width, k)
    print(f"numba threads {numba.get_num_threads()}; kNN candidates: {path}; "
          f"load before: {loadavg()} (on {os.cpu_count()} CPUs)")
    # warm the kernels (Numba on-disk cache) on a small case
    ricci_coefficient(token_states(1500, 3, 16, seed=1), k=5, geodesics="sampled", n_sources=64)
    t0 = time.perf_counter()
    states = token_states(n, args.states, args.width)
    traj = lf.Trajectory(states)
    t_gen = time.perf_counter() - t0
    rss0 = maxrss_mib()
    print(f"\n== {n} tokens x {args.states} states x width {args.width} (float32), k = {k}; "
          f"generated in {t_gen:.1f} s; maxrss {rss0:.0f} MiB")

    c0 = time.process_time()
    t0 = time.perf_counter()
    res = ricci_coefficient(traj, k=k, geodesics="sampled", n_sources=args.sources, seed=0)
    t_ricci = time.perf_counter() - t0
    c_ricci = time.process_time() - c0
    t1 = time.perf_counter()
    c1 = time.process_time()
    lss = line_shape_score(traj)
    t_lss = time.perf_counter() - t1
    c_lss = time.process_time() - c1
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0
    rss = maxrss_mib()
    print(f"layerflow: Ricci (kNN, Forman, sampled geodesic mass, rho) {t_ricci:.1f} s "
          f"(CPU {c_ricci:.1f} s); LSS {t_lss:.1f} s (CPU {c_lss:.1f} s); total {total:.1f} s "
          f"(CPU {cpu:.1f} s); goal <= 60 s: {'met' if total <= 60 else 'NOT met'} at load "
          f"{loadavg()}")
    print(f"rho = {res.coefficient:+.4f} ({res.reason or 'defined'}); connected {res.connected}; "
          f"geodesic rel. stderr max {np.max(res.geodesic_stderr / res.geodesic_mass):.1e}; "
          f"LSS mean {lss.mean:.3f}, median {lss.median:.3f}")
    print(f"peak memory (maxrss): {rss:.0f} MiB ({rss - rss0:+.0f} MiB over the generated "
          f"states, {sum(s.nbytes for s in states) / 2**20:.0f} MiB of float32)")
    if args.skip_reference:
        return 0

    X = np.asarray(traj.states[-1], dtype=np.float64)
    q = min(n, 2000)
    s = min(args.sources, 64)
    ref = reference_one_state(X, k, q, s)
    assert ref["ric"] == res.scalar_curvature[-1], (ref["ric"], res.scalar_curvature[-1])
    L1 = args.states
    knn_all = ref["knn"] * (n / q) * L1
    bfs_all = ref["bfs"] * (args.sources / s) * L1
    forman_all = ref["forman"] * L1
    ref_total = knn_all + bfs_all + forman_all + t_lss
    print(f"reference, extrapolated from one state: kNN {knn_all:.0f} s (scikit-learn, "
          f"{q} queries timed), BFS {bfs_all:.0f} s (scipy, {s} sources timed), Forman loop "
          f"{forman_all:.0f} s, LSS as layerflow's: total ≈ {ref_total:.0f} s")
    print(f"speed-up: {ref_total / total:.1f}x; load after: {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
