"""The one training loop, for a single network and for an ensemble of E networks of one shape.

Both paths drive :func:`_fit` with a *stack*: E parameter sets (E = 1 for a single network) and
a forward function ``x (E, B, d) -> logits (E, B, out), cost (E,) | None``. Per member the loop
draws its own minibatch order (``torch.Generator(seed_e)``), computes its own loss (the mean over
its batch), and the objective summed over members is back-propagated once: members do not
interact, so each member's gradient is exactly its solo gradient, and the elementwise optimizers
(Adam, AdamW, RMSprop, SGD) give per-member updates. A member whose loss turns non-finite is
frozen (its weights at that moment are kept, its gradient is zeroed) without touching the others.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow._hooks import model_input
from layerflow.training._config import TrainConfig, TrainResult
from layerflow.training._data import FitData, check_dataset, fit_data
from layerflow.training._fast import StackedMLPGrad
from layerflow.training._objectives import LOSSES, predict
from layerflow.training._optim import OPTIMIZERS, FlatOptimizer
from layerflow.training._penalty import TransportPenalty
from layerflow.training._uzawa import Uzawa

Forward = Callable[[torch.Tensor, bool], tuple[torch.Tensor, torch.Tensor | None]]


@dataclass
class _Stack:
    """E networks as the loop sees them."""

    params: list[torch.Tensor]  # what the optimizer updates
    weights: Callable[[], list[torch.Tensor]]  # parameters named *weight (explicit L2)
    forward: Forward
    n_members: int
    stacked: bool  # members are views (E, …) of the params
    has_transport: bool
    views: Callable[[torch.Tensor], list[torch.Tensor]] | None = None  # flat -> per-param (E, …)
    manual: StackedMLPGrad | None = None  # hand-written forward/backward (no autograd)


@dataclass
class _Fit:
    """Per-step and per-epoch records of all members, and how each member ended."""

    ce: list[torch.Tensor] = field(default_factory=list)  # each (E,)
    cost: list[torch.Tensor] = field(default_factory=list)
    lam: list[torch.Tensor] = field(default_factory=list)
    epoch_loss: list[torch.Tensor] = field(default_factory=list)
    death_step: list[int | None] = field(default_factory=list)
    death_epoch: list[int | None] = field(default_factory=list)
    message: list[str] = field(default_factory=list)
    snapshot: dict[int, list[torch.Tensor]] = field(default_factory=dict)
    steps: int = 0
    full_epochs: int = 0


def _resolve_loss(cfg: TrainConfig, out: int, n_classes: int) -> str:
    name = cfg.loss if cfg.loss != "auto" else ("bce" if out == 1 else "ce")
    if name == "bce" and out != 1:
        raise ConfigError(
            f"loss={cfg.loss!r} uses BCE, which needs one output logit; the model has {out} "
            "outputs (use loss='ce')"
        )
    if name == "ce" and out != n_classes:
        raise ConfigError(
            f"loss={cfg.loss!r} uses cross-entropy over {n_classes} classes; the model has "
            f"{out} outputs"
        )
    return name


def _fit(
    stack: _Stack,
    X: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
    seeds: Sequence[int],
    n_classes: int,
    tick: Callable[[int], None] | None = None,
) -> _Fit:
    E = stack.n_members
    # X (n, …): one training set for every member; (E, n, …) when y is (E, n): each member its own
    per_member = y.ndim == 2
    n = int(X.shape[1] if per_member else X.shape[0])
    rows = torch.arange(E, device=X.device).unsqueeze(1) if per_member else None
    device = X.device
    # the parameters' dtype (X holds int64 token ids for a model with an embedding)
    dtype = X.dtype if X.is_floating_point() else stack.params[0].dtype
    opt: torch.optim.Optimizer | FlatOptimizer
    if stack.stacked:  # one flat tensor: in-place updates, same rules as torch.optim
        opt = FlatOptimizer(stack.params[0], cfg)
    else:
        opt = OPTIMIZERS[cfg.optimizer](stack.params, cfg)
    manual = stack.manual
    gens = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
    rec = _Fit(death_step=[None] * E, death_epoch=[None] * E, message=[""] * E)
    alive = torch.ones(E, dtype=torch.bool, device=device)
    all_alive = True
    uzawa = Uzawa(cfg.uzawa_tau, cfg.uzawa_every) if cfg.uzawa else None  # one λ_L per member
    fixed = torch.full((E,), cfg.transport_weight, dtype=dtype, device=device)
    want_cost = stack.has_transport
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    budget = cfg.total_steps(n)  # exactly one of epochs / steps decides (TrainConfig)
    boundaries = cfg.lr_boundaries(n)
    lr = cfg.lr
    step = 0
    epoch = 0
    stop = False
    while step < budget:
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
        ep_sum = torch.zeros(E, dtype=dtype, device=device)
        seen = 0
        for start in range(0, n, cfg.batch_size):
            if step == budget:  # a step budget may end an epoch early
                break
            if step in boundaries:  # MultiStepLR at fractions of the budget
                for _ in range(boundaries.count(step)):
                    lr = lr * cfg.lr_gamma
                _set_lr(opt, lr)
            idx = perms[:, start : start + cfg.batch_size]
            xb, yb = (X[rows, idx], y[rows, idx]) if rows is not None else (X[idx], y[idx])
            if manual is not None:
                logits, cost = manual.forward(xb), None
            else:
                logits, cost = stack.forward(xb, want_cost)
            if loss_fn is None:
                loss_fn = LOSSES[_resolve_loss(cfg, int(logits.shape[-1]), n_classes)]
            data = loss_fn(logits, yb)
            total = data
            lam = None
            if cfg.uses_transport:
                assert cost is not None
                # LAP's timing: on every `every`-th step λ_L grows by τ·(this step's data loss)
                # before this step's loss is formed (Uzawa.update)
                lam = fixed if uzawa is None else _per_member(uzawa.update(data), fixed)
                total = total + lam * cost
            if cfg.l2 > 0.0:
                total = total + cfg.l2 * _l2(stack)
            finite = torch.isfinite(total)
            if not bool(finite.all()) and bool((alive & ~finite).any()):
                for e in torch.nonzero(alive & ~finite).flatten().tolist():
                    rec.death_step[e], rec.death_epoch[e] = step, epoch
                    rec.message[e] = (
                        f"loss became {float(total[e].detach())} at epoch {epoch}, step {step} "
                        f"(optimizer={cfg.optimizer}, lr={cfg.lr:g}); training stopped"
                    )
                    if stack.views is not None:
                        flat = stack.params[0].detach()
                        rec.snapshot[e] = [v[e].clone() for v in stack.views(flat)]
                alive = alive & finite
                all_alive = False
                if not bool(alive.any()):
                    stop = True
                    break
            if manual is not None:
                manual.backward(yb)  # writes the gradient of Σ_e total_e into params[0].grad
            else:
                objective = total.sum() if all_alive else torch.where(alive, total, 0.0).sum()
                opt.zero_grad(set_to_none=True)
                objective.backward()
            if not all_alive:
                with torch.no_grad():
                    grad = stack.params[0].grad
                    if stack.views is not None and grad is not None:
                        for g in stack.views(grad):
                            g[~alive] = 0.0
            opt.step()
            step += 1
            if tick is not None:
                tick(1)
            d = data.detach()
            rec.ce.append(d)
            if cost is not None:
                rec.cost.append(cost.detach())
            if lam is not None:
                rec.lam.append(lam.detach().clone())
            ep_sum += d * int(idx.shape[1])
            seen += int(idx.shape[1])
        if stop:
            break
        rec.epoch_loss.append(ep_sum / seen)
        rec.full_epochs += int(seen == n)
        epoch += 1
    rec.steps = step
    return rec


def _set_lr(opt: torch.optim.Optimizer | FlatOptimizer, lr: float) -> None:
    if isinstance(opt, FlatOptimizer):
        opt.lr = lr
    else:
        for group in opt.param_groups:
            group["lr"] = lr


def _per_member(weight: Any, like: torch.Tensor) -> torch.Tensor:
    """An Uzawa weight (a float before the first update, else float64 ``(E,)``) as ``like``."""
    if isinstance(weight, torch.Tensor):
        return weight.to(like.dtype)
    return torch.full_like(like, weight)


def _l2(stack: _Stack) -> torch.Tensor:
    """``Σ_W ‖W‖²`` per member, shape (E,)."""
    if stack.stacked:
        return sum(
            (w.square().sum(dim=tuple(range(1, w.ndim))) for w in stack.weights()),
            torch.zeros((), dtype=stack.params[0].dtype, device=stack.params[0].device),
        )
    total = sum((w.square().sum() for w in stack.weights()), torch.zeros(()))
    return total.reshape(1)


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray,
             batch_size: int = TrainConfig.eval_batch_size) -> float:
    """The share of the rows of ``X`` whose predicted class (:func:`predict`) is ``y``: the
    model in eval mode (its mode restored afterwards), ``batch_size`` rows per forward pass, each
    batch as the model takes it (:func:`layerflow._hooks.model_input`: token ids stay ids, other
    inputs in the model's dtype on its device); NaN for no rows."""
    if len(y) == 0:
        return math.nan
    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    was = model.training
    model.eval()
    correct = 0
    try:
        with torch.no_grad():
            for s in range(0, len(y), batch_size):
                xb = model_input(model, X[s : s + batch_size], device, dtype)
                pred = predict(model(xb)).cpu().numpy()
                correct += int((pred == y[s : s + batch_size]).sum())
    finally:
        model.train(was)
    return correct / len(y)


def _member(rec: _Fit, e: int, seconds: float, model: nn.Module, cfg: TrainConfig, seed: int,
            accs: dict[str, float], n_val: int) -> TrainResult:
    """Member ``e``'s result; ``accs`` holds its ``train``, ``val`` and ``test`` accuracy."""
    dead = rec.death_step[e]
    T = rec.steps if dead is None else dead
    n_epochs = len(rec.epoch_loss) if dead is None else int(rec.death_epoch[e] or 0)
    full = rec.full_epochs if dead is None else n_epochs

    def col(xs: list[torch.Tensor], upto: int) -> tuple[float, ...]:
        if not xs or upto == 0:
            return ()
        return tuple(float(v) for v in torch.stack(xs[:upto])[:, e].cpu().tolist())

    ok = dead is None
    from layerflow._environment import environment

    return TrainResult(
        model=model,
        status="ok" if ok else "diverged",
        message="" if ok else rec.message[e],
        train_acc=accs["train"] if ok else math.nan,
        test_acc=accs["test"] if ok else math.nan,
        loss_curve=col(rec.epoch_loss, n_epochs),
        lambda_history=col(rec.lam, T),
        transport_cost_history=col(rec.cost, T),
        seconds=seconds,
        ce_history=col(rec.ce, T),
        steps=T,
        epochs_completed=full,
        seed=seed,
        config=cfg.to_dict() | {"seed": seed},
        val_acc=accs["val"] if ok else math.nan,
        n_val=n_val,
        environment=environment(cfg.resolved_device()),
    )


def _tensors(data: FitData, device: torch.device, dtype: torch.dtype,
             model: nn.Module) -> tuple[torch.Tensor, ...]:
    """The training rows as ``model`` takes them (:func:`layerflow._hooks.model_input`: token ids
    as int64, everything else in ``dtype``) and the labels as int64."""
    X = model_input(model, data.X, device, dtype)
    y = torch.as_tensor(data.y, dtype=torch.long, device=device)
    return X, y


def train(
    model: nn.Module,
    dataset: Any,
    cfg: TrainConfig | None = None,
    *,
    penalty: TransportPenalty | None = None,
    progress: bool | None = None,
) -> TrainResult:
    """Train ``model`` (in place) on ``dataset.X_train, y_train`` and report.

    The objective, optimizer, minibatch order and device follow ``cfg`` (see
    :class:`TrainConfig`); the run is deterministic for ``cfg.seed`` (minibatch order from its own
    ``torch.Generator``; the global RNG is not used). The transport cost ``C`` comes from the
    same forward pass through a :class:`TransportPenalty`: ``penalty`` (attached to ``model``,
    any residual network), or one on ``model.residual_blocks`` for layerflow's ``ResidualMLP``
    (made with ``cfg.transport_reduction`` and removed afterwards). A non-finite loss ends
    training with ``status="diverged"`` (no exception). The model's training mode is restored; it
    stays on the training device. The accuracy passes run with the penalty
    :meth:`~TransportPenalty.paused`, and the penalty is cleared afterwards (it holds no pass).
    ``progress`` shows a bar over the optimizer steps on standard error: ``None`` (default) when
    it is a terminal, ``True`` always, ``False`` never. The result's ``environment`` records
    the thread count, device and library versions the run used
    (:func:`layerflow.reproducible` makes runs bit-reproducible).
    """
    cfg = TrainConfig() if cfg is None else cfg
    if not isinstance(cfg, TrainConfig):
        raise ConfigError(f"cfg is a {type(cfg).__name__}; expected a TrainConfig")
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    n_classes = check_dataset(dataset)
    data = fit_data(dataset, cfg)
    own = None
    if penalty is not None:
        if not isinstance(penalty, TransportPenalty):
            raise ConfigError(
                f"penalty is a {type(penalty).__name__}; expected a TransportPenalty"
            )
        if penalty.model is not model:
            raise ConfigError(
                f"penalty is attached to a {type(penalty.model).__name__}, not to the "
                f"{type(model).__name__} being trained"
            )
        if penalty.reduction != cfg.transport_reduction:
            raise ConfigError(
                f"penalty has reduction={penalty.reduction!r} but "
                f"cfg.transport_reduction={cfg.transport_reduction!r}; make them agree"
            )
    elif hasattr(model, "residual_blocks"):
        penalty = own = TransportPenalty(model, reduction=cfg.transport_reduction)
    if cfg.uses_transport and penalty is None:
        raise ConfigError(
            f"transport_weight={cfg.transport_weight!r}, uzawa={cfg.uzawa!r}: the transport cost "
            "needs a residual model: pass penalty=TransportPenalty(model, blocks=[…], h=…) or "
            f"train a ResidualMLP; got {type(model).__name__}"
        )
    from layerflow._progress import progress_bar

    try:
        with progress_bar("train", cfg.total_steps(len(data.y)), progress) as advance:
            return _train_solo(model, dataset, data, cfg, penalty, n_classes, advance)
    finally:
        if own is not None:
            own.remove()


def _train_solo(model: nn.Module, dataset: Any, data: FitData, cfg: TrainConfig,
                penalty: TransportPenalty | None, n_classes: int,
                tick: Callable[[int], None] | None = None) -> TrainResult:
    device = cfg.resolved_device()
    model.to(device)
    params: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(f"{type(model).__name__} has no trainable parameters")
    dtype = params[0].dtype
    weights: list[torch.Tensor] = [
        p for n, p in model.named_parameters() if p.requires_grad and n.endswith("weight")
    ]

    def forward(xb: torch.Tensor, transport: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = model(xb[0]).unsqueeze(0)
        if transport:
            assert penalty is not None
            return logits, penalty.cost().reshape(1)
        return logits, None

    has_transport = penalty is not None
    stack = _Stack(params, lambda: weights, forward, 1, stacked=False, has_transport=has_transport)
    X, y = _tensors(data, device, dtype, model)
    was = model.training
    model.train()
    t0 = time.perf_counter()
    try:
        rec = _fit(stack, X, y, cfg, [cfg.seed], n_classes, tick)
    finally:
        model.train(was)
    seconds = time.perf_counter() - t0
    bs = cfg.eval_batch_size
    # evaluation passes are not recorded by the penalty (it would hold every block's
    # activations); the last training step's are let go too
    with penalty.paused() if penalty is not None else nullcontext():
        accs = {"train": accuracy(model, data.X, data.y, bs),
                "val": accuracy(model, data.X_val, data.y_val, bs),
                "test": accuracy(model, dataset.X_test, dataset.y_test, bs)}
    if penalty is not None:
        penalty.clear()
    return _member(rec, 0, seconds, model, cfg, cfg.seed, accs, len(data.y_val))
