"""What ``TransportPenalty`` adds to a training step of a conv ResNet (goal: at most 15 %).

A small conv ResNet (a 3×3 lifting conv to C channels, ``--blocks`` basic residual blocks
``x + h·conv(relu(bn(conv(relu(bn(x))))))`` at C channels and S×S positions, global average
pooling, a linear head), the kind of block LAP trains. Two ways to take one step, measured
alternately in one run on the same batches:

- ``plain``: ``cross_entropy(model(x), y).backward()``;
- ``penalty``: the same plus ``λ · pen.cost()`` from a :class:`layerflow.TransportPenalty` on
  every block (its hooks read the velocities ``(x_{k+1} − x_k)/h`` during the same forward pass).

Each step includes ``zero_grad`` and an SGD update. Prints the median CPU time and wall time per
step of each (one torch thread: the CPU time is the work done, and on a shared machine does not
count the waits for a core), their ratios and the load average.

    python benchmarks/bench_penalty.py                       # 16 channels, 32×32, 6 blocks, batch 64
    python benchmarks/bench_penalty.py --channels 8 --size 16 --blocks 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from layerflow.training import TransportPenalty


class Block(nn.Module):
    def __init__(self, c: int, h: float) -> None:
        super().__init__()
        self.h = h
        self.bn1, self.bn2 = nn.BatchNorm2d(c), nn.BatchNorm2d(c)
        self.cv1 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.cv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.h * self.cv2(F.relu(self.bn2(self.cv1(F.relu(self.bn1(x))))))


class ConvResNet(nn.Module):
    def __init__(self, channels: int, blocks: int, classes: int = 10) -> None:
        super().__init__()
        self.lift = nn.Conv2d(3, channels, 3, 1, 1, bias=False)
        self.blocks = nn.Sequential(*(Block(channels, 1.0) for _ in range(blocks)))
        self.head = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.lift(x)).mean(dim=(2, 3)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--blocks", type=int, default=6)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30, help="measured steps of each kind")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = ConvResNet(args.channels, args.blocks)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(args.batch, 3, args.size, args.size)
    y = torch.randint(0, 10, (args.batch,))
    pen = TransportPenalty(model, blocks=[f"blocks.{i}" for i in range(args.blocks)], h=1.0)
    pen.remove()  # attached only while the penalty steps run, so plain steps run no hooks

    def plain() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    def penalised() -> None:
        opt.zero_grad()
        (F.cross_entropy(model(x), y) + 0.1 * attached.cost()).backward()
        opt.step()

    wall: dict[str, list[float]] = {"plain": [], "penalty": []}
    cpu: dict[str, list[float]] = {"plain": [], "penalty": []}
    for i in range(args.steps + 3):  # 3 warm-up rounds, then alternate so drift hits both alike
        for kind in ("plain", "penalty"):
            if kind == "penalty":
                attached = TransportPenalty(model, blocks=pen.blocks, h=1.0)
            t0, c0 = time.perf_counter(), time.process_time()
            (plain if kind == "plain" else penalised)()
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if kind == "penalty":
                attached.remove()
            if i >= 3:
                wall[kind].append(dt)
                cpu[kind].append(dc)
    print(f"conv ResNet: {args.channels} channels, {args.size}x{args.size}, {args.blocks} blocks, "
          f"batch {args.batch}, {args.threads} thread(s), {args.steps} steps each (medians)")
    for name, t in (("CPU time", cpu), ("wall time", wall)):
        p, q = statistics.median(t["plain"]), statistics.median(t["penalty"])
        print(f"  {name:9s}: plain {1e3 * p:8.2f} ms/step, with TransportPenalty "
              f"{1e3 * q:8.2f} ms/step, ratio {q / p:.3f}")
    print("  goal: ratio <= 1.15 (CPU time: on a shared machine the wall time also counts the "
          "waits for a core)")
    print(f"  load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
