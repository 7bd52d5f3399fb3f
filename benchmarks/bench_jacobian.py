"""Jacobian diagnostics of a small conv ResNet (states of width 2,048): exact vs matrix-free.

Run:  python benchmarks/bench_jacobian.py [--n 300] [--subset 4] [--probes 32] [--seed 0]

The model: a conv ResNet on 16×16 one-channel images, a 3×3 stem to
8 channels, two residual blocks ``x + conv(relu(conv(x)))`` (``layer1``, ``layer2``; 8·16·16 =
2,048 numbers in and out, so each has a square 2,048×2,048 Jacobian), a linear head. Random
weights (seeded): the timing and the accuracy of the estimators do not need training.

What is measured (one run, same machine, same process unless said):

1. **the estimate before the work** at ``--n`` samples: ``jacobian_diagnostics(..., method=
   "exact")`` with the default budget (60 s) is refused; the refusal's time, its message and the
   estimated exact and matrix-free costs are printed.
2. **exact** (``method="exact"``: ``vmap(jacrev)``, ``slogdet``, ``svdvals``) on the first
   ``--subset`` samples, then **matrix-free** (``method="matfree"``) on the same samples; each in a
   child process (spawn) that reports its time and its peak resident memory, so the two do not
   share a heap. Printed: seconds per sample and layer, the ratio exact / matrix-free, the
   estimated vs measured times, the estimated vs measured peak memory.
3. **accuracy** on the subset: ``(logdet_mf − logdet_exact) / SE`` per sample and layer, whether the
   exact condition number lies in the matrix-free interval, and the interval's relative width.
4. **a CIFAR-size block** (3 → 64 channels, 32×32: width 65,536): the exact refusal (one
   sample's Jacobian alone is 32 GiB) and the automatic choice at ``--n`` samples, then the
   matrix-free path on one sample, timed against its estimate (``--no-cifar`` skips it).

``os.getloadavg()`` is printed before and after: on a loaded machine the times (and the ratio)
move; the lead re-measures on a quiet one.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import resource
import time
from typing import Any

import numpy as np
import torch
from torch import nn

LAYERS = ["layer1", "layer2"]


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1)
        self.c2 = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.c2(torch.relu(self.c1(x)))


class ConvResNet(nn.Module):
    def __init__(self, c: int = 8, side: int = 16) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, c, 3, padding=1)
        self.layer1 = Block(c)
        self.layer2 = Block(c)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * side * side, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layer2(self.layer1(self.stem(x))))


def make(seed: int, n: int) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(seed)
    model = ConvResNet()
    X = torch.randn(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed + 1))
    return model, X


def _child(method: str, seed: int, subset: int, probes: int, queue: Any) -> None:
    from layerflow.maps import MatfreeOptions, jacobian_diagnostics

    model, X = make(seed, subset)
    jacobian_diagnostics(model, X[:1], layers=["stem"], method="exact")  # warm up torch.func
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    res = jacobian_diagnostics(model, X, layers=LAYERS, method=method, max_seconds=math.inf,
                               matfree=MatfreeOptions(probes=probes))
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    queue.put({
        "seconds": elapsed,
        "peak_growth": peak - base,
        "estimate": res.estimate,
        "layers": [(lay.logabsdet, lay.logabsdet_se, lay.condition, lay.condition_bounds,
                    lay.converged, lay.method) for lay in res.layers],
    })


def run_child(method: str, seed: int, subset: int, probes: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(method, seed, subset, probes, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out  # type: ignore[no-any-return]


def gib(b: float) -> str:
    return f"{b / (1 << 30):.2f} GiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="samples for the estimate (issue: 300)")
    ap.add_argument("--subset", type=int, default=4, help="samples actually computed both ways")
    ap.add_argument("--probes", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cifar", action="store_true",
                    help="skip [4], the 65,536-wide block (about a minute)")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads (0: torch's default); children inherit it")
    args = ap.parse_args()
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = str(args.threads)
        torch.set_num_threads(args.threads)
    from layerflow._errors import BudgetError
    from layerflow.maps import jacobian_diagnostics

    print(f"load average before: {os.getloadavg()}; torch threads {torch.get_num_threads()}")
    model, X = make(args.seed, args.n)

    # 1. the estimate before the work
    start = time.perf_counter()
    try:
        jacobian_diagnostics(model, X, layers=LAYERS, method="exact")
        raise SystemExit("expected a refusal at the default budget")
    except BudgetError as err:
        refusal_s = time.perf_counter() - start
        est = err.estimate
        print(f"\n[1] refusal after {refusal_s:.2f} s (calibration {est.calibration_seconds:.2f} s)"
              f":\n    {err}")
        mf_max = args.n * sum(c.matfree_max_seconds for c in est.layers)
        print(f"    estimated at N={args.n}: exact {est.exact_seconds:.0f} s, matrix-free about "
              f"{est.matfree_seconds:.0f} s (at most {mf_max:.0f} s)")
        for c in est.layers:
            print(f"    {c.name}: exact {c.exact_seconds:.2f} s/sample (Jacobian rows "
                  f"{c.width * c.row_seconds:.2f} s, slogdet+SVD {c.linalg_seconds:.2f} s), "
                  f"{gib(c.exact_bytes + c.fixed_bytes)} for one sample; matrix-free about "
                  f"{c.matfree_seconds:.2f} s/sample, at most {c.matfree_max_seconds:.2f} "
                  f"({c.product_seconds * 1e3:.2f} ms per Jᵀ(Jv) product)")

    # 2. exact vs matrix-free on a subset, each in its own process
    k = args.subset
    ex = run_child("exact", args.seed, k, args.probes)
    mf = run_child("matfree", args.seed, k, args.probes)
    per = len(LAYERS) * k
    ex_cal, mf_cal = ex["estimate"].calibration_seconds, mf["estimate"].calibration_seconds
    ex_s, mf_s = ex["seconds"] - ex_cal, mf["seconds"] - mf_cal
    ex_ps, mf_ps = ex_s / per, mf_s / per
    print(f"\n[2] N={k} samples × {len(LAYERS)} layers of width 2,048 (times without the "
          f"calibration: exact {ex_cal:.2f} s, matrix-free {mf_cal:.2f} s):")
    print(f"    exact       {ex_s:7.2f} s  ({ex_ps:.2f} s per sample-layer), estimated "
          f"{ex['estimate'].seconds:.2f} s; peak memory +{gib(ex['peak_growth'])}, estimated "
          f"{gib(max(c.exact_bytes * b + c.fixed_bytes for c, b in zip(ex['estimate'].layers, ex['estimate'].batches, strict=True)))}")
    mf_est = mf["estimate"]
    mf_max = k * sum(c.matfree_max_seconds for c in mf_est.layers)
    print(f"    matrix-free {mf_s:7.2f} s  ({mf_ps:.2f} s per sample-layer), estimated "
          f"{mf_est.seconds:.2f} s (at most {mf_max:.2f} s); peak memory +{gib(mf['peak_growth'])}, estimated "
          f"{gib(max(c.matfree_bytes * b for c, b in zip(mf_est.layers, mf_est.batches, strict=True)))}")
    print(f"    ratio exact / matrix-free: {ex_ps / mf_ps:.1f}×")

    # 3. accuracy of the matrix-free numbers against exact
    print(f"\n[3] accuracy on the {k} samples (probes={args.probes}):")
    zs, inside, widths = [], [], []
    for name, (le, _, ce, _, _, _), (lm, se, cm, cb, conv, meth) in zip(
            LAYERS, ex["layers"], mf["layers"], strict=True):
        z = (lm - le) / se
        ok = (cb[:, 0] <= ce * (1 + 1e-9)) & (ce <= cb[:, 1] * (1 + 1e-9))
        zs.extend(z)
        inside.extend(ok)
        widths.extend(cb[:, 1] / cb[:, 0] - 1)
        for i in range(k):
            print(f"    {name} sample {i} [{meth}]: log|det J| exact {le[i]:9.3f}  matfree "
                  f"{lm[i]:9.3f} ± {se[i]:.3f} (z = {z[i]:+.2f});  κ exact {ce[i]:.4f}  matfree "
                  f"{cm[i]:.4f} in [{cb[i, 0]:.4f}, {cb[i, 1]:.4f}]  converged={bool(conv[i])}")
    print(f"    |z| max {np.max(np.abs(zs)):.2f}, κ inside its interval {sum(inside)}/{len(inside)}, "
          f"interval width median {np.median(widths):.2e} (relative)")
    if not args.no_cifar:
        cifar(args.n)
    print(f"\nload average after: {os.getloadavg()}")


def cifar(n: int) -> None:
    """[4] A CIFAR-size block (64 channels × 32×32 = 65,536 wide): refused exactly, run matrix-free
    on one sample, measured against its estimate."""
    from layerflow._errors import BudgetError
    from layerflow.maps import jacobian_diagnostics

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), Block(64))
    X = torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    print("\n[4] CIFAR-size residual block, width 65,536:")
    for method in ("exact", "auto"):
        start = time.perf_counter()
        try:
            jacobian_diagnostics(model, X, layers=["1"], method=method)
        except BudgetError as err:
            print(f"    {method} at N={n}, refused after {time.perf_counter() - start:.1f} s:\n"
                  f"      {err}")
    start = time.perf_counter()
    res = jacobian_diagnostics(model, X[:1], layers=["1"], method="matfree", max_seconds=math.inf)
    took = time.perf_counter() - start
    lay, est = res.layers[0], res.estimate
    assert est is not None
    print(f"    matrix-free on 1 sample: {took - est.calibration_seconds:.1f} s (+ calibration "
          f"{est.calibration_seconds:.1f} s), estimated {est.seconds:.1f} s; log|det J| = "
          f"{lay.logabsdet[0]:.2f} ± {lay.logabsdet_se[0]:.2f}, κ in "
          f"[{lay.condition_bounds[0, 0]:.4f}, {lay.condition_bounds[0, 1]:.4f}], "
          f"converged={bool(lay.converged[0])}")


if __name__ == "__main__":
    main()
