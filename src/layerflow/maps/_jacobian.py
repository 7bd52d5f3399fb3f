"""Jacobian diagnostics: is each layer a local orientation-preserving diffeomorphism? (Dong 2017)

Dong et al. 2017 ("How deep learning works — the geometry of deep learning") view a network as a
curve of maps; residual networks with small steps act as diffeomorphisms, plain networks need
not. For every equal-width layer ``x^(l) = f_l(x^(l−1))`` and every sample, this module computes
the Jacobian ``J = ∂f_l/∂x`` (batched with ``torch.func.vmap(jacrev)``, no Python loop over samples),
``log|det J|`` (volume change), whether ``det J > 0`` (orientation kept) and the condition number
``σ_max(J)/σ_min(J)``.

Before the work, :mod:`layerflow.maps._calibrate` estimates the time and memory of each layer
(``method="auto"`` picks the exact path where the budget allows and the matrix-free estimates
of :mod:`layerflow.maps._matfree` elsewhere; a call that cannot fit is refused with the estimate).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError
from layerflow._hooks import (
    POST_ADD_RULES,
    PreActivation,
    model_input,
    named_submodules,
    post_add_layers,
    record_layers,
)
from layerflow.maps._budget import DEFAULT_MAX_SECONDS, METHODS, JacobianCost
from layerflow.maps._calibrate import estimate_cost
from layerflow.maps._matfree import MatfreeOptions, matfree_layer
from layerflow.maps._options import DEFAULT_COND_MAX as DEFAULT_COND_MAX

_HEAD_SAMPLES = 16


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
        False when the widths differ (no square Jacobian) or the layer takes token ids;
        ``reason`` then says so and the arrays are empty. For a matrix-free layer ``reason``
        joins its ``verdict_reasons`` (empty when every verdict is known).
    logabsdet
        Shape ``(N,)``: ``log|det J|`` (``-inf`` where singular; matrix-free: the SLQ estimate,
        finite, very negative where J is singular to rounding).
    orientation_preserved
        Shape ``(N,)`` bool: ``det J > 0`` (False where ``orientation_known`` is False).
    condition
        Shape ``(N,)``: ``σ_max/σ_min`` (``inf`` where ``σ_min = 0``; matrix-free: the Lanczos
        estimate, a lower bound of the true value up to rounding).
    diffeomorphic
        Shape ``(N,)`` bool: ``det J > 0`` and ``condition < cond_max``.
    fraction_diffeomorphic, fraction_orientation_preserved
        Means of the two masks (NaN when not applicable, or when an orientation is unknown).
    method
        ``"exact"`` (J formed, ``slogdet`` and ``svdvals``) or ``"matfree"`` (Lanczos on JᵀJ
        from JVP/VJP products, :mod:`layerflow.maps._matfree`); ``""`` when not applicable.
    logabsdet_se
        Shape ``(N,)``: standard error of ``logabsdet`` across SLQ probes (0 for exact).
    condition_bounds
        Shape ``(N, 2)``: ``[lower, upper]`` of the condition number (both equal to
        ``condition`` for exact; matrix-free: the Ritz lower bound and the residual upper bound,
        ``inf`` while the smallest singular value is unresolved).
    orientation_known
        Shape ``(N,)`` bool: True for exact; False for matrix-free (``sign det J`` is not a
        function of JᵀJ and is not estimated).
    invertible, fraction_invertible
        Shape ``(N,)`` bool: the layer is shown invertible at the sample (a local
        diffeomorphism, orientation aside). Exact: ``condition < cond_max``. Matrix-free: only
        when the extreme Ritz values converged and the *upper* bound of the condition number is finite
        and below ``cond_max`` (the estimate itself is a lower bound and proves nothing).
        ``fraction_invertible`` is its mean, NaN while any sample's verdict is unknown.
    invertible_known
        Shape ``(N,)`` bool: whether the verdict is known. Matrix-free: known invertible as
        above, or known not invertible when the *lower* bound reaches ``cond_max``; otherwise
        unknown (``verdict_reasons`` says why). Always True for exact.
    verdict_reasons
        One line per distinct reason a matrix-free verdict is unknown, with how many samples it
        concerns (empty when every verdict is known).
    converged
        Shape ``(N,)`` bool: True for exact; matrix-free: every probe met its stopping rule
        before ``max_steps``.
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
    method: str = "exact"
    logabsdet_se: np.ndarray = field(default_factory=lambda: np.empty(0))
    condition_bounds: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    orientation_known: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    invertible: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    fraction_invertible: float = math.nan
    converged: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    invertible_known: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    verdict_reasons: tuple[str, ...] = ()


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
        diffeomorphism (then so is their composition); NaN if no layer is applicable or an
        orientation is unknown (a matrix-free layer).
    n_applicable
        Number of equal-width layers.
    cond_max
        The condition-number threshold used.
    estimate
        The time/memory estimate made before the work and the method chosen per layer
        (:class:`layerflow.maps._budget.JacobianCost`).
    """

    layers: tuple[LayerJacobian, ...]
    fraction_all: float
    n_applicable: int
    cond_max: float
    estimate: JacobianCost | None = None

    def __getitem__(self, name: str) -> LayerJacobian:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer {name!r}; layers: {[lay.name for lay in self.layers]}")


