"""The adaptive transport weight of Karkar et al. 2020 (Uzawa's method), as their code runs it.

The loss is ``data_loss + λ·C`` with ``λ = 1/λ_L``; ``λ_L`` starts at ``lambda_loss0`` and, every
``every`` optimizer steps, grows by ``τ`` times that step's data loss. The timing is that of the
authors' code (skander-karkar/LAP, ``main.py``, ``train()``)::

    it = 0; lml = lml0; lmt = 1 / lml
    for each minibatch:
        it += 1                                   # the first step has it = 1
        out, rs = model(x); classification_loss = criterion(out, y)
        if it % uzs == 0:                         # BEFORE this step's loss is formed
            lml += tau * classification_loss.item(); lmt = 1 / lml
        loss = classification_loss + lmt * transport

so on steps ``every, 2·every, …`` the weight already includes that step's own data loss.
:class:`Uzawa` holds this rule; call :meth:`Uzawa.update` once per step with the step's data loss
before forming the loss::

    uz = lf.Uzawa(tau=0.1, every=10)
    for x, y in loader:
        ce = F.cross_entropy(model(x), y)
        loss = ce + uz.update(ce) * pen.cost()
"""

from __future__ import annotations

import math
from typing import Any

import torch

from layerflow._errors import ConfigError


class Uzawa:
    """Adaptive weight ``λ = 1/λ_L`` of the transport cost (Karkar et al. 2020; LAP's timing).

    Parameters
    ----------
    tau
        Step ``τ >= 0`` of the dual ascent ``λ_L ← λ_L + τ·data_loss`` (LAP's ``--tau``; its
        default 0 switches Uzawa off, so there is no default here).
    every
        Update on every ``every``-th call of :meth:`update` (LAP's ``--uzawasteps``), an int >= 1.
    lambda_loss0
        Initial ``λ_L`` (LAP's ``--lambdaloss0``, default 1, hence ``λ = 1`` at the start).

    Attributes
    ----------
    lambda_loss
        Current ``λ_L``: a float, or a float64 tensor of shape ``(E,)`` when :meth:`update` is
        given one data loss per ensemble member (each member then has its own ``λ_L``).
    steps
        Calls of :meth:`update` so far.
    history
        The weight returned by each call of :meth:`update` (floats, or ``(E,)`` tensors).
    """

    def __init__(self, tau: float, every: int, lambda_loss0: float = 1.0) -> None:
        for name, v, lo in (("tau", tau, 0.0), ("lambda_loss0", lambda_loss0, None)):
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ConfigError(f"{name}={v!r}: expected a finite number")
            if lo is not None and v < lo:
                raise ConfigError(f"{name}={v!r}: expected a number >= {lo:g}")
        if lambda_loss0 <= 0:
            raise ConfigError(f"lambda_loss0={lambda_loss0!r}: expected a number > 0 (λ = 1/λ_L)")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ConfigError(f"every={every!r}: expected an int >= 1")
        self.tau = float(tau)
        self.every = every
        self.lambda_loss0 = float(lambda_loss0)
        self.lambda_loss: Any = float(lambda_loss0)
        self.steps = 0
        self.history: list[Any] = []

    @property
    def weight(self) -> Any:
        """``λ = 1/λ_L`` as it stands (a float, or an ``(E,)`` float64 tensor)."""
        return 1.0 / self.lambda_loss

    def update(self, data_loss: Any) -> Any:
        """Count one optimizer step and return the weight ``λ`` for that step's loss.

        ``data_loss`` is the step's data loss (a number or 0-d tensor; or an ``(E,)`` tensor, one
        per ensemble member). On every ``every``-th call ``λ_L ← λ_L + τ·data_loss`` first, as in
        LAP. The value is read without its graph (``.item()`` in LAP): ``λ`` is not trained.
        """
        if isinstance(data_loss, torch.Tensor):
            d: Any = data_loss.detach()
            d = float(d) if d.ndim == 0 else d.to(torch.float64)
        elif isinstance(data_loss, int | float) and not isinstance(data_loss, bool):
            d = float(data_loss)
        else:
            raise ConfigError(
                f"data_loss is a {type(data_loss).__name__}; expected a number or a tensor"
            )
        self.steps += 1
        if self.steps % self.every == 0:
            self.lambda_loss = self.lambda_loss + self.tau * d
        w = self.weight
        self.history.append(w)
        return w

    def __repr__(self) -> str:
        return f"Uzawa(tau={self.tau:g}, every={self.every}, steps={self.steps})"
