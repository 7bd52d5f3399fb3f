"""The paper-ricci analysis of one network at the authors' scale, on one thread.

Workload (what every member of ``layerflow run paper-ricci`` costs after training):
``measure_ricci(traj, k=30, ks=[20, 30, 50, 100, 120, 300], protocols=["layerflow", "baptista"])``
on N = 2,000 test points of a 3-D task, for the paper's shapes (MLP widths 25/50, depths 5/11,
the 50-25-50 bottleneck), untrained and trained as the config trains them (RMSprop, lr 1e-3, 50
epochs, batch 32, BCE). One thread throughout: a sweep runs one single-threaded worker per core.
Two costs per network: **cold** (the first network of a data set) and **warm** (every later one:
the input state is the same for all of them and its measures are memoised).

Reference: the straightforward computation, per protocol, k and state with nothing shared:
scikit-learn ``kneighbors_graph`` (brute force), Forman's sums from the degrees, scipy's
``shortest_path`` (BFS from every node, an N×N matrix) for the geodesic mass. It takes about 10 s
per state and protocol at these ks, so it runs on ``--ref-states`` states of the first network
(the input and the last layer by default) and is scaled to the network's states; ``--full-ref``
runs it on every state (about 4 minutes). Its Ric and g are checked equal to layerflow's.

    python benchmarks/bench_paper_ricci.py [--quick] [--full-ref] [--repeat 3]

The thread variables are set to 1 here unless already set; the script prints the load average
beside every number (the machine is shared: compare runs on a quiet machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

KS = [20, 30, 50, 100, 120, 300]
PROTOCOLS = ["layerflow", "baptista"]
# the R code's time per network for ks (30, 120, 300), one protocol (timed by hand
# with cccd + igraph; R is not run here)
R_SECONDS_THREE_KS = 50.0
SHAPES = {
    "mlp 50x11": dict(kind="mlp", width=50, depth=11),
    "mlp 25x11": dict(kind="mlp", width=25, depth=11),
    "mlp 50x5": dict(kind="mlp", width=50, depth=5),
    "mlp 25x5": dict(kind="mlp", width=25, depth=5),
    "bottleneck 50-25-50": dict(kind="bottleneck", width=50, depth=5, bottleneck_width=25),
}


def loadavg() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def trajectory(dataset: str, shape: str, seed: int, trained: bool) -> list[np.ndarray]:
    import torch

    import layerflow as lf

    torch.set_num_threads(1)
    ds = lf.load_dataset(dataset, n=4000, test_fraction=0.5)
    spec = lf.ModelSpec(**SHAPES[shape])  # type: ignore[arg-type]
    model = lf.build_model(spec, ds.n_features, ds.n_classes, seed=seed)
    if trained:
        cfg = lf.TrainConfig(optimizer="rmsprop", lr=1e-3, epochs=50, batch_size=32, loss="bce",
                             seed=seed)
        lf.train(model, ds, cfg)
    traj = lf.capture(model.eval(), ds.X_test[:2000])
    return [np.asarray(s, dtype=np.float64) for s in traj.states]


def analyse(states: list[np.ndarray]) -> object:
    from layerflow.ricci._view import measure_ricci

    return measure_ricci(states, k=30, ks=KS, protocols=PROTOCOLS)


def clear_memo() -> None:
    try:
        from layerflow.ricci import INPUT_CACHE
    except ImportError:  # a layerflow from before the cache (timing the code this replaced)
        return
    INPUT_CACHE.clear()


def cpu_seconds(states: list[np.ndarray], repeat: int) -> tuple[float, float]:
    """(cold, warm) CPU seconds of one analysis, each the best of ``repeat``."""
    cold, warm = [], []
    for _ in range(repeat):
        clear_memo()
        c0 = time.process_time()
        analyse(states)
        cold.append(time.process_time() - c0)
        c0 = time.process_time()
        analyse(states)
        warm.append(time.process_time() - c0)
    return min(cold), min(warm)


def reference_state(X: np.ndarray) -> dict[tuple[str, int], tuple[float, float]]:
    """``(Ric, g)`` of one state per (protocol, k), nothing shared between them."""
    from scipy.sparse.csgraph import shortest_path
    from sklearn.neighbors import kneighbors_graph

    out = {}
    for proto in PROTOCOLS:
        for k in KS:
            A = kneighbors_graph(X, k, mode="connectivity", include_self=False).astype(np.int64)
            U = ((A + A.T) > 0).astype(np.int64).tocsr()
            if proto == "layerflow":
                deg = np.asarray(U.sum(axis=1)).ravel()
                r, c = U.nonzero()
                ric = float((4 - deg[r] - deg[c]).sum() / 2)  # each edge once
            else:
                D = np.asarray(A.sum(axis=0)).ravel() + np.asarray(A.sum(axis=1)).ravel()
                r, c = A.nonzero()
                ric = float((4 - D[r] - D[c]).sum())  # each arc once, degree in + out
            dist = shortest_path(U, method="D", unweighted=True, directed=False)
            out[(proto, k)] = (ric, float(dist.sum() / 2.0))
    return out


def check_against_reference(res: object, ref: dict[int, dict[tuple[str, int], tuple[float, float]]]
                            ) -> None:
    sweeps = res.results["protocols"]  # type: ignore[attr-defined]
    for layer, per in ref.items():
        for (proto, k), (ric, g) in per.items():
            rc = sweeps[proto].global_[k]
            assert rc.scalar_curvature[layer] == ric, (proto, k, layer)
            assert rc.geodesic_mass[layer] == g, (proto, k, layer)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the 50x11 networks only")
    ap.add_argument("--full-ref", action="store_true", help="the reference on every state")
    ap.add_argument("--ref-states", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-ref", action="store_true", help="skip the reference")
    args = ap.parse_args()
    import numba

    import layerflow

    print(f"layerflow from {os.path.dirname(layerflow.__file__)}; numba threads "
          f"{numba.get_num_threads()}; ks {KS}; protocols {PROTOCOLS}; load {loadavg()}")
    analyse(trajectory("entangled_spirals", "mlp 25x5", 0, False))  # compile / load kernels

    print("\n== one network, N = 2,000 test points, CPU seconds on one thread (best of "
          f"{args.repeat}): cold (first of its data set) / warm (input memoised)")
    cases = [("entangled_spirals", "mlp 50x11", False), ("entangled_spirals", "mlp 50x11", True),
             ("blobs_in_cube", "mlp 50x11", True), ("sinusoidal_sheets", "mlp 50x11", True)]
    if not args.quick:
        cases += [("entangled_spirals", s, t) for s in SHAPES if s != "mlp 50x11"
                  for t in (False, True)]
    first = None
    for dataset, shape, trained in cases:
        states = trajectory(dataset, shape, 1, trained)
        first = first or states
        cold, warm = cpu_seconds(states, args.repeat)
        print(f"{dataset:18s} {shape:20s} {'trained' if trained else 'untrained':9s} "
              f"{len(states):2d} states: {cold:.3f} / {warm:.3f} s; load {loadavg()}")

    assert first is not None
    if args.no_ref:
        return 0
    L1 = len(first)
    layers = list(range(L1)) if args.full_ref else sorted(
        {int(x) for x in np.linspace(0, L1 - 1, max(1, args.ref_states)).round()}
    )
    print(f"\n== reference (scikit-learn kNN + scipy BFS, per protocol, k, state) on states "
          f"{layers} of the first network (untrained mlp 50x11)")
    c0 = time.process_time()
    ref = {layer: reference_state(first[layer]) for layer in layers}
    per_state = (time.process_time() - c0) / len(layers)
    res = analyse(first)
    check_against_reference(res, ref)
    clear_memo()
    cold, _ = cpu_seconds(first, args.repeat)
    ref_net = per_state * len(first)
    print(f"reference: {per_state:.2f} s per state, so {ref_net:.1f} s per network of "
          f"{len(first)} states{'' if args.full_ref else ' (scaled)'}; Ric and g identical to "
          f"layerflow's on those states; load {loadavg()}")
    print(f"layerflow: {cold:.3f} s per network (cold); ratio reference / layerflow "
          f"{ref_net / cold:.0f}x")
    r_net = R_SECONDS_THREE_KS * 2 * len(KS) / 3
    print(f"the R code (about {R_SECONDS_THREE_KS:.0f} s per network for three ks, one protocol; "
          f"not run here) would take about {r_net:.0f} s for this workload: {r_net / cold:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
