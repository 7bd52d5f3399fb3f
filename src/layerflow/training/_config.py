"""Training configuration and result (frozen, validated once)."""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError

DEFAULT_EPOCHS = 50
"""Epochs when neither ``epochs`` nor ``steps`` is given (Baptista et al. 2024 train 50 epochs)."""

LAP_LR_MILESTONES = (150 / 300, 225 / 300, 250 / 300)
"""The authors' schedule as fractions of the budget (LAP ``main.py``: ``MultiStepLR`` at epochs
150, 225, 250 of 300, ``gamma=0.1``)."""


def _number(name: str, value: Any, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name}={value!r}: expected a finite number")
    if value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise ConfigError(f"{name}={value!r}: expected a number {op} {minimum:g}")
    return float(value)


def _integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}={value!r}: expected an int >= {minimum}")
    return value


@dataclass(frozen=True)
class TrainConfig:
    """How to train (one loop for single networks and ensembles).

    Objective per minibatch:
    ``loss = data_loss + λ·C + l2·Σ_W ‖W‖²``, where

    - ``data_loss`` is cross-entropy (``"ce"``, softmax over ``n_classes`` logits) or binary
      cross-entropy (``"bce"``, one logit with a sigmoid); ``"auto"`` picks BCE for 2 classes;
    - ``C`` is the transport cost of a residual network, from the same forward pass
      (:class:`~layerflow.training._penalty.TransportPenalty`): with ``transport_reduction="mean"``
      (default; the authors' cost, skander-karkar/LAP ``main.py``)
      ``C = Σ_k mean_{i,j} r_k(x_i)_j²``, the mean over the batch and the coordinates; with
      ``"sum"``, ``C = Σ_k mean_i ‖r_k(x_i)‖²`` (d times stronger at width d);
    - ``λ = transport_weight`` (fixed), or with ``uzawa=True`` the adaptive weight
      ``λ = 1/λ_L`` of :class:`~layerflow.training._uzawa.Uzawa`, with LAP's timing: ``λ_L``
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

    Budget: exactly one of ``epochs`` and ``steps`` decides how long training runs. ``steps``
    is a number of optimizer steps, whatever the size of the training set (so that 5 % of the
    data does not mean 5 % of the training); training then stops in the middle of an epoch when
    the budget is spent. ``epochs`` counts passes over the training set; when neither is given,
    50 epochs (:data:`DEFAULT_EPOCHS`). Giving both is an error.

    Learning-rate schedule: ``lr_milestones`` are fractions of the step budget ``T`` (``steps``,
    or ``epochs × batches per epoch``) at which the learning rate is multiplied by
    ``lr_gamma``: from step ``⌊f·T + ½⌋`` (counted from 0) on, as ``torch.optim``'s
    ``MultiStepLR`` does at epoch milestones. The authors' schedule (LAP ``main.py``:
    ``MultiStepLR(milestones=[150, 225, 250], gamma=0.1)`` over 300 epochs) is
    :data:`LAP_LR_MILESTONES` with ``lr_gamma=0.1``. Default: no schedule.

    Validation: ``val_fraction > 0`` holds out a stratified part of the training set (per class
    ``round(val_fraction · n_c)`` samples, at least one left for training, drawn with
    ``numpy.random.default_rng(val_seed)``), never trained on; the result reports ``val_acc`` on
    it, so that hyperparameters are chosen on validation, never on the test set. The split
    depends on ``val_seed`` only (default 0), not on ``seed``: every seed and every arm of a study
    sees the same validation split.
    """

    optimizer: str = "adam"
    lr: float = 1e-3
    epochs: int | None = None
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
    steps: int | None = None
    lr_milestones: tuple[float, ...] = ()
    lr_gamma: float = 0.1
    val_fraction: float = 0.0
    val_seed: int = 0

    #: fields that say where and from which seed a run trains, not what it is: a sweep sets them
    #: per run and leaves them out of a run's identity (they never change a result's meaning)
    EXECUTION_FIELDS: ClassVar[tuple[str, ...]] = ("seed", "device", "eval_batch_size")

    def __post_init__(self) -> None:
        from layerflow.training._objectives import LOSSES
        from layerflow.training._optim import OPTIMIZERS

        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"optimizer={self.optimizer!r}: expected one of {sorted(OPTIMIZERS)}"
            )
        _number("lr", self.lr, strict=True)
        if self.epochs is not None:
            _integer("epochs", self.epochs, 0)
        if self.steps is not None:
            _integer("steps", self.steps, 0)
            if self.epochs is not None:
                raise ConfigError(
                    f"epochs={self.epochs!r} and steps={self.steps!r}: give one budget, epochs or "
                    "steps, not both"
                )
        _integer("batch_size", self.batch_size, 1)
        _number("weight_decay", self.weight_decay)
        _number("l2", self.l2)
        if self.loss != "auto" and self.loss not in LOSSES:
            raise ConfigError(f"loss={self.loss!r}: expected 'auto' or one of {sorted(LOSSES)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed={self.seed!r}: expected an int")
        if not isinstance(self.device, str):
            raise ConfigError(f"device={self.device!r}: expected 'auto', 'cpu' or 'cuda[:i]'")
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError) as exc:
                raise ConfigError(
                    f"device={self.device!r}: expected 'auto', 'cpu' or 'cuda[:i]'"
                ) from exc
        _number("transport_weight", self.transport_weight)
        if not isinstance(self.uzawa, bool):
            raise ConfigError(f"uzawa={self.uzawa!r}: expected True or False")
        if self.uzawa and self.transport_weight != 0.0:
            raise ConfigError(
                f"transport_weight={self.transport_weight!r} with uzawa=True: the Uzawa rule sets "
                "the weight adaptively (λ = 1/λ_L); leave transport_weight at 0"
            )
        _number("uzawa_tau", self.uzawa_tau)
        _integer("uzawa_every", self.uzawa_every, 1)
        _number("momentum", self.momentum)
        if self.momentum != 0.0 and self.optimizer not in ("sgd", "rmsprop"):
            raise ConfigError(
                f"momentum={self.momentum!r} applies only to optimizer 'sgd' or 'rmsprop', "
                f"not {self.optimizer!r}"
            )
        _integer("eval_batch_size", self.eval_batch_size, 1)
        self._check_schedule_and_split()
        from layerflow.models import check_reduction

        check_reduction(self.transport_reduction, ConfigError, "transport_reduction")

    def _check_schedule_and_split(self) -> None:
        ms = self.lr_milestones
        if isinstance(ms, str) or not isinstance(ms, tuple | list):
            raise ConfigError(
                f"lr_milestones={ms!r}: expected a sequence of fractions of the budget in (0, 1)"
            )
        for m in ms:
            _number("lr_milestones", m)
        if any(not 0.0 < m < 1.0 for m in ms) or any(b <= a for a, b in itertools.pairwise(ms)):
            raise ConfigError(
                f"lr_milestones={ms!r}: expected increasing fractions of the budget in (0, 1), "
                "e.g. (0.5, 0.75)"
            )
        object.__setattr__(self, "lr_milestones", tuple(float(m) for m in ms))
        _number("lr_gamma", self.lr_gamma, strict=True)
        v = _number("val_fraction", self.val_fraction)
        if v >= 1.0:
            raise ConfigError(f"val_fraction={self.val_fraction!r}: expected 0 <= it < 1")
        _integer("val_seed", self.val_seed, 0)

    @property
    def n_epochs(self) -> int | None:
        """The epoch budget (``epochs``, or :data:`DEFAULT_EPOCHS` when neither ``epochs`` nor
        ``steps`` is given); ``None`` when ``steps`` decides."""
        if self.steps is not None:
            return None
        return DEFAULT_EPOCHS if self.epochs is None else self.epochs

    def total_steps(self, n_train: int) -> int:
        """The step budget ``T`` for ``n_train`` training samples."""
        if self.steps is not None:
            return self.steps
        return int(self.n_epochs or 0) * math.ceil(n_train / self.batch_size)

    def lr_boundaries(self, n_train: int) -> list[int]:
        """Steps (from 0) at which the learning rate is multiplied by ``lr_gamma``."""
        total = self.total_steps(n_train)
        return [math.floor(m * total + 0.5) for m in self.lr_milestones]

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
            raise ConfigError(f"device={self.device!r}: CUDA is not available here")
        return dev

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class TrainResult(ResultDisplay, headline=("status", "train_acc", "test_acc", "steps",
                                          "epochs_completed", "seconds", "seed", "message"),
                  rows=("ce_history", "lambda_history", "transport_cost_history"), index="step"):
    """What one training run produced.

    ``model`` is an ordinary ``nn.Module`` with the trained weights (for capture). ``status`` is
    ``"ok"`` or ``"diverged"`` (non-finite loss; ``message`` says when; the weights are those that
    produced it and the accuracies are NaN). ``loss_curve[e]`` is the mean data loss (CE/BCE) over
    the samples of epoch e. Per optimizer step: ``ce_history`` (batch data loss),
    ``lambda_history`` (the transport weight λ used; empty without transport objective) and
    ``transport_cost_history`` (C of the batch; empty for models without residual blocks).
    ``seconds`` is the wall time of the training call (for an ensemble, divided by its size).
    ``train_acc`` is measured on the samples trained on; ``val_acc`` on the held-out validation
    split (NaN without one, ``cfg.val_fraction = 0``); ``n_val`` is its size. ``loss_curve`` has
    one value per epoch that ran (the last may be partial under a step budget);
    ``epochs_completed`` counts the full ones. ``environment`` records how the run ran: torch's
    thread count, the device, whether deterministic algorithms were on, and the library
    versions (floating-point results depend on all of them).
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
    val_acc: float = math.nan
    n_val: int = 0
    environment: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"
