"""The Jacobian cost estimate: how long it takes, and how close it comes to the measured time.

Run:  python benchmarks/bench_jacobian_estimate.py [--threads 1] [--quick]

Needs the vision extra (torchvision). Models, all with random weights (seed 0):

* torchvision's ``resnet18(weights=None, num_classes=10)`` on 32×32 images: the residual
  blocks that keep their shape have widths 4,096 (``layer1.0``, ``layer1.1``), 2,048
  (``layer2.1``), 1,024 (``layer3.1``) and 512 (``layer4.1``);
* the small conv ResNet of ``bench_jacobian.py`` (16×16 one-channel images, two blocks of width
  2,048).

Printed, per call:

1. **the estimate alone**: ``jacobian_diagnostics(..., max_seconds=1e-9)`` is refused right
   after the estimate, which then has timed both the exact and the matrix-free paths (a call
   that fits times only the path it uses); its wall and CPU seconds.
2. **estimate against measured**: the same call with ``max_seconds=inf`` on the method named;
   the estimate it made and the work it then did (the call's time less its calibration), in
   CPU seconds (one thread: what an idle core takes) and wall seconds, and their ratios.

``os.getloadavg()`` is printed: on a loaded machine wall times stretch, CPU times do not.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

import layerflow as lf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_jacobian import ConvResNet

BLOCKS = ["layer1.0", "layer1.1", "layer2.1", "layer3.1", "layer4.1"]


def resnet18() -> torch.nn.Module:
    import torchvision

    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None, num_classes=10).eval()


def convnet() -> torch.nn.Module:
    torch.manual_seed(0)
    return ConvResNet().eval()


def images(n: int, channels: int, side: int) -> torch.Tensor:
    return torch.randn(n, channels, side, side, generator=torch.Generator().manual_seed(1))


def estimate_only(label: str, **kwargs: Any) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        lf.maps.jacobian_diagnostics(max_seconds=1e-9, **kwargs)
        raise AssertionError("not refused")
    except lf.BudgetError as err:
        est = err.estimate
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"| {label} | estimate alone (both paths timed) | {cpu:.2f} | {wall:.2f} | "
          f"exact {est.exact_seconds:.1f} s, matrix-free {est.matfree_seconds:.1f} s | | |")


def against_measured(label: str, **kwargs: Any) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    res = lf.maps.jacobian_diagnostics(max_seconds=math.inf, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    est = res.estimate
    assert est is not None
    # the calibration's own CPU time is not reported apart: it is charged at its wall share
    cal_cpu = est.calibration_seconds * (cpu / wall)
    work_wall, work_cpu = wall - est.calibration_seconds, cpu - cal_cpu
    print(f"| {label} | {'/'.join(sorted(set(est.methods)))}: calibration | {cal_cpu:.2f} | "
          f"{est.calibration_seconds:.2f} | estimate {est.seconds:.2f} s; measured "
          f"{work_cpu:.2f} s CPU, {work_wall:.2f} s wall | {est.seconds / work_cpu:.2f} | "
          f"{est.seconds / work_wall:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="the estimates alone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load before: {os.getloadavg()}; torch threads {torch.get_num_threads()}")
    r18, conv = resnet18(), convnet()
    x32, x16 = images(64, 3, 32), images(64, 1, 16)
    # warm up torch.func and the allocator once, so no call below pays one-off set-up
    lf.maps.jacobian_diagnostics(conv, x16[:1], layers=["layer1"], method="exact",
                                 max_seconds=math.inf)
    print("| model | what | CPU s | wall s | figures | estimate / measured (CPU) | "
          "estimate / measured (wall) |")
    print("|---|---|---|---|---|---|---|")
    estimate_only("resnet18 32×32, 5 blocks, N=64", model=r18, X=x32, layers=BLOCKS)
    estimate_only("conv net 16×16, 2 blocks, N=64", model=conv, X=x16,
                  layers=["layer1", "layer2"])
    if not args.quick:
        against_measured("resnet18 32×32, layer3.1 + layer4.1, N=4, exact", model=r18,
                         X=x32[:4], layers=["layer3.1", "layer4.1"], method="exact")
        against_measured("resnet18 32×32, layer2.1, N=2, exact", model=r18, X=x32[:2],
                         layers=["layer2.1"], method="exact")
        against_measured("resnet18 32×32, layer1.0 + layer1.1, N=2, matrix-free", model=r18,
                         X=x32[:2], layers=["layer1.0", "layer1.1"], method="matfree")
        against_measured("conv net 16×16, 2 blocks, N=2, exact", model=conv, X=x16[:2],
                         layers=["layer1", "layer2"], method="exact")
        against_measured("conv net 16×16, 2 blocks, N=8, matrix-free", model=conv, X=x16[:8],
                         layers=["layer1", "layer2"], method="matfree")
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
