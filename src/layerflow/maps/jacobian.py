"""Jacobian diagnostics: is each layer a local orientation-preserving diffeomorphism? (Dong 2017)

Dong et al. 2017 ("Towards understanding the geometry of deep learning") view a network as a curve
of maps; residual networks with small steps act as diffeomorphisms, plain networks need not. For
every equal-width layer ``x^(l) = f_l(x^(l−1))`` and every sample, this module computes the
Jacobian ``J = ∂f_l/∂x`` (batched with ``torch.func.vmap(jacrev)``, no Python loop over samples),
``log|det J|`` (volume change), whether ``det J > 0`` (orientation kept) and the condition number
``σ_max(J)/σ_min(J)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from layerflow._display import ResultDisplay
from layerflow.errors import LayerflowError
from layerflow.hooks import record_layers

__all__ = ["DEFAULT_COND_MAX", "JacobianDiagnostics", "LayerJacobian", "MapsError",
           "jacobian_diagnostics"]

DEFAULT_COND_MAX = 1e8
"""Condition numbers at or above this count as "not invertible". Float32 networks resolve about
7 digits (eps ≈ 1.2e-7), so a Jacobian with ``cond >= 1e8`` is singular at the precision the
network itself computes in."""


class MapsError(LayerflowError):
    """Jacobian diagnostics were asked for something the model cannot give."""


@dataclass(frozen=True)
class LayerJacobian(ResultDisplay, headline=("name", "index", "in_width", "out_width", "applicable",
                                           "fraction_diffeomorphic",
                                           "fraction_orientation_preserved", "reason"),
                    rows=("logabsdet", "orientation_preserved", "condition", "diffeomorphic"),
                    index="sample"):
    """Diagnostics of one captured layer ``f_l``.

    Attributes
    ----------
    name
        Submodule name (as in ``model.named_modules()``).
    index
        Position in ``layers`` (0-based); the layer maps state ``index`` to ``index + 1`` of the
        matching trajectory.
    in_width, out_width
        Flattened input and output widths.
    applicable
        False when the widths differ (no square Jacobian); ``reason`` then says so and the arrays
        are empty.
    logabsdet
        Shape ``(N,)``: ``log|det J|`` (``-inf`` where singular).
    orientation_preserved
        Shape ``(N,)`` bool: ``det J > 0``.
    condition
        Shape ``(N,)``: ``σ_max/σ_min`` (``inf`` where ``σ_min = 0``).
    diffeomorphic
        Shape ``(N,)`` bool: ``det J > 0`` and ``condition < cond_max``.
    fraction_diffeomorphic, fraction_orientation_preserved
        Means of the two masks (NaN when not applicable).
    """

    name: str
    index: int
    in_width: int
    out_width: int
    applicable: bool
    reason: str
    logabsdet: np.ndarray
    orientation_preserved: np.ndarray
    condition: np.ndarray
    diffeomorphic: np.ndarray
    fraction_diffeomorphic: float
    fraction_orientation_preserved: float


@dataclass(frozen=True)
class JacobianDiagnostics(ResultDisplay, headline=("fraction_all", "n_applicable", "cond_max"),
                          records="layers"):
    """Per-layer diagnostics and an overall summary.

    Attributes
    ----------
    layers
        One :class:`LayerJacobian` per requested layer, in order (not-applicable ones included).
    fraction_all
        Fraction of samples at which *every* applicable layer is a local orientation-preserving
        diffeomorphism (then so is their composition); NaN if no layer is applicable.
    n_applicable
        Number of equal-width layers.
    cond_max
        The condition-number threshold used.
    """

    layers: tuple[LayerJacobian, ...]
    fraction_all: float
    n_applicable: int
    cond_max: float

    def __getitem__(self, name: str) -> LayerJacobian:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r}; layers: {[lay.name for lay in self.layers]}")


def _resolve_layers(model: nn.Module, layers: Sequence[str] | None) -> list[str]:
    if isinstance(layers, str):
        raise MapsError(f"layers={layers!r}: expected a list of layer names, not a string")
    if layers is None:
        default = getattr(model, "capture_layers", None)
        names = [str(n) for n in default] if default is not None else [
            n for n, _ in model.named_children()
        ]
    else:
        names = [str(n) for n in layers]
    if not names:
        raise MapsError(f"{type(model).__name__}: no layers to diagnose; pass layers=[…]")
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or n == ""]
    if unknown:
        raise MapsError(
            f"unknown layers {unknown} in {type(model).__name__}; available: "
            f"{[n for n in modules if n]}"
        )
    return names


def _layer_io(
    model: nn.Module, names: list[str], x: torch.Tensor, batch_size: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's (first positional) input and output for all rows of ``x``, via hooks."""
    io = record_layers(model, names, x, batch_size, inputs=True, who="Jacobian diagnostics",
                       needs="Jacobian diagnostics need", error=MapsError)
    return {n: (cast(torch.Tensor, a), b) for n, (a, b) in io.items()}


