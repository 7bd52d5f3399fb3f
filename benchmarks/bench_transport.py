"""Full transport analysis of a 2,000-sample, 10-step, width-50 trajectory vs a straightforward reference.

Run:  python benchmarks/bench_transport.py [--n 2000] [--steps 10] [--width 50] [--h 1.0]
      [--ref-rows 200]

What is timed (one run, same machine, same process):

* fast path: ``layerflow.transport.summary(traj, m=N)`` = LSS, OTS on all N samples (m = N, so it
  reuses the end-to-end assignment of the W2 path), the W2 path (10 exact N×N assignments between
  consecutive states + 1 between the endpoints), kinetic energy, path length, turning angles.
* reference: the same quantities computed the straightforward way: the cost matrix of each pair
  built by Python loops over samples with ``np.linalg.norm`` per pair, ``scipy``'s
  ``linear_sum_assignment`` on it, OTS read off the end-to-end assignment, LSS / kinetic energy /
  path length / turning angles by loops over samples.

The reference cost-matrix loops (~4·10⁷ norm calls) would take minutes, so they are timed on the
first ``--ref-rows`` rows of every pair and extrapolated linearly (the output says so); the
reference assignments run in full on the same matrices (built here with scipy's ``cdist``, equal
to the loop values up to rounding). Import time of POT/torch is paid before timing starts.
The trajectory is a residual flow ``x ← x + h·tanh(W x + b)`` with random W (seeded); with h = 1
the endpoints are scrambled enough that the end-to-end assignment is a hard problem.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from layerflow import Trajectory
from layerflow.transport import summary


def make_trajectory(n: int, steps: int, width: int, h: float, seed: int = 0) -> Trajectory:
    rng = np.random.default_rng(seed)
    states = [rng.standard_normal((n, width))]
    for _ in range(steps):
        W = rng.standard_normal((width, width)) / math.sqrt(width)
        b = 0.5 * rng.standard_normal(width)
        states.append(states[-1] + h * np.tanh(states[-1] @ W + b))
    return Trajectory(states)


def loop_cost_rows(X: np.ndarray, Y: np.ndarray, rows: int) -> np.ndarray:
    """The reference cost matrix, first ``rows`` rows, by Python loops and np.linalg.norm."""
    n = Y.shape[0]
    C = np.empty((rows, n))
    for i in range(rows):
        for j in range(n):
            C[i, j] = np.linalg.norm(X[i] - Y[j]) ** 2
    return C


def reference(states: list[np.ndarray], ref_rows: int) -> tuple[dict[str, float], float, float]:
    """Straightforward analysis; returns (metrics, measured seconds, extrapolated seconds)."""
    n = states[0].shape[0]
    L = len(states) - 1
    measured = 0.0
    extrapolated = 0.0
    w = []
    end_perm = None
    for a, b in [*itertools.pairwise(range(L + 1)), (0, L)]:
        X, Y = states[a], states[b]
        t0 = time.perf_counter()
        part = loop_cost_rows(X, Y, ref_rows)
        dt = time.perf_counter() - t0
        extrapolated += dt * n / ref_rows
        C = cdist(X, Y, "sqeuclidean")  # identical values (up to rounding) to the loop version
        np.testing.assert_allclose(part, C[:ref_rows], rtol=1e-9, atol=1e-9)
        t0 = time.perf_counter()
        r, c = linear_sum_assignment(C)
        cost = sum(np.sum((X[i] - Y[j]) ** 2) for i, j in zip(r, c, strict=True)) / n
        measured += time.perf_counter() - t0
        if (a, b) == (0, L):
            end_perm = c
            end_cost = cost
        else:
            w.append(math.sqrt(cost))
    t0 = time.perf_counter()
    assert end_perm is not None
    own = sum(np.sum((states[0][i] - states[L][i]) ** 2) for i in range(n)) / n
    ots = float(np.mean(end_perm == np.arange(n)))
    lss, ke, length, angles = [], 0.0, 0.0, []
    for i in range(n):
        walk = np.zeros(states[0].shape[1])
        k = 0
        prev = None
        for a, b in itertools.pairwise(states):
            s = b[i] - a[i]
            norm = np.linalg.norm(s)
            ke += norm**2 / n
            length += norm / n
            if norm > 0:
                walk += s / norm
                k += 1
                if prev is not None:
                    cos = np.dot(prev, s) / (np.linalg.norm(prev) * norm)
                    angles.append(math.acos(min(1.0, max(-1.0, cos))))
            prev = s
        lss.append(k / np.linalg.norm(walk))
    measured += time.perf_counter() - t0
    metrics = {
        "lss_mean": float(np.mean(lss)),
        "ots": ots,
        "ot_cost_ratio": own / min(own, end_cost),
        "w2_geodesic_ratio": sum(w) / math.sqrt(end_cost),
        "w2_speed_cv": float(np.std(w) / np.mean(w)),
        "kinetic_energy": ke,
        "path_length": length,
        "turning_angle_mean": float(np.mean(angles)),
    }
    return metrics, measured, extrapolated


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--width", type=int, default=50)
    p.add_argument("--h", type=float, default=1.0)
    p.add_argument("--ref-rows", type=int, default=200)
    args = p.parse_args()

    import ot  # noqa: F401  (pay POT's import, which loads torch, before timing)

    traj = make_trajectory(args.n, args.steps, args.width, args.h)
    print(f"trajectory: N={args.n}, {args.steps} steps, width {args.width}, h={args.h} (seed 0)")
    t0 = time.perf_counter()
    fast = summary(traj, m=args.n, seed=0)
    t_fast = time.perf_counter() - t0
    print(f"fast: layerflow.transport.summary(traj, m={args.n}) (OTS on all {args.n} samples, "
          f"{args.steps}+1 exact {args.n}x{args.n} assignments): {t_fast:.2f} s")

    states = [np.asarray(s, dtype=np.float64) for s in traj.states]
    ref, measured, extrap = reference(states, args.ref_rows)
    t_ref = measured + extrap
    frac = args.ref_rows / args.n
    print(f"reference: assignments + loops measured {measured:.2f} s; cost-matrix loops timed on "
          f"{args.ref_rows}/{args.n} rows per pair ({frac:.0%}) and extrapolated to {extrap:.1f} s; "
          f"total {t_ref:.1f} s")
    for key, val in ref.items():
        np.testing.assert_allclose(fast[key], val, rtol=1e-9, err_msg=key)
    print("agreement: all metrics equal to the reference within rtol 1e-9")
    print(f"ratio reference / fast: {t_ref / t_fast:.1f}x  "
          f"(goal: fast <= 5 s: {'met' if t_fast <= 5 else 'NOT met'})")
    print({k: (round(v, 6) if isinstance(v, float) else v) for k, v in fast.items()})


if __name__ == "__main__":
    main()
