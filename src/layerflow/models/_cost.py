"""The transport cost of a residual network's velocities: one formula for every caller.

For velocities ``r_k`` (one per residual block, each of shape ``(B, *coords)``: ``(B, d)`` for an
MLP block, ``(B, C, H, W)`` for a conv block) the cost is

.. math::  C = \\sum_k \\operatorname{mean}_{i, j}\\, r_k(x_i)_j^2
             = \\frac{1}{d} \\sum_k \\operatorname{mean}_i \\lVert r_k(x_i) \\rVert^2

(``reduction="mean"``, the default), the mean over the batch **and** the coordinates, exactly as
the authors' code computes it (skander-karkar/LAP, ``main.py``, ``train()``:
``transport = sum([torch.mean(torch.abs(r) ** pnorm) for r in rs])`` with ``pnorm = 2``); or
``C = Σ_k mean_i ‖r_k(x_i)‖²`` (``reduction="sum"``: summed over the coordinates, d times the
authors' cost).

Used by :class:`layerflow.TransportPenalty` (any model, through hooks),
:meth:`ResidualMLP.forward_with_transport` and the stacked ensemble forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from layerflow._errors import LayerflowError


@dataclass(frozen=True)
class Reduction:
    """One reduction of the transport cost, in its two equivalent forms.

    ``velocity(r, lead)``: one block's term from its velocities ``r`` of shape
    ``(*lead_dims, B, *coords)``, a tensor of shape ``lead_dims``.
    ``displacement(x_next, x, h)``: the same term of one network from the block's input ``x``
    and output ``x_next = x + h·r`` (both ``(B, *coords)``), as one fused kernel
    (``F.mse_loss``, whose backward gives both gradients in one pass each), without forming
    ``r``: what :class:`layerflow.TransportPenalty` computes inside a forward hook.
    """

    velocity: Callable[[torch.Tensor, int], torch.Tensor]
    displacement: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]


def _over_h2(term: torch.Tensor, h: float) -> torch.Tensor:
    return term if h == 1.0 else term / (h * h)


def _mean(r: torch.Tensor, lead: int) -> torch.Tensor:
    return r.square().mean(dim=tuple(range(lead, r.ndim)))


def _sum(r: torch.Tensor, lead: int) -> torch.Tensor:
    sq = r.square()
    if sq.ndim > lead + 1:  # (…, B) velocities have one coordinate: nothing to sum
        sq = sq.flatten(lead + 1).sum(dim=lead + 1)
    return sq.mean(dim=lead)


#: reduction name -> its two forms (variants as data)
TRANSPORT_REDUCTIONS: dict[str, Reduction] = {
    "mean": Reduction(_mean, lambda y, x, h: _over_h2(F.mse_loss(y, x), h)),
    "sum": Reduction(
        _sum, lambda y, x, h: _over_h2(F.mse_loss(y, x, reduction="sum") / x.shape[0], h)
    ),
}


def check_reduction(reduction: object, error: type[LayerflowError],
                    name: str = "reduction") -> None:
    """Raise ``error`` unless ``reduction`` names a :data:`TRANSPORT_REDUCTIONS` entry (the one
    check of ``ResidualMLP``, :class:`layerflow.TransportPenalty` and ``TrainConfig``, whose
    parameter is called ``name``)."""
    if reduction not in TRANSPORT_REDUCTIONS:
        raise error(f"{name}={reduction!r}: expected one of {sorted(TRANSPORT_REDUCTIONS)}")


def velocity_cost(r: torch.Tensor, reduction: str = "mean", lead: int = 0) -> torch.Tensor:
    """One block's term of ``C`` for velocities ``r`` of shape ``(*lead_dims, B, *coords)``.

    Returns a tensor of shape ``lead_dims`` (0-d for one network; ``(E,)`` for E stacked members,
    ``lead=1``): ``mean_{i,j} r_ij²`` (``"mean"``) or ``mean_i Σ_j r_ij²`` (``"sum"``).
    """
    return TRANSPORT_REDUCTIONS[reduction].velocity(r, lead)


def displacement_cost(
    x_next: torch.Tensor, x: torch.Tensor, h: float, reduction: str = "mean"
) -> torch.Tensor:
    """:func:`velocity_cost` of ``r = (x_next − x)/h`` for one network (0-d), fused: the mean
    (or per-sample sum) of ``(x_next − x)²`` divided by ``h²``. ``x_next`` and ``x`` have one
    shape ``(B, *coords)``."""
    return TRANSPORT_REDUCTIONS[reduction].displacement(x_next, x, h)
