"""Capture what a network does to data, layer by layer, as a :class:`Trajectory` (SPEC §1).

Forward hooks on named submodules (:mod:`layerflow.hooks`, shared with the Jacobian diagnostics
and the transport penalty) record each layer's output for every batch; the model runs in eval
mode under ``torch.no_grad()``; its mode is restored and its weights are never changed; the hooks
are removed even when the forward pass raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from layerflow.errors import LayerflowError
from layerflow.hooks import model_input, named_submodules, post_add_layers, record_layers
from layerflow.tokens import as_array, token_rows
from layerflow.trajectory import Trajectory

__all__ = ["POOLS", "CaptureError", "capture"]


class CaptureError(LayerflowError):
    """Capture was asked for something the model cannot give (unknown layer, bad output, …)."""


def _default_layers(model: nn.Module) -> list[str]:
    layers = getattr(model, "capture_layers", None)
    if layers is not None:
        return [str(name) for name in layers]
    children = [name for name, _ in model.named_children()]
    if not children:
        raise CaptureError(
            f"{type(model).__name__} has no submodules and no capture_layers; pass layers=[…] "
            "naming submodules to capture"
        )
    return children


def _mean_pool(t: torch.Tensor) -> torch.Tensor:
    """``(N, C, *positions) -> (N, C)``: the mean over the positions; 2-D states unchanged."""
    return t.mean(dim=tuple(range(2, t.ndim))) if t.ndim > 2 else t


#: pool name -> function on a batch of states (keeps the batch dimension)
POOLS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"mean": _mean_pool}


def _as_input(X: Any) -> torch.Tensor:
    """``X`` as a tensor (not yet cast), checked: real, at least 1-D, at least one sample."""
    if isinstance(X, torch.Tensor):
        t = X.detach()
    else:
        try:
            arr = np.asarray(X)
        except Exception as exc:
            raise CaptureError(f"X could not be converted to an array: {exc}") from exc
        if arr.dtype.kind not in "biuf":
            raise CaptureError(f"X has dtype {arr.dtype}; expected a real numeric array")
        if arr.ndim == 0:
            raise CaptureError("X is a scalar; expected an array of shape (N, …)")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim == 0:
        raise CaptureError("X is a scalar; expected an array of shape (N, …)")
    if t.shape[0] == 0:
        raise CaptureError(f"X has shape {tuple(t.shape)}: 0 samples; expected at least one")
    if t.is_complex():
        raise CaptureError(f"X has dtype {t.dtype}; expected a real numeric array")
    return t


def capture(
    model: nn.Module,
    X: Any,
    layers: Sequence[str] | None = None,
    batch_size: int = 1024,
    labels: Any = None,
    metadata: Mapping[str, str | int | float | bool | None] | None = None,
    *,
    pool: str | None = None,
    per_token: bool = False,
    attention_mask: Any = None,
) -> Trajectory:
    """Run ``model`` on ``X`` and return the trajectory ``X_0, X_1, …, X_L``.

    Parameters
    ----------
    model
        Any ``torch.nn.Module``. It runs on its own device (that of its first parameter, CPU if it
        has none) in eval mode under ``torch.no_grad()``; its training mode is restored afterwards
        and its weights are not changed.
    X
        Inputs of shape ``(N, …)`` as a NumPy array or torch tensor; ``X_0`` is ``X`` flattened to
        ``(N, d_0)``. Inputs are cast to the model's dtype, except the token ids of a model with
        an ``nn.Embedding`` (integers, or floats holding whole numbers), which the model gets as
        int64 exactly (:func:`layerflow.hooks.model_input`); ``X_0`` then holds float ids in the
        model's dtype (float32 for a half-precision model).
    layers
        Submodule names as in ``model.named_modules()``. Default: ``model.capture_layers`` for
        layerflow models, else the top-level children. Each must run exactly once per forward pass
        and return a tensor of batch-first shape (or a tuple whose first element is one). A
        residual block that applies an activation after its add (torchvision's ``BasicBlock``
        and ``Bottleneck``, ``relu(x + F(x))``, or a stage ending with one) is recorded at the
        sum ``x + F(x)`` before that activation, as the transport penalty and the Jacobian
        diagnostics read it (:data:`layerflow.hooks.POST_ADD_RULES`); ``metadata["pre_activation"]``
        names those layers.
    batch_size
        Rows per forward pass.
    labels
        Optional labels of shape ``(N,)`` stored in the trajectory (with ``per_token=True`` also
        ``(N, T)``, one per token).
    metadata
        Extra metadata merged into the trajectory's (which records ``model``, the class name, and
        ``pool`` / ``per_token`` when used).
    pool
        ``None`` (default): every state is flattened to ``(N, -1)``. ``"mean"``: states of shape
        ``(N, C, *positions)`` (conv feature maps ``(N, C, H, W)``, the input image too) become
        ``(N, C)``, the mean over the positions, as representation-similarity tools do for conv
        nets; 2-D states are kept. Pooled batch by batch, so the full maps are never stored.
    per_token
        ``True``: states of shape ``(N, T, d)`` (a transformer's residual stream, batch first)
        become one point per token, ``N·T`` rows of width d (a state ``(N, T)``, e.g. token ids,
        gives width 1), rows sample-major, with ``sample_index`` and ``position`` kept on the
        trajectory (:func:`layerflow.tokens.token_rows`). Default ``False``: one point per sequence
        (flattened), as before.
    attention_mask
        With ``per_token=True``: shape ``(N, T)``, 1 for real tokens, 0 for padding; the padded
        tokens' rows are dropped. It selects rows only; it is not passed to the model (wrap the
        model if its forward needs one).

    Returns
    -------
    Trajectory
        ``layer_names = ["input", *layers]``; state ``l`` has shape ``(N, d_l)``.

    Raises
    ------
    CaptureError
        Unknown or repeated layer names (the message lists the available ones), layers that return
        non-tensors, that do not run once per pass or whose output is not batch-first; an unknown
        ``pool``, ``pool`` with ``per_token``, a mask without ``per_token``, per-token states or a
        mask or labels whose shapes do not fit (the message names the shapes).
    """
    if not isinstance(model, nn.Module):
        raise CaptureError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise CaptureError(f"batch_size={batch_size!r}: expected an int >= 1")
    if isinstance(layers, str):
        raise CaptureError(f"layers={layers!r}: expected a list of layer names, not a string")
    names = _default_layers(model) if layers is None else [str(n) for n in layers]
    if not names:
        raise CaptureError("layers is empty; name at least one submodule to capture")
    # repeated names, and unknown ones (the message lists the others)
    named_submodules(model, names, CaptureError)
    if "input" in names:
        raise CaptureError("a layer named 'input' clashes with the input state's name")
    if pool is not None and pool not in POOLS:
        raise CaptureError(f"pool={pool!r}: expected None or one of {sorted(POOLS)}")
    if not isinstance(per_token, bool):
        raise CaptureError(f"per_token={per_token!r}: expected True or False")
    if per_token and pool is not None:
        raise CaptureError(f"pool={pool!r} with per_token=True: pooling makes one point per "
                           "sample, per_token one per token; choose one")
    if attention_mask is not None and not per_token:
        raise CaptureError("attention_mask drops padded tokens, which needs per_token=True")

    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    x_in = _as_input(X)
    x_all = model_input(model, x_in, device, dtype)  # token ids exactly as int64
    if x_in.is_floating_point() and not x_all.is_floating_point():
        # float token ids: the input state holds them as numbers in the model's dtype, as before,
        # or in float32 for a half-precision model (which cannot hold every id exactly)
        x_state = x_all.to(dtype if dtype in (torch.float32, torch.float64) else torch.float32)
    else:
        x_state = x_all
    n = int(x_all.shape[0])
    if per_token and x_all.ndim not in (2, 3):
        raise CaptureError(f"X has shape {tuple(x_all.shape)}; per_token=True needs sequences "
                           "of shape (N, T) (token ids) or (N, T, d)")

    transform = POOLS[pool] if pool is not None else None
    recorded = record_layers(model, names, x_all, batch_size, device="cpu", transform=transform,
                             who="capture", needs="capture needs", error=CaptureError)
    x0 = x_state.detach().cpu() if transform is None else transform(x_state.detach()).cpu()
    raw = [x0, *(recorded[name][1] for name in names)]
    meta: dict[str, str | int | float | bool | None] = {"model": type(model).__name__}
    if pool is not None:
        meta["pool"] = pool
    if per_token:
        meta["per_token"] = True
    # the post-add rule (layerflow.hooks.POST_ADD_RULES): a block with an activation after its
    # residual add is recorded at the sum before that activation; the layers it applied to
    pre_activation = post_add_layers(model, names)
    if pre_activation:
        meta["pre_activation"] = ",".join(pre_activation)
    meta.update(dict(metadata or {}))
    layer_names = ["input", *names]
    arrays = [as_array(t, f"layer {name!r}", CaptureError)  # bfloat16 becomes float32
              for t, name in zip(raw, layer_names, strict=True)]
    if not per_token:
        states = [a.reshape(n, -1) for a in arrays]
        return Trajectory(states, labels=labels, layer_names=layer_names, metadata=meta)
    rows = token_rows(arrays, layer_names, attention_mask, labels, CaptureError)
    return Trajectory(rows.states, labels=rows.labels, layer_names=layer_names, metadata=meta,
                      sample_index=rows.sample_index, position=rows.position)
