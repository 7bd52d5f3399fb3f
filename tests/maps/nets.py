"""A network of given blocks for the maps tests (shared by test_jacobian and test_matfree)."""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """The blocks one after another; each block's output is a captured state."""

    def __init__(self, blocks: list[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.capture_layers = [f"blocks.{i}" for i in range(len(blocks))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for b in self.blocks:
            x = b(x)
        return x