def _jacobians(module: nn.Module, inp: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Per-sample Jacobians of ``module`` at the rows of ``inp``: shape ``(N, d_out, d_in)``."""
    from torch.func import jacrev, vmap

    shape = tuple(inp.shape[1:])

    def f(v: torch.Tensor) -> torch.Tensor:
        out = module(v.reshape(1, *shape))
        out = out[0] if isinstance(out, tuple | list) else out
        return out.reshape(-1)

    flat = inp.reshape(inp.shape[0], -1)
    batched = vmap(jacrev(f))
    return torch.cat([batched(flat[s : s + batch_size]) for s in range(0, flat.shape[0], batch_size)])


def jacobian_diagnostics(
    model: nn.Module,
    X: Any,
    layers: Sequence[str] | None = None,
    *,
    cond_max: float = DEFAULT_COND_MAX,
    dtype: torch.dtype | None = torch.float64,
    batch_size: int = 256,
) -> JacobianDiagnostics:
    """Per-sample Jacobian diagnostics of each equal-width layer (Dong et al. 2017).

    For layer ``f_l`` (input state -> output state of the named submodule) and each sample,
    with ``J = ∂f_l/∂x`` at the sample's input to that layer:

    .. math::  \\log\\lvert\\det J\\rvert, \\qquad \\operatorname{sign}\\det J, \\qquad
               \\kappa(J) = \\sigma_{\\max}(J)/\\sigma_{\\min}(J),

    and the layer is a *local orientation-preserving diffeomorphism* at the sample when
    ``det J > 0`` and ``κ(J) < cond_max`` (inverse function theorem; see :data:`DEFAULT_COND_MAX`).
    Layers whose input and output widths differ are reported as not applicable, never dropped.

    Parameters
    ----------
    model
        Any ``nn.Module``; run in eval mode on a copy (cast to ``dtype``), so the model's weights,
        dtype and mode are untouched. Layers must not mix samples (no batch-statistics in eval).
    X
        Inputs of shape ``(N, …)`` (NumPy or torch).
    layers
        Submodule names; default ``model.capture_layers`` or the top-level children.
    cond_max
        Condition-number threshold (> 1).
    dtype
        Precision of the computation (default float64); ``None`` keeps the model's dtype.
    batch_size
        Samples per vmapped Jacobian batch (memory ~ ``batch_size · d²``).
    """
    if not isinstance(model, nn.Module):
        raise MapsError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    if not (isinstance(cond_max, int | float) and cond_max > 1):
        raise MapsError(f"cond_max={cond_max!r}: expected a number > 1")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise MapsError(f"batch_size={batch_size!r}: expected an int >= 1")
    names = _resolve_layers(model, layers)
    work = copy.deepcopy(model)
    if dtype is not None:
        work = work.to(dtype)
    work.eval()
    work.requires_grad_(False)
    param = next(iter(work.parameters()), None)
    run_dtype = dtype or (param.dtype if param is not None else torch.float32)
    device = param.device if param is not None else torch.device("cpu")
    x = X.detach() if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
    if x.ndim < 2 or x.shape[0] == 0:
        raise MapsError(f"X has shape {tuple(x.shape)}; expected (N, …) with N >= 1 samples")
    finite = torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
    if not finite.all():
        rows = torch.nonzero(~finite).reshape(-1).tolist()
        raise MapsError(
            f"X has NaN or infinite values in {len(rows)} of {x.shape[0]} rows (first: row "
            f"{rows[0]}); Jacobians need finite inputs"
        )
    x = x.to(device=device, dtype=run_dtype)
    io = _layer_io(work, names, x, max(batch_size, 1024))
    modules = dict(work.named_modules())
    n = int(x.shape[0])
    results = []
    all_ok = np.ones(n, dtype=bool)
    n_app = 0
    for index, name in enumerate(names):
        inp, out = io[name]
        d_in = int(np.prod(inp.shape[1:]))
        d_out = int(np.prod(out.shape[1:]))
        if d_in != d_out:
            empty = np.empty(0)
            results.append(LayerJacobian(
                name, index, d_in, d_out, False,
                f"input width {d_in} != output width {d_out}: no square Jacobian, so no "
                "determinant or diffeomorphism test",
                empty, empty.astype(bool), empty, empty.astype(bool), math.nan, math.nan,
            ))
            continue
        n_app += 1
        J = _jacobians(modules[name], inp, batch_size).detach()
        sign, logabs = torch.linalg.slogdet(J)
        sv = torch.linalg.svdvals(J)
        smax, smin = sv[:, 0], sv[:, -1]
        cond = torch.where(smin > 0, smax / torch.where(smin > 0, smin, 1.0),
                           torch.full_like(smax, math.inf))
        sign_np = sign.cpu().numpy()
        logabs_np = logabs.cpu().numpy().astype(np.float64)
        cond_np = cond.cpu().numpy().astype(np.float64)
        orient = sign_np > 0
        diffeo = orient & (cond_np < cond_max)
        all_ok &= diffeo
        results.append(LayerJacobian(
            name, index, d_in, d_out, True, "", logabs_np, orient, cond_np, diffeo,
            float(diffeo.mean()), float(orient.mean()),
        ))
    return JacobianDiagnostics(
        layers=tuple(results),
        fraction_all=float(all_ok.mean()) if n_app else math.nan,
        n_applicable=n_app,
        cond_max=float(cond_max),
    )
