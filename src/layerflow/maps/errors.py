"""Errors of the maps view (Jacobian diagnostics).

:class:`MapsError` is what every bad request to :mod:`layerflow.maps` raises;
:class:`JacobianBudgetError` is the refusal of a computation estimated to exceed its time or
memory budget (the message names the estimate, the budget, the sample size that fits and the
options that raise the budget). Both derive from :class:`layerflow.errors.LayerflowError`.
"""

from __future__ import annotations

from typing import Any

from layerflow.errors import LayerflowError

__all__ = ["JacobianBudgetError", "MapsError"]


class MapsError(LayerflowError):
    """Jacobian diagnostics were asked for something the model cannot give."""


class JacobianBudgetError(MapsError):
    """The estimated time or memory of the Jacobian diagnostics exceeds the budget.

    ``estimate`` holds the :class:`layerflow.maps.budget.JacobianCost` that was refused, so a
    caller can read the per-layer figures instead of parsing the message; ``kind`` is
    ``"time"`` or ``"memory"``, the budget that was exceeded.
    """

    def __init__(self, message: str, estimate: Any = None, kind: str = "time") -> None:
        super().__init__(message)
        self.estimate = estimate
        self.kind = kind
