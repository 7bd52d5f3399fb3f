"""torchvision's resnet18 (weights=None) on random images: the post-add rule's numbers, and the
Jacobian cost estimate against the measured time.

    python benchmarks/bench_resnet18.py [--threads 1] [--wide] [--size 16] [--n 8]
        [--n-penalty 8] [--layers layer1.0 …] [--no-auto]

Prints, per residual block that keeps its shape: the penalty's term, the share of exactly-zero
units in what the penalty reads, and the exact Jacobian's median log|det J| and diffeomorphic
share (16×16 images, so that layer1's blocks are 1,024 wide), each with the post-add rule
(``post_add="pre_activation"``, the default) and with the activation included
(``post_add="output"``); then, per Jacobian call, the estimate made before the work, the
calibration time (wall and CPU) and the measured time of the work. ``--wide`` adds the matrix-free
path on layer1.0 at 32×32 (width 4,096). Needs the vision extra.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torchvision

import layerflow as lf

SAME_SHAPE = ["layer1.0", "layer1.1", "layer2.1", "layer3.1", "layer4.1"]


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=10).eval()


def _images(n: int, size: int, seed: int) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def penalty_numbers(post_add: str, n: int = 8) -> None:
    model = _model()
    with lf.TransportPenalty(model, SAME_SHAPE, post_add=post_add) as pen, torch.no_grad():
        model(_images(n, 32, 0))
        cost = float(pen.cost())
        vel = pen.velocities()
    zeros = ", ".join(f"{b} {float((v == 0).float().mean()):.3f}"
                      for b, v in zip(SAME_SHAPE, vel, strict=True))
    print(f"penalty ({post_add}): cost {cost:.4f}; zero share of r_k: {zeros}")


def timed_call(label: str, **kwargs: object) -> lf.maps.JacobianDiagnostics:
    """The estimate alone (a call refused on time right after it), then the whole call. Wall
    times on a shared machine stall; CPU times (one thread) are what an idle core would take."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        lf.maps.jacobian_diagnostics(max_seconds=1e-9, **kwargs)  # type: ignore[arg-type]
    except lf.BudgetError:
        pass
    est_wall, est_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    res = lf.maps.jacobian_diagnostics(max_seconds=math.inf, **kwargs)  # type: ignore[arg-type]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    est = res.estimate
    assert est is not None
    work_wall, work_cpu = wall - est.calibration_seconds, cpu - est_cpu
    print(f"{label}: methods {est.methods}; estimate {est.seconds:.2f} s, made in "
          f"{est_wall:.2f} s wall / {est_cpu:.2f} s CPU; measured work {work_wall:.2f} s wall / "
          f"{work_cpu:.2f} s CPU (estimate/measured: wall {est.seconds / work_wall:.2f}, CPU "
          f"{est.seconds / work_cpu:.2f})")
    return res


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--wide", action="store_true")
    parser.add_argument("--size", type=int, default=16, help="image side of the Jacobians")
    parser.add_argument("--n", type=int, default=8, help="samples of the Jacobians")
    parser.add_argument("--n-penalty", type=int, default=8, help="samples of the penalty")
    parser.add_argument("--layers", nargs="+", default=SAME_SHAPE,
                        help="blocks of the Jacobians (at 32×32 layer1's are 4,096 wide)")
    parser.add_argument("--no-auto", action="store_true", help="skip the method='auto' call")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for rule in ("pre_activation", "output"):
        penalty_numbers(rule, args.n_penalty)
    model = _model()
    x16 = _images(args.n, args.size, 1)
    label = f"{args.size}×{args.size}, N={args.n}"
    for rule in ("pre_activation", "output"):
        res = timed_call(f"exact, {label}, {rule}", model=model, X=x16, layers=args.layers,
                         method="exact", post_add=rule)
        for lay in res.layers:
            print(f"  {lay.name} (width {lay.in_width}): median log|det J| "
                  f"{np.median(lay.logabsdet):.2f}, finite {np.isfinite(lay.logabsdet).mean():.2f}, "
                  f"diffeomorphic share {lay.fraction_diffeomorphic:.2f}")
    if not args.no_auto:
        timed_call(f"auto, {label}, pre_activation", model=model, X=x16, layers=args.layers)
    if args.wide:
        res = timed_call("matfree, 32×32, N=2, layer1.0", model=model, X=_images(2, 32, 2),
                         layers=["layer1.0"], method="matfree")
        lay = res.layers[0]
        print(f"  bounds {lay.condition_bounds.tolist()}, invertible {lay.invertible.tolist()}, "
              f"known {lay.invertible_known.tolist()}, {lay.reason}")
        res = timed_call("matfree, 32×32, N=2, layer1.0, output", model=model,
                         X=_images(2, 32, 2), layers=["layer1.0"], method="matfree",
                         post_add="output")
        lay = res.layers[0]
        print(f"  bounds {lay.condition_bounds.tolist()}, invertible {lay.invertible.tolist()}, "
              f"{lay.reason}")


if __name__ == "__main__":
    main()
