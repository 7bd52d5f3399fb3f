"""E networks of one shape as one flat tensor of stacked parameters (ensembles).

    template = model_structure(spec, in_dim, n_classes, torch.float64)
    stack = ParameterStack(template, initial_values(template, seeds))
    logits, cost = template.forward_stacked(stack.named(), x)   # x (E, B, in_dim)
    model_e = stack.member(e)                                  # an ordinary nn.Module
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from layerflow._errors import ConfigError


class ParameterStack:
    """The parameters of E networks shaped like ``template``, in one flat tensor.

    ``flat`` holds, parameter by parameter in ``template.named_parameters()`` order, the E
    members' values of that parameter (shape ``(E, *param.shape)``), so that an optimizer updates
    every member with a few whole-tensor operations (:class:`layerflow.training` ensembles).
    With ``transpose_weights=True`` every parameter named ``*weight`` of shape ``(E, out, in)`` is
    stored as ``(E, in, out)`` (the layout of ``X @ W``); :meth:`views` still returns the modules'
    layout, as strided views of ``flat``.

    Parameters
    ----------
    template
        A module of the members' shape (its own weights are never read).
    values
        ``{name: tensor of shape (E, *param.shape)}`` for every parameter of ``template``, e.g.
        :func:`initial_values`.
    transpose_weights
        Store weight matrices transposed (see above).
    device
        Where ``flat`` lives (default: where ``values`` are).
    """

    def __init__(
        self,
        template: nn.Module,
        values: Mapping[str, torch.Tensor],
        *,
        transpose_weights: bool = False,
        device: torch.device | str | None = None,
    ) -> None:
        self.template = template
        self.names = [n for n, _ in template.named_parameters()]
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ConfigError(
                f"values lack parameters {missing} of {type(template).__name__}"
            )
        self.shapes = [tuple(values[n].shape) for n in self.names]
        members = {sh[0] if sh else None for sh in self.shapes}
        params = dict(template.named_parameters())
        wrong = [n for n, sh in zip(self.names, self.shapes, strict=True)
                 if sh[1:] != tuple(params[n].shape)]
        if len(members) != 1 or wrong:
            raise ConfigError(
                f"values must have shape (E, *param.shape) with one E for every parameter; got "
                f"{dict(zip(self.names, self.shapes, strict=True))}"
            )
        self.n_members = int(self.shapes[0][0])
        self.sizes = [math.prod(sh) for sh in self.shapes]
        self.transposed = [transpose_weights and n.endswith("weight") for n in self.names]
        flat = torch.cat([
            (values[n].transpose(1, 2) if tr else values[n]).reshape(-1)
            for n, tr in zip(self.names, self.transposed, strict=True)
        ])
        self.flat = flat.to(device) if device is not None else flat

    def views(self, t: torch.Tensor | None = None) -> list[torch.Tensor]:
        """``(E, *param.shape)`` views of ``t`` (default ``flat``; any tensor of its layout, e.g.
        its gradient), in the modules' layout (``nn.Linear.weight`` is ``(out, in)``)."""
        t = self.flat if t is None else t
        return [v.view(sh[0], sh[2], sh[1]).transpose(1, 2) if tr else v.view(sh)
                for v, sh, tr in zip(t.split(self.sizes), self.shapes, self.transposed,
                                     strict=True)]

    def named(self, t: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``{name: view}`` of :meth:`views`, what ``forward_stacked`` takes."""
        return dict(zip(self.names, self.views(t), strict=True))

    def member(
        self, e: int, values: Sequence[torch.Tensor] | None = None,
        device: torch.device | str | None = None,
    ) -> nn.Module:
        """Member ``e`` as an ordinary module (a copy of the template holding its parameters;
        ``values`` replaces them, in ``names`` order, e.g. a snapshot)."""
        model = copy.deepcopy(self.template)
        if device is not None and torch.device(device).type != "cpu":
            model = model.to(device)
        src = [v[e] for v in self.views(self.flat.detach())] if values is None else values
        with torch.no_grad():
            for (_, p), v in zip(model.named_parameters(), src, strict=True):
                p.copy_(v)
        return model
