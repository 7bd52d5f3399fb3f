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
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from layerflow.models import ModelSpec, ResidualMLP
from layerflow.models._nets import MLP, _construct, _init_values
from layerflow.training._config import TrainConfig, TrainConfigError, TrainResult
from layerflow.training._fast import ACT_BACKWARD, StackedMLPGrad
from layerflow.training._objectives import LOSSES, predict
from layerflow.training._optim import OPTIMIZERS, FlatOptimizer

__all__ = ["train", "train_ensemble"]

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


def _check_dataset(dataset: Any) -> int:
    for attr in ("X_train", "y_train", "X_test", "y_test"):
        if not hasattr(dataset, attr):
            raise TrainConfigError(
                f"dataset is a {type(dataset).__name__} without {attr}; expected a "
                "layerflow Dataset"
            )
    n = int(np.asarray(dataset.X_train).shape[0])
    if n == 0:
        raise TrainConfigError("dataset has 0 training samples; nothing to train on")
    n_classes = int(dataset.n_classes)
    if n_classes < 2:
        raise TrainConfigError(f"dataset has n_classes={n_classes}; training needs at least 2")
    return n_classes


def _resolve_loss(cfg: TrainConfig, out: int, n_classes: int) -> str:
    name = cfg.loss if cfg.loss != "auto" else ("bce" if out == 1 else "ce")
    if name == "bce" and out != 1:
        raise TrainConfigError(
            f"loss={cfg.loss!r} uses BCE, which needs one output logit; the model has {out} "
            "outputs (use loss='ce')"
        )
    if name == "ce" and out != n_classes:
        raise TrainConfigError(
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
) -> _Fit:
    E = stack.n_members
    n = int(X.shape[0])
    device, dtype = X.device, X.dtype
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
    lam_inv = torch.ones(E, dtype=dtype, device=device)  # λ_L of the Uzawa rule
    fixed = torch.full((E,), cfg.transport_weight, dtype=dtype, device=device)
    want_cost = stack.has_transport
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    step = 0
    stop = False
    for epoch in range(cfg.epochs):
        perms = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(device)
        ep_sum = torch.zeros(E, dtype=dtype, device=device)
        for start in range(0, n, cfg.batch_size):
            idx = perms[:, start : start + cfg.batch_size]
            xb, yb = X[idx], y[idx]
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
                lam = 1.0 / lam_inv if cfg.uzawa else fixed
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
            d = data.detach()
            rec.ce.append(d)
            if cost is not None:
                rec.cost.append(cost.detach())
            if lam is not None:
                rec.lam.append(lam.detach().clone())
            if cfg.uzawa and step % cfg.uzawa_every == 0:
                lam_inv = lam_inv + cfg.uzawa_tau * d
            ep_sum += d * int(idx.shape[1])
        if stop:
            break
        rec.epoch_loss.append(ep_sum / n)
    rec.steps = step
    return rec


def _l2(stack: _Stack) -> torch.Tensor:
    """``Σ_W ‖W‖²`` per member, shape (E,)."""
    if stack.stacked:
        return sum(
            (w.square().sum(dim=tuple(range(1, w.ndim))) for w in stack.weights()),
            torch.zeros((), dtype=stack.params[0].dtype, device=stack.params[0].device),
        )
    total = sum((w.square().sum() for w in stack.weights()), torch.zeros(()))
    return total.reshape(1)


def _accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray, batch_size: int) -> float:
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
                xb = torch.as_tensor(X[s : s + batch_size], dtype=dtype, device=device)
                pred = predict(model(xb)).cpu().numpy()
                correct += int((pred == y[s : s + batch_size]).sum())
    finally:
        model.train(was)
    return correct / len(y)


def _member(rec: _Fit, e: int, seconds: float, model: nn.Module, cfg: TrainConfig, seed: int,
            train_acc: float, test_acc: float) -> TrainResult:
    dead = rec.death_step[e]
    T = rec.steps if dead is None else dead
    n_epochs = len(rec.epoch_loss) if dead is None else int(rec.death_epoch[e] or 0)

    def col(xs: list[torch.Tensor], upto: int) -> tuple[float, ...]:
        if not xs or upto == 0:
            return ()
        return tuple(float(v) for v in torch.stack(xs[:upto])[:, e].cpu().tolist())

    ok = dead is None
    return TrainResult(
        model=model,
        status="ok" if ok else "diverged",
        message="" if ok else rec.message[e],
        train_acc=train_acc if ok else math.nan,
        test_acc=test_acc if ok else math.nan,
        loss_curve=col(rec.epoch_loss, n_epochs),
        lambda_history=col(rec.lam, T),
        transport_cost_history=col(rec.cost, T),
        seconds=seconds,
        ce_history=col(rec.ce, T),
        steps=T,
        epochs_completed=n_epochs,
        seed=seed,
        config=cfg.to_dict() | {"seed": seed},
    )


