"""Calibration of the claims' estimators: coverage and false verdicts by simulation.

For every design the claims use (networks clustered in cells, paired arms over shared data
draws, the meta-analysis of within-cell correlations, shares of clustered networks, pooled
coefficients per cell, two groups of independent networks, Spearman ρ(γ, LSS) per draw with
ties, differences of shares and of Fisher z between trained and untrained networks, Welch over
several shapes), simulated at the fewest units a claim using it may be judged on, prints: the
coverage of the 95 % interval of the known truth, the share of simulations under the null read
as ``supported`` or ``contradicted``, the number of simulations and the Monte Carlo standard
errors; then the same for the harsh designs (two-point cell effects, shares with Beta
concentration 1 and 0.3, cells sharing a data draw, a meta-analysis of within-cell r ±0.6 with
4 networks per cell, differences of near-deterministic shares), and for each design the false
"no effect" rate with the truth at null + SESOI. Then the same through the real pipeline:
simulated stores run through ``compute_claims`` (ρ–accuracy, trained − untrained, transport
penalty − plain, weight decay's Spearman ρ), fewer simulations (each builds a whole claims
table). Targets: coverage ≥ 93 %, false verdicts and false "no effect" ≤ 5 %. The two-stage
cluster bootstrap is printed for comparison; no claim uses it.

    python benchmarks/bench_calibration.py              # 2,000 simulations per design
    python benchmarks/bench_calibration.py --sims 500 --seed 1
    python benchmarks/bench_calibration.py --only stores --store-sims 200
    python benchmarks/bench_calibration.py --part 0/3   # designs 0, 3, 6, … (run 1/3, 2/3 beside)
"""

from __future__ import annotations

import argparse
import math
import time

from layerflow.stats.claims._calibration import DESIGNS, HARSH, calibrate
from layerflow.stats.claims._calibration_stores import STORE_DESIGNS, calibrate_store


def _line(name: str, estimator: str, units: int, n: int, row: dict[str, float | int | str],
          t0: float) -> str:
    se = math.sqrt(0.05 * 0.95 / n)
    return (f"{name:<72} {estimator:<44} {units:>5} {n:>5} "
            f"{100 * float(row['coverage']):>8.1f}% {100 * float(row['false_verdicts']):>6.1f}% "
            f"{100 * float(row['false_no_effect']):>6.1f}% "
            f"{100 * se:>5.1f}% {time.process_time() - t0:>6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sims", type=int, default=2000, help="simulations per design and truth")
    ap.add_argument("--bootstrap-sims", type=int, default=300,
                    help="simulations of the (slow) two-stage bootstrap design")
    ap.add_argument("--store-sims", type=int, default=100,
                    help="simulated stores per design and truth (each a whole claims table)")
    ap.add_argument("--only", choices=("estimators", "stores"), default=None)
    ap.add_argument("--part", default="0/1",
                    help="i/n: only every n-th design from the i-th (to run shards side by side)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    i, n_parts = (int(v) for v in args.part.split("/"))
    print(f"{'design':<72} {'estimator':<44} {'units':>5} {'sims':>5} {'coverage':>9} "
          f"{'false':>7} {'no eff.':>7} {'MC se':>6} {'s':>6}")
    if args.only != "stores":
        for d in (*DESIGNS, *HARSH)[i::n_parts]:
            n = args.bootstrap_sims if d.estimator == "cluster_bootstrap" else args.sims
            t0 = time.process_time()
            row = calibrate(d, n, args.seed)
            print(_line(d.name, d.estimator, d.units, n, row, t0), flush=True)
    if args.only != "estimators":
        for s in STORE_DESIGNS[i::n_parts]:
            t0 = time.process_time()
            row = calibrate_store(s, args.store_sims, args.seed)
            print(_line("store: " + s.name, str(row["estimator"]), s.units, args.store_sims,
                        row, t0), flush=True)


if __name__ == "__main__":
    main()
