"""Capture what a network does to data, layer by layer, as a :class:`Trajectory` (SPEC §1).

Forward hooks on named submodules (:mod:`layerflow.hooks`, shared with the Jacobian diagnostics
and the transport penalty) record each layer's output for every batch; the model runs in eval
mode under ``torch.no_grad()``; its mode is restored and its weights are never changed; the hooks
are removed even when the forward pass raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from layerflow.errors import LayerflowError
from layerflow.hooks import named_submodules, record_layers
from layerflow.trajectory import Trajectory

__all__ = ["CaptureError", "capture"]


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


def _as_input(X: Any, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
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
    return t.to(device=device, dtype=dtype)


def capture(
    model: nn.Module,
    X: Any,
    layers: Sequence[str] | None = None,
    batch_size: int = 1024,
    labels: Any = None,
    metadata: Mapping[str, str | int | float | bool | None] | None = None,
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
        ``(N, d_0)``. Floating inputs are cast to the model's dtype.
    layers
        Submodule names as in ``model.named_modules()``. Default: ``model.capture_layers`` for
        layerflow models, else the top-level children. Each must run exactly once per forward pass
        and return a tensor of batch-first shape (or a tuple whose first element is one).
    batch_size
        Rows per forward pass.
    labels
        Optional labels of shape ``(N,)`` stored in the trajectory.
    metadata
        Extra metadata merged into the trajectory's (which records ``model``, the class name).

    Returns
    -------
    Trajectory
        ``layer_names = ["input", *layers]``; state ``l`` has shape ``(N, d_l)``.

    Raises
    ------
    CaptureError
        Unknown or repeated layer names (the message lists the available ones), layers that return
        non-tensors, that do not run once per pass or whose output is not batch-first.
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
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise CaptureError(f"layers must be distinct; repeated: {dup}")
    named_submodules(model, names, CaptureError)  # unknown names: the message lists the others
    if "input" in names:
        raise CaptureError("a layer named 'input' clashes with the input state's name")

    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    x_all = _as_input(X, device, dtype)
    n = int(x_all.shape[0])

    recorded = record_layers(model, names, x_all, batch_size, device="cpu", who="capture",
                             needs="capture needs", error=CaptureError)
    states: list[np.ndarray] = [x_all.detach().cpu().reshape(n, -1).numpy()]
    for name in names:
        states.append(recorded[name][1].reshape(n, -1).numpy())
    meta: dict[str, str | int | float | bool | None] = {"model": type(model).__name__}
    meta.update(dict(metadata or {}))
    return Trajectory(states, labels=labels, layer_names=["input", *names], metadata=meta)
