"""The networks: MLP (plain and bottleneck) and the residual MLP (the transformer is in
:mod:`layerflow.models._transformer`; building and initialising any of them in
:mod:`layerflow.models._build`).

Every layerflow model has

- ``blocks`` (``nn.ModuleList``): the hidden blocks, in order;
- ``capture_layers`` (``list[str]``): default submodule names for :func:`layerflow.capture`
  (MLPs: every hidden block; ResidualMLP: the lift and then every residual block, i.e. the whole
  residual stream);
- ``n_classes`` and ``out_features`` (1 for binary tasks: one logit, sigmoid/BCE; else
  ``n_classes`` logits, softmax/CE);
- ``forward_stacked(params, x)``: the same network for E stacked parameter sets at once
  (batched matmuls), used by ensemble training.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow.models._cost import check_reduction, velocity_cost
from layerflow.models._spec import ACTIVATIONS


class Linear(nn.Linear):
    """``nn.Linear`` that skips PyTorch's own initialisation (no global-RNG draws, no work);
    :func:`build_model` initialises every layer from its private generator instead."""

    def reset_parameters(self) -> None:
        return None


class Activation(nn.Module):
    """An activation from :data:`ACTIVATIONS`, chosen by name."""

    def __init__(self, name: str) -> None:
        super().__init__()
        if name not in ACTIVATIONS:
            raise ConfigError(f"activation={name!r}: expected one of {sorted(ACTIVATIONS)}")
        self.name = name
        self.fn = ACTIVATIONS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


class DenseBlock(nn.Module):
    """``act(W x + b)``: one hidden layer of an MLP."""

    def __init__(self, d_in: int, d_out: int, activation: str) -> None:
        super().__init__()
        self.fc = Linear(d_in, d_out)
        self.act = Activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cast(torch.Tensor, self.act(self.fc(x)))


class ResidualBlock(nn.Module):
    """``x ↦ x + h·r(x)`` with velocity ``r(x) = W2 act(W1 x + b1) + b2`` (width → width → width)."""

    def __init__(self, width: int, h: float, activation: str) -> None:
        super().__init__()
        self.h = float(h)
        self.fc1 = Linear(width, width)
        self.act = Activation(activation)
        self.fc2 = Linear(width, width)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The velocity ``r(x)``, shape ``(B, width)``."""
        return cast(torch.Tensor, self.fc2(self.act(self.fc1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.h * self.residual(x)

    def extra_repr(self) -> str:
        return f"h={self.h:g}"


def _out_features(n_classes: int) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ConfigError(f"n_classes={n_classes!r}: expected an int >= 2")
    return 1 if n_classes == 2 else n_classes


def _blinear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched affine map: x (E, B, i), w (E, o, i), b (E, o) -> (E, B, o)."""
    return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))


class MLP(nn.Module):
    """Plain or bottleneck MLP: ``x -> act(W_1 x) -> … -> act(W_D ·) -> head``.

    ``blocks[i]`` maps to hidden width ``widths[i]``; the head is linear (logits).
    """

    def __init__(
        self, in_dim: int, widths: tuple[int, ...], n_classes: int, activation: str = "relu"
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.out_features = _out_features(n_classes)
        self.widths = tuple(widths)
        self.activation = activation
        dims = (in_dim, *self.widths)
        self.blocks = nn.ModuleList(
            DenseBlock(dims[i], dims[i + 1], activation) for i in range(len(self.widths))
        )
        self.head = Linear(dims[-1], self.out_features)
        self.capture_layers: list[str] = [f"blocks.{i}" for i in range(len(self.blocks))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return cast(torch.Tensor, self.head(x))

    def forward_stacked(
        self, params: Mapping[str, torch.Tensor], x: torch.Tensor, transport: bool = False,
        reduction: str = "mean",
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """E networks at once: ``params[name]`` has shape ``(E, *param.shape)``, x ``(E, B, d)``.

        Returns logits ``(E, B, out_features)`` and ``None`` (an MLP has no transport cost).
        """
        if transport:
            raise ConfigError("a transport cost needs a residual model (kind='resnet'), not MLP")
        act = ACTIVATIONS[self.activation]
        for i in range(len(self.blocks)):
            x = act(_blinear(x, params[f"blocks.{i}.fc.weight"], params[f"blocks.{i}.fc.bias"]))
        return _blinear(x, params["head.weight"], params["head.bias"]), None


class ResidualMLP(nn.Module):
    """Residual MLP (Karkar et al. 2020; Dong et al. 2017).

    ``x_0 = lift(input)`` (linear, ``in_dim -> width``), ``x_{k+1} = x_k + h·r_k(x_k)`` for
    ``k = 0 … depth-1`` with ``r_k = Linear ∘ act ∘ Linear``, then a linear head. ``h`` defaults to
    ``1/depth`` (a flow over unit time); ``h = 1`` is the usual ResNet. The residual stream
    ``x_0 … x_depth`` (all of width ``width``) is captured by default.

    Transport cost (:func:`velocity_cost`): ``C = Σ_k mean_{i,j} r_k(x_k^{(i)})_j²``
    (``reduction="mean"``, the authors' cost) or ``Σ_k mean_i ‖r_k(x_k^{(i)})‖²`` (``"sum"``),
    returned by :meth:`forward_with_transport` from the same forward pass as the logits.
    ``residual_blocks`` names the blocks whose velocity ``r_k = (x_{k+1} − x_k)/h`` it penalises
    (what :class:`layerflow.TransportPenalty` reads by default).
    """

    def __init__(
        self,
        in_dim: int,
        width: int,
        depth: int,
        n_classes: int,
        h: float | None = None,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.out_features = _out_features(n_classes)
        self.width = width
        self.h = float(h) if h is not None else 1.0 / depth
        self.activation = activation
        self.lift = Linear(in_dim, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, self.h, activation) for _ in range(depth))
        self.head = Linear(width, self.out_features)
        self.capture_layers: list[str] = ["lift", *(f"blocks.{i}" for i in range(depth))]
        self.residual_blocks: list[str] = [f"blocks.{i}" for i in range(depth)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lift(x)
        for block in self.blocks:
            x = block(x)
        return cast(torch.Tensor, self.head(x))

    def forward_with_transport(
        self, x: torch.Tensor, reduction: str = "mean"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, out_features)`` and the transport cost ``C`` (a 0-d tensor; see
        :func:`velocity_cost` for ``reduction``), from one forward pass."""
        check_reduction(reduction, ConfigError)
        x = self.lift(x)
        cost = x.new_zeros(())
        for module in self.blocks:
            block = cast(ResidualBlock, module)
            r = block.residual(x)
            cost = cost + velocity_cost(r, reduction)
            x = x + block.h * r
        return self.head(x), cost

    def forward_stacked(
        self, params: Mapping[str, torch.Tensor], x: torch.Tensor, transport: bool = False,
        reduction: str = "mean",
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """E networks at once: ``params[name]`` has shape ``(E, *param.shape)``, x ``(E, B, d)``.

        Returns logits ``(E, B, out_features)`` and, with ``transport=True``, the per-member
        cost ``C_e`` of shape ``(E,)`` (else ``None``; ``reduction`` as in
        :meth:`forward_with_transport`).
        """
        check_reduction(reduction, ConfigError)
        act = ACTIVATIONS[self.activation]
        x = _blinear(x, params["lift.weight"], params["lift.bias"])
        cost: torch.Tensor | None = x.new_zeros(x.shape[0]) if transport else None
        for k in range(len(self.blocks)):
            p = f"blocks.{k}."
            hid = act(_blinear(x, params[p + "fc1.weight"], params[p + "fc1.bias"]))
            r = _blinear(hid, params[p + "fc2.weight"], params[p + "fc2.bias"])
            if cost is not None:
                cost = cost + velocity_cost(r, reduction, lead=1)
            x = x + self.h * r
        return _blinear(x, params["head.weight"], params["head.bias"]), cost
