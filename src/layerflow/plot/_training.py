"""Least-action figure: the transport cost and the Uzawa weight over training (Karkar et al. 2020)."""

from __future__ import annotations

from typing import Any

import numpy as np

from layerflow._errors import ConfigError
from layerflow.plot._common import new_axes


def training(result: Any, *, ax: Any = None) -> list[Any]:
    """The transport cost ``C`` of each optimizer step and the transport weight λ it trained with.

    ``C = Σ_k mean_{i,j} r_k(x_i)_j²`` is the kinetic energy of the residual flow on the step's
    minibatch (Karkar et al. 2020), read from ``result.transport_cost_history``; λ is
    ``result.lambda_history`` — fixed, or the adaptive Uzawa weight ``λ = 1/λ_L`` with
    ``λ_L ← λ_L + τ·CE_batch`` every s steps. C is drawn on a log axis when it stays positive,
    λ on a second axis to the right.

    Parameters
    ----------
    result
        A :class:`~layerflow.TrainResult` of a residual model (plain models record no C).
    ax
        Axes for C; default a new pyplot figure. λ gets ``ax.twinx()``.

    Returns
    -------
    list of Axes
        ``[ax]``, or ``[ax, twin]`` when λ was recorded. ``ax.lines[0]`` has ``xdata`` the step
        numbers 1…T and ``ydata`` the cost history; ``twin.lines[0]`` the λ history.
    """
    from layerflow.training import TrainResult  # torch, on first use only

    if not isinstance(result, TrainResult):
        raise ConfigError(f"training needs a TrainResult; got {type(result).__name__}")
    cost = np.asarray(result.transport_cost_history, dtype=np.float64)
    lam = np.asarray(result.lambda_history, dtype=np.float64)
    if cost.size == 0:
        raise ConfigError("this TrainResult recorded no transport cost (its model has no residual "
                        "blocks); train a residual model to see C over training")
    ax = new_axes(ax)
    steps = np.arange(1, cost.size + 1)
    ax.plot(steps, cost, color="C0", lw=1, label="transport cost C")
    if np.all(cost > 0):
        ax.set_yscale("log")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("transport cost C (batch)", color="C0")
    axes = [ax]
    if lam.size:
        twin = ax.twinx()
        twin.plot(np.arange(1, lam.size + 1), lam, color="C3", lw=1.2, label="λ")
        twin.set_ylabel("transport weight λ", color="C3")
        axes.append(twin)
    cfg = result.config
    mode = ("Uzawa" if cfg.get("uzawa") else f"λ = {cfg.get('transport_weight', 0):g}"
            if lam.size else "no penalty")
    ax.set_title(f"least action over training ({mode}); test accuracy {result.test_acc:.3f}",
                 fontsize=9)
    return axes
