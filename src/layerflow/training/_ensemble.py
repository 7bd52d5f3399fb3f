"""Ensembles: E networks of one shape trained as one batched module by the one loop (``_fit``).

The members' parameters are a :class:`layerflow.models.ParameterStack` (one flat tensor); each
member draws its own minibatches and has its own optimizer state and Uzawa weight, so it ends with
the weights that training it alone gives. The transport cost of stacked ResidualMLPs is computed
in the stacked forward pass (from the velocities ``r_k`` directly, with the same formula
:func:`layerflow.models.velocity_cost` that :class:`TransportPenalty` applies to one network).
Kinds without a stacked forward pass (``forward_stacked``: the transformer) are trained one by one
with :func:`~layerflow.training.train`, which is what each member equals anyway.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow._hooks import model_input
from layerflow.models import (
    MLP,
    ModelSpec,
    ParameterStack,
    ResidualMLP,
    build_model,
    initial_values,
    model_structure,
)
from layerflow.training._config import TrainConfig, TrainResult
from layerflow.training._data import check_dataset, fit_data
from layerflow.training._fast import ACT_BACKWARD, StackedMLPGrad
from layerflow.training._loop import (
    _fit,
    _member,
    _resolve_loss,
    _Stack,
    _tensors,
    accuracy,
    train,
)
from layerflow.training._objectives import predict


def train_ensemble(
    spec: ModelSpec,
    dataset: Any | Sequence[Any],
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

    ``dataset`` may be a list with one dataset per seed (each member its own data draw; the same
    number of training rows each): member ``e`` then trains, and is measured, on
    ``dataset[e]`` exactly as ``train`` on ``dataset[e]`` would.

    Kinds without a stacked forward pass (``kind="transformer"``) train their members one after
    the other, each with ``train(build_model(…, seed=s), dataset, replace(cfg, seed=s))`` (or a
    copy of ``initial_models[e]``; the originals are not changed); ``seconds`` is then each
    member's own time.
    """
    if not isinstance(spec, ModelSpec):
        raise ConfigError(f"spec={spec!r}: expected a ModelSpec")
    if not isinstance(cfg, TrainConfig):
        raise ConfigError(f"cfg is a {type(cfg).__name__}; expected a TrainConfig")
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int | np.integer) for s in seeds):
        raise ConfigError(f"seeds={seeds!r}: expected a non-empty sequence of ints")
    seeds = [int(s) for s in seeds]
    sets = _member_datasets(dataset, len(seeds))
    dataset = sets[0]
    n_classes = max(check_dataset(ds) for ds in sets)
    if cfg.uses_transport and spec.kind not in ModelSpec.RESIDUAL_KINDS:
        raise ConfigError(
            f"transport_weight={cfg.transport_weight!r}, uzawa={cfg.uzawa!r}: the transport cost "
            f"needs kind='resnet', not {spec.kind!r} (or kind='transformer', also residual)"
        )
    in_dim = int(np.asarray(dataset.X_train).shape[1])
    for e, ds in enumerate(sets):
        if int(np.asarray(ds.X_train).shape[1]) != in_dim:
            raise ConfigError(f"dataset[{e}] has {np.asarray(ds.X_train).shape[1]} "
                                   f"features, dataset[0] {in_dim}; members of one ensemble "
                                   "share a shape")
    device = cfg.resolved_device()
    template = model_structure(spec, in_dim, n_classes, dtype)
    names = [n for n, _ in template.named_parameters()]
    stacked = hasattr(template, "forward_stacked")
    if initial_models is None:
        # = build_model(spec, …, seed=s) for each s
        init = initial_values(template, seeds) if stacked else {}
    else:
        members = list(initial_models)
        if len(members) != len(seeds):
            raise ConfigError(
                f"initial_models has {len(members)} models for {len(seeds)} seeds"
            )
        expected = {n: (p.shape, p.dtype) for n, p in template.named_parameters()}
        for i, m in enumerate(members):
            got = {n: (p.shape, p.dtype) for n, p in m.named_parameters()}
            if type(m) is not type(template) or got != expected:
                raise ConfigError(
                    f"initial_models[{i}] ({type(m).__name__}) does not have the shape of "
                    f"{spec} with dtype {dtype}"
                )
        init = {
            n: torch.stack([dict(m.named_parameters())[n].detach().cpu() for m in members])
            for n in names
        } if stacked else {}
    if not stacked:  # one by one: each member is its solo run
        return [
            train(copy.deepcopy(initial_models[e]) if initial_models is not None
                  else build_model(spec, in_dim, n_classes, seed=seed, dtype=dtype),
                  sets[e], dataclasses.replace(cfg, seed=seed))
            for e, seed in enumerate(seeds)
        ]
    shared = all(ds is dataset for ds in sets)
    fits = [fit_data(ds, cfg) for ds in ([dataset] if shared else sets)]  # (solo runs: their own)
    data = fits[0]
    if any(len(f.y) != len(data.y) for f in fits):
        raise ConfigError(
            f"the members' datasets hold {sorted({len(f.y) for f in fits})} training rows; "
            "members trained as one ensemble need as many rows each (train the others apart)")
    # all members' parameters live in one flat leaf tensor, so that the optimizer updates them
    # with a handful of whole-tensor operations; the forward pass takes (E, …) views of it.
    # MLPs take the fast path: weights stored transposed, (E, in, out), and hand-written gradients
    # (StackedMLPGrad); other models use autograd through forward_stacked.
    E = len(seeds)
    fast = isinstance(template, MLP) and spec.activation in ACT_BACKWARD
    pstack = ParameterStack(template, init, transpose_weights=fast, device=device)
    flat = pstack.flat
    views = pstack.views
    is_weight = [n.endswith("weight") for n in names]
    fwd_stacked = getattr(template, "forward_stacked")  # noqa: B009

    def forward(xb: torch.Tensor, transport: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        out: tuple[torch.Tensor, torch.Tensor | None] = fwd_stacked(
            pstack.named(), xb, transport, cfg.transport_reduction
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
    if shared:
        X, y = _tensors(data, device, dtype, template)
    else:  # each member its own rows: (E, n, …)
        pairs = [_tensors(f, device, dtype, template) for f in fits]
        X, y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
    t0 = time.perf_counter()
    rec = _fit(stack, X, y, cfg, seeds, n_classes)
    seconds = (time.perf_counter() - t0) / len(seeds)
    final = pstack.named(flat.detach())
    results = []
    if shared:
        splits = {"train": (data.X, data.y), "val": (data.X_val, data.y_val),
                  "test": (dataset.X_test, dataset.y_test)}
        accs = {
            split: _stacked_accuracy(fwd_stacked, final, template, Xs, ys, cfg.eval_batch_size)
            for split, (Xs, ys) in splits.items()
        }
        for e, seed in enumerate(seeds):
            model = pstack.member(e, rec.snapshot.get(e), device=device)
            member_accs = {split: accs[split][e] for split in splits}
            results.append(_member(rec, e, seconds, model, cfg, seed, member_accs,
                                   len(data.y_val)))
        return results
    for e, seed in enumerate(seeds):
        model = pstack.member(e, rec.snapshot.get(e), device=device)
        f = fits[e]
        member_accs = {split: accuracy(model, Xs, ys, cfg.eval_batch_size) for split, (Xs, ys)
                       in (("train", (f.X, f.y)), ("val", (f.X_val, f.y_val)),
                           ("test", (sets[e].X_test, sets[e].y_test)))}
        results.append(_member(rec, e, seconds, model, cfg, seed, member_accs, len(f.y_val)))
    return results


def _member_datasets(dataset: Any, n: int) -> list[Any]:
    """One dataset per member: ``dataset`` itself for every member, or the ``n`` of a list."""
    if isinstance(dataset, list | tuple):
        if len(dataset) != n:
            raise ConfigError(f"{len(dataset)} datasets for {n} seeds; give one dataset, "
                                   "or one per seed")
        return list(dataset)
    return [dataset] * n


def _stacked_accuracy(
    fwd: Callable[..., tuple[torch.Tensor, Any]],
    params: dict[str, torch.Tensor],
    template: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
) -> list[float]:
    """:func:`~layerflow.training._loop.accuracy` of every member of a stacked ensemble at once
    (one forward pass of all members per batch), shape (E,) as a list; each batch as
    ``template`` takes it (:func:`layerflow._hooks.model_input`)."""
    first = next(iter(params.values()))
    E = int(first.shape[0])
    if len(y) == 0:
        return [math.nan] * E
    correct = torch.zeros(E, dtype=torch.long)
    # rows per pass: E·rows activations per layer stay cache-sized (the predictions are per row)
    batch_size = max(1, min(batch_size, 2**14 // E))
    with torch.no_grad():
        for s in range(0, len(y), batch_size):
            xb = model_input(template, X[s : s + batch_size], first.device, first.dtype)
            logits, _ = fwd(params, xb.unsqueeze(0).expand(E, -1, -1), False)
            yb = torch.as_tensor(y[s : s + batch_size], device=first.device)
            correct += (predict(logits) == yb).sum(dim=1).cpu()
    return (correct.double() / len(y)).tolist()