def _resolve_layers(model: nn.Module, layers: Sequence[str] | None) -> list[str]:
    if isinstance(layers, str):
        raise ConfigError(f"layers={layers!r}: expected a list of layer names, not a string")
    if layers is None:
        default = getattr(model, "capture_layers", None)
        names = [str(n) for n in default] if default is not None else [
            n for n, _ in model.named_children()
        ]
    else:
        names = [str(n) for n in layers]
    if not names:
        raise ConfigError(f"{type(model).__name__}: no layers to diagnose; pass layers=[…]")
    named_submodules(model, names, ConfigError)  # repeated or unknown names
    return names


def _layer_io(
    model: nn.Module, names: list[str], x: torch.Tensor, batch_size: int, post_add: str
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each layer's (first positional) input and output for all rows of ``x``, via hooks (a
    block with an activation after its residual add: the sum before it, by ``post_add``)."""
    io = record_layers(model, names, x, batch_size, inputs=True, who="Jacobian diagnostics",
                       needs="Jacobian diagnostics need", error=ConfigError, post_add=post_add)
    return {n: (cast(torch.Tensor, a), b) for n, (a, b) in io.items()}


def _not_applicable(name: str, index: int, d_in: int, d_out: int, reason: str) -> LayerJacobian:
    """The entry of a layer the diagnostics do not apply to, saying why."""
    empty = np.empty(0)
    return LayerJacobian(name, index, d_in, d_out, False, reason, empty, empty.astype(bool), empty,
                         empty.astype(bool), math.nan, math.nan, method="")


def _jacobians(module: nn.Module, inp: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Per-sample Jacobians of ``module`` at the rows of ``inp``: shape ``(N, d_out, d_in)``."""
    from torch.func import jacrev, vmap

    shape = tuple(inp.shape[1:])

    def f(v: torch.Tensor) -> torch.Tensor:
        out = module(v.reshape(1, *shape))
        out = out[0] if isinstance(out, tuple | list) else out
        return cast(torch.Tensor, out.reshape(-1))

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
    method: str = "auto",
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_bytes: int | None = None,
    matfree: MatfreeOptions | None = None,
    post_add: str = "pre_activation",
) -> JacobianDiagnostics:
    """Per-sample Jacobian diagnostics of each equal-width layer (Dong et al. 2017).

    For layer ``f_l`` (input state -> output state of the named submodule) and each sample,
    with ``J = ∂f_l/∂x`` at the sample's input to that layer:

    .. math::  \\log\\lvert\\det J\\rvert, \\qquad \\operatorname{sign}\\det J, \\qquad
               \\kappa(J) = \\sigma_{\\max}(J)/\\sigma_{\\min}(J),

    and the layer is a *local orientation-preserving diffeomorphism* at the sample when
    ``det J > 0`` and ``κ(J) < cond_max`` (inverse function theorem; see :data:`DEFAULT_COND_MAX`).
    Layers whose input and output widths differ are reported as not applicable, never dropped;
    so are layers that take token ids (an embedding): a model that reads token ids is
    differentiated from its embedding's output on, the input each later layer receives.

    A residual block that applies an activation after its add (torchvision's ``BasicBlock``:
    ``relu(x + F(x))``) is a map ``x -> x + F(x)`` by default (``post_add``): its Jacobian is
    ``I + ∂F/∂x``, not ``diag(relu')·(I + ∂F/∂x)``, which is singular wherever a unit is clipped.

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
        Samples per vmapped Jacobian batch (memory ~ ``batch_size · d²``); lowered, never
        raised, to fit ``max_bytes`` (the numbers depend on it only by rounding, ~1e-16).
    method
        ``"exact"`` (form J: ``vmap(jacrev)``, ``slogdet``, ``svdvals``), ``"matfree"``
        (:mod:`layerflow.maps._matfree`: SLQ for ``log|det J|`` with a standard error, Lanczos
        bounds for the condition number, orientation unknown), or ``"auto"`` (default): exact
        where the estimated time fits ``max_seconds``, matrix-free for the costliest layers
        otherwise. Each layer's ``method`` field says which produced its numbers.
    max_seconds, max_bytes
        Budgets (:mod:`layerflow.maps._budget`): default :data:`DEFAULT_MAX_SECONDS` and half the
        available memory. Time and memory are estimated from the widths, N and a short
        calibration before any Jacobian is computed; a call that does not fit raises
        :class:`~layerflow._errors.BudgetError` naming the estimate, the budget and
        the number of samples that fits. ``max_seconds=math.inf`` switches the time check off.
    matfree
        :class:`~layerflow.maps._matfree.MatfreeOptions` (probes, Lanczos steps, tolerances,
        seed); default ``MatfreeOptions()``.
    post_add
        The rule for blocks with an activation after their residual add
        (:data:`layerflow._hooks.POST_ADD_RULES`): ``"pre_activation"`` (default) differentiates
        the map to the sum before that activation, ``"output"`` the block's output (activation
        included), ``"refuse"`` raises.

    References
    ----------
    Dong et al. 2017, *How deep learning works — the geometry of deep learning* (the
    diagnostics); Ubaru, Chen & Saad 2017, SIAM J. Matrix Anal. Appl. 38(4) (stochastic Lanczos
    quadrature for ``log|det J|``); Lanczos 1950 / Golub & Kahan 1965 (Lanczos on JᵀJ, the
    bidiagonalisation of J, for the extreme singular values); Hutchinson 1990 (trace probes).
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    if not (isinstance(cond_max, int | float) and cond_max > 1):
        raise ConfigError(f"cond_max={cond_max!r}: expected a number > 1")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r}: expected an int >= 1")
    if method not in METHODS:
        raise ConfigError(f"method={method!r}: expected one of {list(METHODS)}")
    if isinstance(max_seconds, bool) or not (isinstance(max_seconds, int | float)
                                             and max_seconds > 0):
        raise ConfigError(f"max_seconds={max_seconds!r}: expected a number of seconds > 0")
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
                                  or max_bytes < 1):
        raise ConfigError(f"max_bytes={max_bytes!r}: expected an int >= 1 (bytes) or None")
    if matfree is not None and not isinstance(matfree, MatfreeOptions):
        raise ConfigError(f"matfree is a {type(matfree).__name__}; expected MatfreeOptions")
    if post_add not in POST_ADD_RULES:
        raise ConfigError(f"post_add={post_add!r}: expected one of {list(POST_ADD_RULES)}")
    options = matfree if matfree is not None else MatfreeOptions()
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
        raise ConfigError(f"X has shape {tuple(x.shape)}; expected (N, …) with N >= 1 samples")
    finite = torch.isfinite(x.reshape(x.shape[0], -1)).all(dim=1)
    if not finite.all():
        rows = torch.nonzero(~finite).reshape(-1).tolist()
        raise ConfigError(
            f"X has NaN or infinite values in {len(rows)} of {x.shape[0]} rows (first: row "
            f"{rows[0]}); Jacobians need finite inputs"
        )
    x = model_input(work, x, device, run_dtype)  # token ids stay ids (int64), exactly
    n = int(x.shape[0])
    # the estimate needs the layers' inputs for a few samples only: a call that does not fit is
    # refused before the model runs on all of them
    head = min(n, _HEAD_SAMPLES)
    io = _layer_io(work, names, x[:head], max(batch_size, 1024), post_add)
    modules = dict(work.named_modules())
    pre = _pre_activation_layers(work, names, post_add)
    for name in pre:  # the map differentiated: input -> the sum before the activation
        modules[name] = PreActivation(modules[name])
    square = [(name, modules[name], inp) for name, (inp, out) in io.items()
              if inp[0].numel() == out[0].numel() and inp.is_floating_point()]
    estimate = estimate_cost(square, n, method, options=options, batch_size=batch_size,
                             max_seconds=max_seconds, max_bytes=max_bytes)
    if n > head:
        rest = _layer_io(work, names, x[head:], max(batch_size, 1024), post_add)
        io = {name: (torch.cat([io[name][0], rest[name][0]]),
                     torch.cat([io[name][1], rest[name][1]])) for name in names}
    results = []
    all_ok = np.ones(n, dtype=bool)
    n_app = 0
    unknown = False
    for index, name in enumerate(names):
        inp, out = io[name]
        d_in = int(np.prod(inp.shape[1:]))
        d_out = int(np.prod(out.shape[1:]))
        if not inp.is_floating_point():
            results.append(_not_applicable(
                name, index, d_in, d_out,
                f"takes token ids ({inp.dtype}), which have no derivative: the layers after "
                "the embedding are differentiated from its output"))
            continue
        if d_in != d_out:
            results.append(_not_applicable(
                name, index, d_in, d_out,
                f"input width {d_in} != output width {d_out}: no square Jacobian, so no "
                "determinant or diffeomorphism test"))
            continue
        n_app += 1
        if estimate.method_of(name) == "matfree":
            results.append(_matfree_result(name, index, d_in, modules[name], inp, options,
                                           estimate.batch_of(name), cond_max))
            unknown = True
            continue
        b = estimate.batch_of(name)
        parts = []
        for start in range(0, n, b):
            J = _jacobians(modules[name], inp[start : start + b], b).detach()
            sign, logabs = torch.linalg.slogdet(J)
            sv = torch.linalg.svdvals(J)
            del J
            smax, smin = sv[:, 0], sv[:, -1]
            cond = torch.where(smin > 0, smax / torch.where(smin > 0, smin, 1.0),
                               torch.full_like(smax, math.inf))
            parts.append((sign, logabs, cond))
        sign_np = torch.cat([p[0] for p in parts]).cpu().numpy()
        logabs_np = torch.cat([p[1] for p in parts]).cpu().numpy().astype(np.float64)
        cond_np = torch.cat([p[2] for p in parts]).cpu().numpy().astype(np.float64)
        orient = sign_np > 0
        invertible = cond_np < cond_max
        diffeo = orient & invertible
        all_ok &= diffeo
        results.append(LayerJacobian(
            name, index, d_in, d_out, True, "", logabs_np, orient, cond_np, diffeo,
            float(diffeo.mean()), float(orient.mean()),
            method="exact", logabsdet_se=np.zeros(n),
            condition_bounds=np.stack([cond_np, cond_np], axis=1),
            orientation_known=np.ones(n, dtype=bool), invertible=invertible,
            fraction_invertible=float(invertible.mean()), converged=np.ones(n, dtype=bool),
            invertible_known=np.ones(n, dtype=bool),
        ))
    return JacobianDiagnostics(
        layers=tuple(results),
        fraction_all=float(all_ok.mean()) if n_app and not unknown else math.nan,
        n_applicable=n_app,
        cond_max=float(cond_max),
        estimate=estimate,
    )


def _matfree_result(name: str, index: int, d: int, module: nn.Module, inp: torch.Tensor,
                    options: MatfreeOptions, batch: int, cond_max: float) -> LayerJacobian:
    """A :class:`LayerJacobian` from the matrix-free estimates (orientation unknown)."""
    est = matfree_layer(module, inp, options, batch)
    n = est.logabsdet.shape[0]
    invertible, known, reasons = matfree_verdicts(est.condition_bounds, est.extremes_converged,
                                                  cond_max, options.max_steps)
    unknown = np.zeros(n, dtype=bool)
    return LayerJacobian(
        name, index, d, d, True, "; ".join(reasons), est.logabsdet, unknown, est.condition,
        unknown, math.nan, math.nan,
        method="matfree", logabsdet_se=est.logabsdet_se,
        condition_bounds=est.condition_bounds, orientation_known=unknown,
        invertible=invertible,
        fraction_invertible=float(invertible.mean()) if known.all() else math.nan,
        converged=est.converged, invertible_known=known, verdict_reasons=reasons,
    )


def matfree_verdicts(bounds: np.ndarray, converged: np.ndarray, cond_max: float,
                     max_steps: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Invertibility verdicts from matrix-free condition-number bounds that never overclaim.

    ``bounds`` has shape ``(N, 2)`` (``[lower, upper]`` of κ), ``converged`` shape ``(N,)``
    (the extreme Ritz values converged: ``MatfreeLayer.extremes_converged``).
    A sample is *invertible* only when its iteration converged and the upper bound is finite
    and below ``cond_max``; *not invertible* when the lower bound (rigorous: Ritz values lie
    inside the spectrum) reaches ``cond_max``; otherwise *unknown*. Returns ``(invertible,
    known, reasons)``: two ``(N,)`` bool arrays and one line per reason a verdict is unknown,
    with its count.
    """
    lower, upper = bounds[:, 0], bounds[:, 1]
    conv = np.asarray(converged, dtype=bool)
    invertible = conv & np.isfinite(upper) & (upper < cond_max)
    refuted = lower >= cond_max
    known = invertible | refuted
    n = len(conv)
    reasons = []
    cases = (
        (~known & ~conv, "the extreme Ritz values did not converge within "
         f"max_steps={max_steps}"),
        (~known & conv & ~np.isfinite(upper),
         "the smallest singular value is unresolved (upper bound of the condition number ∞)"),
        (~known & conv & np.isfinite(upper),
         f"the condition-number bounds straddle cond_max={cond_max:g}"),
    )
    for mask, why in cases:
        count = int(mask.sum())
        if count:
            reasons.append(f"invertibility unknown for {count} of {n} samples: {why}")
    return invertible, known, tuple(reasons)


def _pre_activation_layers(model: nn.Module, names: list[str], rule: str) -> list[str]:
    return [] if rule == "output" else list(post_add_layers(model, names))
