"""Training configuration and result (frozen, validated once)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from layerflow.errors import LayerflowError

__all__ = ["TrainConfig", "TrainConfigError", "TrainResult"]


class TrainConfigError(LayerflowError):
    """A training configuration (or its fit to a model/dataset) is invalid; names the field."""


def _number(name: str, value: Any, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TrainConfigError(f"{name}={value!r}: expected a finite number")
    if value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise TrainConfigError(f"{name}={value!r}: expected a number {op} {minimum:g}")
    return float(value)


def _integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TrainConfigError(f"{name}={value!r}: expected an int >= {minimum}")
    return value


@dataclass(frozen=True)
class TrainConfig:
    """How to train (one loop for single networks and ensembles).

    Objective per minibatch (SPEC §4):
    ``loss = data_loss + λ·C + l2·Σ_W ‖W‖²``, where

    - ``data_loss`` is cross-entropy (``"ce"``, softmax over ``n_classes`` logits) or binary
      cross-entropy (``"bce"``, one logit with a sigmoid); ``"auto"`` picks BCE for 2 classes;
    - ``C`` is the transport cost of a residual network, from the same forward pass
      (:class:`~layerflow.training.penalty.TransportPenalty`): with ``transport_reduction="mean"``
      (default; the authors' cost, skander-karkar/LAP ``main.py``)
      ``C = Σ_k mean_{i,j} r_k(x_i)_j²``, the mean over the batch and the coordinates; with
      ``"sum"``, ``C = Σ_k mean_i ‖r_k(x_i)‖²`` (d times stronger at width d);
    - ``λ = transport_weight`` (fixed), or with ``uzawa=True`` the adaptive weight
      ``λ = 1/λ_L`` of :class:`~layerflow.training.uzawa.Uzawa`, with LAP's timing: ``λ_L``
      starts at 1 and on steps ``uzawa_every, 2·uzawa_every, …`` (counted from 1) grows by
      ``uzawa_tau`` times that step's data loss (BCE for binary tasks) *before* that step's loss
      is formed, so that step already uses the new λ. ``uzawa_tau = 1`` and ``uzawa_every = 1``
      are layerflow's defaults (LAP's command-line defaults, 0, switch Uzawa off);
    - ``l2`` is an **explicit** penalty on every parameter named ``*weight`` (not biases), part of
      the loss and hence of its gradient;
    - ``weight_decay`` is **optimizer-side**: passed to the torch optimizer's ``weight_decay``
      (coupled L2 for adam/sgd/rmsprop, decoupled for adamw), on every parameter, biases too.

    Minibatches: each epoch a permutation of the training set from a private
    ``torch.Generator(seed)``, cut into batches of ``batch_size`` (the last may be smaller).
    ``device="auto"`` uses CUDA when available, else the CPU.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int = 50
    batch_size: int = 32
    weight_decay: float = 0.0
    l2: float = 0.0
    loss: str = "auto"
    seed: int = 0
    device: str = "auto"
    transport_weight: float = 0.0
    uzawa: bool = False
    uzawa_tau: float = 1.0
    uzawa_every: int = 1
    momentum: float = 0.0
    eval_batch_size: int = 4096
    transport_reduction: str = "mean"

    def __post_init__(self) -> None:
        from layerflow.training._objectives import LOSSES
        from layerflow.training._optim import OPTIMIZERS

        if self.optimizer not in OPTIMIZERS:
            raise TrainConfigError(
                f"optimizer={self.optimizer!r}: expected one of {sorted(OPTIMIZERS)}"
            )
        _number("lr", self.lr, strict=True)
        _integer("epochs", self.epochs, 0)
        _integer("batch_size", self.batch_size, 1)
        _number("weight_decay", self.weight_decay)
        _number("l2", self.l2)
        if self.loss != "auto" and self.loss not in LOSSES:
            raise TrainConfigError(f"loss={self.loss!r}: expected 'auto' or one of {sorted(LOSSES)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TrainConfigError(f"seed={self.seed!r}: expected an int")
        if not isinstance(self.device, str):
            raise TrainConfigError(f"device={self.device!r}: expected 'auto', 'cpu' or 'cuda[:i]'")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError) as exc:
                raise TrainConfigError(
                    f"device={self.device!r}: expected 'auto', 'cpu' or 'cuda[:i]'"
                ) from exc
        _number("transport_weight", self.transport_weight)
        if not isinstance(self.uzawa, bool):
            raise TrainConfigError(f"uzawa={self.uzawa!r}: expected True or False")
        if self.uzawa and self.transport_weight != 0.0:
            raise TrainConfigError(
                f"transport_weight={self.transport_weight!r} with uzawa=True: the Uzawa rule sets "
                "the weight adaptively (λ = 1/λ_L); leave transport_weight at 0"
            )
        _number("uzawa_tau", self.uzawa_tau)
        _integer("uzawa_every", self.uzawa_every, 1)
        _number("momentum", self.momentum)
        if self.momentum != 0.0 and self.optimizer not in ("sgd", "rmsprop"):
            raise TrainConfigError(
                f"momentum={self.momentum!r} applies only to optimizer 'sgd' or 'rmsprop', "
                f"not {self.optimizer!r}"
            )
        _integer("eval_batch_size", self.eval_batch_size, 1)
        from layerflow.models import TRANSPORT_REDUCTIONS

        if self.transport_reduction not in TRANSPORT_REDUCTIONS:
            raise TrainConfigError(
                f"transport_reduction={self.transport_reduction!r}: expected one of "
                f"{sorted(TRANSPORT_REDUCTIONS)}"
            )

    @property
    def uses_transport(self) -> bool:
        """Whether the objective includes the transport cost (fixed weight > 0 or Uzawa)."""
        return self.uzawa or self.transport_weight > 0.0

    def resolved_device(self) -> torch.device:
        """The torch device ``device`` names (``"auto"``: CUDA if available, else CPU)."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise TrainConfigError(f"device={self.device!r}: CUDA is not available here")
        return dev

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class TrainResult:
    """What one training run produced.

    ``model`` is an ordinary ``nn.Module`` with the trained weights (for capture). ``status`` is
    ``"ok"`` or ``"diverged"`` (non-finite loss; ``message`` says when; the weights are those that
    produced it and the accuracies are NaN). ``loss_curve[e]`` is the mean data loss (CE/BCE) over
    the samples of epoch e. Per optimizer step: ``ce_history`` (batch data loss),
    ``lambda_history`` (the transport weight λ used; empty without transport objective) and
    ``transport_cost_history`` (C of the batch; empty for models without residual blocks).
    ``seconds`` is the wall time of the training call (for an ensemble, divided by its size).
    """

    model: nn.Module
    status: str
    message: str
    train_acc: float
    test_acc: float
    loss_curve: tuple[float, ...]
    lambda_history: tuple[float, ...]
    transport_cost_history: tuple[float, ...]
    seconds: float
    ce_history: tuple[float, ...] = ()
    steps: int = 0
    epochs_completed: int = 0
    seed: int = 0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"