def _tensors(ds: Any, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    X = torch.as_tensor(np.asarray(ds.X_train), dtype=dtype, device=device)
    y = torch.as_tensor(np.asarray(ds.y_train), dtype=torch.long, device=device)
    return X, y


def train(model: nn.Module, dataset: Any, cfg: TrainConfig | None = None) -> TrainResult:
    """Train ``model`` (in place) on ``dataset.X_train, y_train`` and report.

    The objective, optimizer, minibatch order and device follow ``cfg`` (see
    :class:`TrainConfig`); the run is deterministic for ``cfg.seed`` (minibatch order from its own
    ``torch.Generator``; the global RNG is not used). The transport objective needs a model with
    ``forward_with_transport`` (``ResidualMLP``), whose cost comes from the same forward pass.
    A non-finite loss ends training with ``status="diverged"`` (no exception). The model's
    training mode is restored; it stays on the training device.
    """
    cfg = TrainConfig() if cfg is None else cfg
    if not isinstance(cfg, TrainConfig):
        raise TrainConfigError(f"cfg is a {type(cfg).__name__}; expected a TrainConfig")
    if not isinstance(model, nn.Module):
        raise TrainConfigError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    n_classes = _check_dataset(dataset)
    has_transport = hasattr(model, "forward_with_transport")
    if cfg.uses_transport and not has_transport:
        raise TrainConfigError(
            f"transport_weight={cfg.transport_weight!r}, uzawa={cfg.uzawa!r}: the transport cost "
            f"needs a residual model with forward_with_transport (ResidualMLP); got "
            f"{type(model).__name__}"
        )
    device = cfg.resolved_device()
    model.to(device)
    params: list[torch.Tensor] = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TrainConfigError(f"{type(model).__name__} has no trainable parameters")
    dtype = params[0].dtype
    weights: list[torch.Tensor] = [
        p for n, p in model.named_parameters() if p.requires_grad and n.endswith("weight")
    ]

    def forward(xb: torch.Tensor, transport: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        if transport:
            logits, cost = model.forward_with_transport(xb[0])  # type: ignore[operator]
            return logits.unsqueeze(0), cost.reshape(1)
        return model(xb[0]).unsqueeze(0), None

    stack = _Stack(params, lambda: weights, forward, 1, stacked=False, has_transport=has_transport)
    X, y = _tensors(dataset, device, dtype)
    was = model.training
    model.train()
    t0 = time.perf_counter()
    try:
        rec = _fit(stack, X, y, cfg, [cfg.seed], n_classes)
    finally:
        model.train(was)
    seconds = time.perf_counter() - t0
    bs = cfg.eval_batch_size
    return _member(rec, 0, seconds, model, cfg, cfg.seed,
                   _accuracy(model, dataset.X_train, dataset.y_train, bs),
                   _accuracy(model, dataset.X_test, dataset.y_test, bs))


def train_ensemble(
    spec: ModelSpec,
    dataset: Any,
    cfg: TrainConfig,
    seeds: Sequence[int],
    *,
    dtype: torch.dtype = torch.float32,
    initial_models: Sequence[nn.Module] | None = None,
) -> list[TrainResult]:
    """Train ``len(seeds)`` networks of shape ``spec`` at once, as one batched module.

    Member ``e`` starts from ``build_model(spec, d, n_classes, seed=seeds[e], dtype=dtype)`` (or
    ``initial_models[e]``, same shape), draws its minibatches from ``torch.Generator(seeds[e])``
    and has its own optimizer state and Uzawa weight: it ends with the weights that
    ``train(build_model(…, seed=s), dataset, replace(cfg, seed=s))`` gives (``cfg.seed`` itself is
    not used). Weights are stacked to shape ``(E, …)`` and applied with batched matmuls
    (``torch.baddbmm``); the per-member losses are summed, so each member's gradient is its solo
    gradient. A member whose loss turns non-finite is marked ``"diverged"`` and frozen; the others
    go on unchanged. Returns one :class:`TrainResult` per seed, in order, each holding an ordinary
    ``nn.Module`` (``.model``); ``seconds`` is the ensemble's wall time divided by E.
    """
    if not isinstance(spec, ModelSpec):
        raise TrainConfigError(f"spec={spec!r}: expected a ModelSpec")
    if not isinstance(cfg, TrainConfig):
        raise TrainConfigError(f"cfg is a {type(cfg).__name__}; expected a TrainConfig")
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int | np.integer) for s in seeds):
        raise TrainConfigError(f"seeds={seeds!r}: expected a non-empty sequence of ints")
    seeds = [int(s) for s in seeds]
    n_classes = _check_dataset(dataset)
    if cfg.uses_transport and spec.kind != "resnet":
        raise TrainConfigError(
            f"transport_weight={cfg.transport_weight!r}, uzawa={cfg.uzawa!r}: the transport cost "
            f"needs kind='resnet', not {spec.kind!r}"
        )
    in_dim = int(np.asarray(dataset.X_train).shape[1])
    device = cfg.resolved_device()
    template = _construct(spec, in_dim, n_classes, dtype)
    names = [n for n, _ in template.named_parameters()]
    if initial_models is None:
        init = _init_values(template, seeds)  # = build_model(spec, …, seed=s) for each s
    else:
        members = list(initial_models)
        if len(members) != len(seeds):
            raise TrainConfigError(
                f"initial_models has {len(members)} models for {len(seeds)} seeds"
            )
        expected = {n: (p.shape, p.dtype) for n, p in template.named_parameters()}
        for i, m in enumerate(members):
            got = {n: (p.shape, p.dtype) for n, p in m.named_parameters()}
            if type(m) is not type(template) or got != expected:
                raise TrainConfigError(
                    f"initial_models[{i}] ({type(m).__name__}) does not have the shape of "
                    f"{spec} with dtype {dtype}"
                )
        init = {
            n: torch.stack([dict(m.named_parameters())[n].detach().cpu() for m in members])
            for n in names
        }
    # all members' parameters live in one flat leaf tensor, so that the optimizer updates them
    # with a handful of whole-tensor operations; the forward pass takes (E, …) views of it.
    # MLPs take the fast path: weights stored transposed, (E, in, out), and hand-written gradients
    # (StackedMLPGrad); other models use autograd through forward_stacked.
    E = len(seeds)
    fast = isinstance(template, MLP) and spec.activation in ACT_BACKWARD
    shapes = [tuple(init[n].shape) for n in names]
    sizes = [math.prod(sh) for sh in shapes]
    transposed = [fast and n.endswith("weight") for n in names]
    flat = torch.cat([
        (init[n].transpose(1, 2) if tr else init[n]).reshape(-1)
        for n, tr in zip(names, transposed, strict=True)
    ]).to(device)

    def views(t: torch.Tensor) -> list[torch.Tensor]:
        """(E, …) views of a flat tensor in the modules' layout (``nn.Linear.weight`` is (out, in))."""
        return [v.view(sh[0], sh[2], sh[1]).transpose(1, 2) if tr else v.view(sh)
                for v, sh, tr in zip(t.split(sizes), shapes, transposed, strict=True)]

    is_weight = [n.endswith("weight") for n in names]
    fwd_stacked = getattr(template, "forward_stacked")  # noqa: B009

    def forward(xb: torch.Tensor, transport: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        out: tuple[torch.Tensor, torch.Tensor | None] = fwd_stacked(
            dict(zip(names, views(flat), strict=True)), xb, transport
        )
        return out

    def weights() -> list[torch.Tensor]:
        return [v for v, w in zip(views(flat), is_weight, strict=True) if w]

    manual = None
    if fast:
        mlp = cast(MLP, template)
        flat.grad = torch.zeros_like(flat)
        loss = _resolve_loss(cfg, mlp.out_features, n_classes)
        dims = (in_dim, *mlp.widths, mlp.out_features)
        manual = StackedMLPGrad(flat, flat.grad, dims, E, spec.activation, loss, cfg.l2)
    else:
        flat.requires_grad_(True)
    has_transport = isinstance(template, ResidualMLP)
    stack = _Stack([flat], weights, forward, E, stacked=True,
                   has_transport=has_transport, views=views, manual=manual)
    X, y = _tensors(dataset, device, dtype)
    t0 = time.perf_counter()
    rec = _fit(stack, X, y, cfg, seeds, n_classes)
    seconds = (time.perf_counter() - t0) / len(seeds)
    final = dict(zip(names, views(flat.detach()), strict=True))
    accs = {
        split: _stacked_accuracy(fwd_stacked, final, getattr(dataset, f"X_{split}"),
                                 getattr(dataset, f"y_{split}"), cfg.eval_batch_size)
        for split in ("train", "test")
    }
    results = []
    for e, seed in enumerate(seeds):
        model = _construct(spec, in_dim, n_classes, dtype)
        if device.type != "cpu":
            model = model.to(device)
        values = rec.snapshot.get(e) or [v[e] for v in final.values()]
        with torch.no_grad():
            for (_, p), v in zip(model.named_parameters(), values, strict=True):
                p.copy_(v)
        results.append(
            _member(rec, e, seconds, model, cfg, seed, accs["train"][e], accs["test"][e])
        )
    return results


def _stacked_accuracy(
    fwd: Callable[..., tuple[torch.Tensor, Any]],
    params: dict[str, torch.Tensor],
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
) -> list[float]:
    """Accuracy of every member at once, shape (E,) as a list."""
    first = next(iter(params.values()))
    E = int(first.shape[0])
    if len(y) == 0:
        return [math.nan] * E
    correct = torch.zeros(E, dtype=torch.long)
    # rows per pass: E·rows activations per layer stay cache-sized (the predictions are per row)
    batch_size = max(1, min(batch_size, 2**14 // E))
    with torch.no_grad():
        for s in range(0, len(y), batch_size):
            xb = torch.as_tensor(X[s : s + batch_size], dtype=first.dtype, device=first.device)
            logits, _ = fwd(params, xb.unsqueeze(0).expand(E, -1, -1), False)
            yb = torch.as_tensor(y[s : s + batch_size], device=first.device)
            correct += (predict(logits) == yb).sum(dim=1).cpu()
    return (correct.double() / len(y)).tolist()
