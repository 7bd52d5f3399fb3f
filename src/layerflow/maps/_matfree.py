"""Matrix-free Jacobian diagnostics: log|det J| and the condition number from J·v and Jᵀ·u only.

For a square layer ``f: R^d → R^d`` at a sample x, ``J = ∂f/∂x`` is never formed. Each product
``A v = Jᵀ(J v)`` costs two reverse-mode products on a linearisation of the layer kept across the
Lanczos steps (:class:`NormalOperator`: ``Jᵀu`` by ``torch.func.vjp``, ``J v`` by the VJP of the
VJP), batched over samples and probes; a layer that does not map rows independently (checked
on the first rows) runs each row alone instead (``vmap`` of ``torch.func.jvp`` and ``vjp``).
Lanczos on ``A = JᵀJ`` (:mod:`layerflow.maps._lanczos`) then gives:

* ``log|det J| = ½ log det(JᵀJ) = ½ tr log(JᵀJ)`` by **stochastic Lanczos quadrature**
  (Ubaru, Chen & Saad 2017, SIAM J. Matrix Anal. Appl. 38(4)): with P Rademacher probes
  ``z_p ∈ {±1}^d`` (Hutchinson 1990, ``E[zᵀMz] = tr M``) and the Gauss rule of each probe's
  Lanczos run,

  .. math::  \\widehat{\\log|\\det J|} = \\frac{1}{2P}\\sum_{p=1}^{P} Q_p,\\qquad
             Q_p = d \\sum_i S_{1,i}^{(p)\\,2} \\log\\theta_i^{(p)},

  reported with its standard error across probes ``std_p(Q_p) / (2√P)``. Each probe runs until
  its quadrature changes by less than ``quad_tol`` standard errors between checks (the Gauss
  rule for ``log`` overestimates and decreases with the steps, since ``log⁽²ᵏ⁾ < 0``), so the
  quadrature bias stays a small fraction of the stated error.
* **singular values and the condition number**: every probe's Ritz values lie inside the
  spectrum of JᵀJ, so the largest Ritz value over the probes is a lower bound of ``σ_max²`` and
  the smallest an upper bound of ``σ_min²``; ``κ̂ = √(θ_max/θ_min) ≤ κ(J)`` always. The residual
  bound ``|λ − θ| ≤ r`` gives the other ends: ``σ_max² ≤ θ_max + r_max`` and
  ``σ_min² ≥ θ_min − r_min``, valid once the extreme Ritz values have converged to the extreme
  eigenvalues (``extreme_probes`` probes keep running until ``r ≤ ritz_tol·θ`` at both ends or
  ``max_steps``); an unconverged bottom gives an upper bound of ``∞``.
* Lanczos on ``JᵀJ`` is, in exact arithmetic, the Golub–Kahan bidiagonalisation of J (Golub &
  Kahan 1965): the Ritz values are the squares of the bidiagonal's singular values. Working on
  ``JᵀJ`` squares the condition number, so in float64 a ``κ(J)`` up to about 1e8 is resolved
  (:data:`layerflow.maps.DEFAULT_COND_MAX`, the "not invertible" threshold, is that size); the
  rounding level ``√d·eps·θ_max`` widens both ends of every interval.
* **orientation is not available** matrix-free: ``sign det J`` is not a spectral function of
  JᵀJ, and no product-based estimator of it is used here, so orientation is reported unknown.

Each number says its method (``"matfree"``) in :class:`layerflow.maps.LayerJacobian`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow.maps._lanczos import LanczosRun, lanczos, ritz


@dataclass(frozen=True)
class MatfreeOptions:
    """Settings of the matrix-free estimates.

    Attributes
    ----------
    probes
        Rademacher probes per sample (≥ 2, for a standard error). The standard error of
        ``log|det J|`` falls as ``1/√probes``. Default 32, our choice on the conv ResNet
        benchmark (``benchmarks/bench_jacobian.py``; its standard errors and time against the
        exact path are in ``benchmarks/README.md``).
    extreme_probes
        Probes per sample that keep running until the extreme Ritz values converge (the others
        stop once their quadrature has). Default 2 (our choice: two independent Krylov spaces).
    max_steps
        Lanczos steps per probe at most (capped at the width d, where Lanczos is exact).
        Default 80 (our choice: the extreme singular values of the benchmark's blocks reach
        ``ritz_tol`` in about 40–80 steps; the quadrature probes stop after 10–15).
    quad_tol
        A probe's quadrature has converged when it changes by at most ``quad_tol`` standard
        errors (of its sample) between two checks. Default 0.05 (our choice).
    ritz_tol
        Extreme Ritz values have converged when their residual is at most ``ritz_tol`` times
        the value (relative error of ``σ²`` at most ``ritz_tol``). Default 1e-3 (our choice).
    check_every
        Steps between convergence checks (each costs a small batched ``eigh``). Default 5.
    seed
        Seed of the probes; sample i uses ``np.random.default_rng([seed, i])``, so a sample's
        estimate does not depend on the batch it ran in.
    """

    probes: int = 32
    extreme_probes: int = 2
    max_steps: int = 80
    quad_tol: float = 0.05
    ritz_tol: float = 1e-3
    check_every: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("probes", 2), ("extreme_probes", 1), ("max_steps", 2),
                          ("check_every", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"MatfreeOptions.{name}={value!r}: expected an int >= {low}")
        if self.extreme_probes > self.probes:
            raise ConfigError(
                f"MatfreeOptions.extreme_probes={self.extreme_probes} exceeds "
                f"probes={self.probes}"
            )
        for name in ("quad_tol", "ritz_tol"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"MatfreeOptions.{name}={value!r}: expected a number > 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"MatfreeOptions.seed={self.seed!r}: expected an int >= 0")


@dataclass(frozen=True)
class MatfreeLayer:
    """Matrix-free estimates for the N samples of one layer (all arrays shape ``(N,)`` or
    ``(N, 2)`` for ``[lower, upper]`` intervals).

    Attributes
    ----------
    logabsdet, logabsdet_se
        SLQ estimate of ``log|det J|`` and its standard error across probes.
    condition, condition_bounds
        ``κ̂ = √(θ_max/θ_min)`` (a lower bound of κ) and ``[√((θ_max−δ)/(θ_min+δ)),
        √((θ_max+r_max+δ)/(θ_min−r_min−δ))]`` with the rounding level ``δ = √d·eps·θ_max``.
    sigma_max_bounds, sigma_min_bounds
        Intervals of the extreme singular values (see the module docstring for which end is
        rigorous).
    converged
        True when every probe of the sample stopped by its rule (not by ``max_steps``).
    extremes_converged
        True when, at the end, the extreme Ritz values of every extreme probe of the sample met
        ``ritz_tol`` at both ends (the condition-number bounds rest on them; the quadrature
        probes need not have stopped).
    products
        Products ``Jᵀ(Jv)`` spent on the sample (summed over its probes).
    """

    logabsdet: np.ndarray
    logabsdet_se: np.ndarray
    condition: np.ndarray
    condition_bounds: np.ndarray
    sigma_max_bounds: np.ndarray
    sigma_min_bounds: np.ndarray
    converged: np.ndarray
    extremes_converged: np.ndarray
    products: np.ndarray


def _call(module: nn.Module, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """``module`` on rows ``x`` (shape ``(r, d)``), output flattened to ``(r, d_out)``."""
    out = module(x.reshape(x.shape[0], *shape))
    out = out[0] if isinstance(out, tuple | list) else out
    return cast(torch.Tensor, out.reshape(x.shape[0], -1))


def rows_independent(module: nn.Module, shape: tuple[int, ...], flat: torch.Tensor) -> bool:
    """Whether ``module`` maps a batch row by row: two rows together give what each gives alone.

    (A forward-level check on the first two rows, or a duplicated row when there is one: it
    catches layers that pool over the batch, such as batch statistics or cross-sample
    attention.)
    """
    x = flat[:2] if flat.shape[0] >= 2 else flat[[0, 0]]
    with torch.no_grad():
        together = _call(module, x, shape)
        alone = torch.cat([_call(module, x[i : i + 1], shape) for i in range(2)])
    scale = float(alone.abs().max()) if alone.numel() else 0.0
    return bool(torch.allclose(together, alone, rtol=1e-6, atol=1e-9 * max(scale, 1.0)))


class NormalOperator:
    """``apply(rows, V) = Jᵀ(J v)`` at the inputs ``X[rows]``, one row per product.

    ``batched=True`` (for layers that map rows independently, :func:`rows_independent`): the
    layer runs once on all the rows and its linearisation is kept across Lanczos steps —
    ``Jᵀu`` by the VJP of that forward pass (``torch.func.vjp``), ``J v`` by the VJP of the VJP
    (``u ↦ Jᵀu`` is linear, and its transpose is J) — and rebuilt only when the set of rows
    changes (when probes retire). ``batched=False``: each row alone through the layer as a batch
    of one, ``torch.func.jvp`` then ``torch.func.vjp``, vectorised with ``vmap`` (a forward pass
    per product; always valid). J is never formed. ``X`` has shape ``(r, d)`` (flattened
    inputs, the layer's input shape ``shape``).
    """

    def __init__(self, module: nn.Module, shape: tuple[int, ...], X: torch.Tensor,
                 batched: bool) -> None:
        from torch.func import jvp, vjp, vmap

        self.module, self.shape, self.X, self.batched = module, shape, X, batched
        self._rows: torch.Tensor | None = None
        self._lin: tuple[Any, Any] | None = None
        if not batched:
            _load_forward_ad()

            def f(v: torch.Tensor) -> torch.Tensor:
                return _call(module, v.reshape(1, -1), shape).reshape(-1)

            def one(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
                return cast(torch.Tensor, vjp(f, x)[1](jvp(f, (x,), (v,))[1])[0])

            self._per_row = vmap(one)

    def linearize(self, rows: torch.Tensor) -> None:
        """Keep the layer's forward pass at ``X[rows]`` for the products that follow."""
        from torch.func import vjp

        x = self.X[rows]
        transpose = vjp(lambda z: _call(self.module, z, self.shape), x)[1]
        forward = vjp(lambda u: transpose(u)[0], torch.zeros_like(x))[1]
        self._rows, self._lin = rows, (forward, transpose)

    def __call__(self, rows: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        V = V.to(self.X.dtype)
        with torch.no_grad():  # torch.func transforms still differentiate w.r.t. their inputs
            if not self.batched:
                return self._per_row(self.X[rows], V)
            if self._rows is None or not torch.equal(rows, self._rows):
                self.linearize(rows)
            assert self._lin is not None
            forward, transpose = self._lin
            return cast(torch.Tensor, transpose(forward(V)[0])[0])


def _load_forward_ad() -> None:
    """Trigger torch's one-off loading of its forward-mode decompositions quietly.

    torch 2.13 builds them with ``torch.jit.script``, which now emits a DeprecationWarning on
    the first forward-mode product of the process: a warning from torch's internals that a
    caller can do nothing about (and that the test suite would turn into an error).
    """
    from torch.func import jvp

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*deprecated",
                                category=DeprecationWarning)
        jvp(torch.sin, (torch.zeros(1),), (torch.ones(1),))


def _probes(seed: int, sample: int, P: int, d: int) -> torch.Tensor:
    signs = np.random.default_rng([seed, sample]).integers(0, 2, size=(P, d))
    return torch.from_numpy(2.0 * signs - 1.0)


def matfree_layer(
    module: nn.Module, inp: torch.Tensor, options: MatfreeOptions, samples_per_batch: int
) -> MatfreeLayer:
    """Matrix-free log|det J| and condition number of ``module`` at each row of ``inp``.

    ``inp`` has shape ``(N, …)`` (the layer's inputs, in the computation dtype); the layer must
    map it to the same number of elements per row (a square J). ``samples_per_batch`` samples
    (times ``options.probes`` rows) run together; memory per row is about
    ``(max_steps + 8) · d`` float64 numbers plus the layer's activations.
    """
    n = int(inp.shape[0])
    shape = tuple(inp.shape[1:])
    flat = inp.reshape(n, -1)
    d = int(flat.shape[1])
    batched = rows_independent(module, shape, flat)
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, n, samples_per_batch):
        stop_at = min(n, start + samples_per_batch)
        parts.append(_batch(module, shape, batched, flat[start:stop_at], start, d, options))
    out = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    for value in out.values():
        value.setflags(write=False)
    return MatfreeLayer(**out)


def _batch(
    module: nn.Module, shape: tuple[int, ...], batched: bool, X: torch.Tensor, first: int,
    d: int, opts: MatfreeOptions,
) -> dict[str, np.ndarray]:
    """Lanczos on the ``len(X) · probes`` rows of one batch of samples; per-sample summaries."""
    c, P, E = int(X.shape[0]), opts.probes, opts.extreme_probes
    dev = X.device
    Z = torch.cat([_probes(opts.seed, first + i, P, d) for i in range(c)]).to(dev)
    sample = torch.arange(c * P, device=dev) // P
    extreme = torch.arange(c * P, device=dev) % P < E
    dtype = X.dtype
    op = NormalOperator(module, shape, X[sample], batched)

    def apply(rows: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        return op(rows, V).to(torch.float64)

    quad = torch.zeros(c * P, dtype=torch.float64, device=dev)
    previous = torch.full((c * P,), math.nan, dtype=torch.float64, device=dev)
    tiny = torch.finfo(torch.float64).tiny

    def stop(rows: torch.Tensor, steps: torch.Tensor, run: LanczosRun) -> torch.Tensor:
        k = int(steps.max())
        theta, w, res = ritz(run.alpha[rows, :k], run.beta[rows, :k], steps)
        q = d * (w * torch.log(theta.clamp_min(tiny))).sum(dim=1)
        change = (q - previous[rows]).abs()
        previous[rows] = q
        quad[rows] = q
        se = quad.reshape(c, P).std(dim=1) / math.sqrt(P)
        quad_ok = change <= torch.clamp(opts.quad_tol * se[sample[rows]], min=1e-12 * d)
        top_ok = res[:, -1] <= opts.ritz_tol * theta[:, -1]
        bottom_ok = res[:, 0] <= opts.ritz_tol * theta[:, 0]
        return quad_ok & (~extreme[rows] | (top_ok & bottom_ok))

    run = lanczos(apply, Z, opts.max_steps, stop=stop, check_every=opts.check_every)
    k = int(run.steps.max())
    theta, w, res = ritz(run.alpha[:, :k], run.beta[:, :k], run.steps)
    Q = (d * (w * torch.log(theta.clamp_min(tiny))).sum(dim=1)).reshape(c, P)
    ends_ok = ((res[:, -1] <= opts.ritz_tol * theta[:, -1])
               & (res[:, 0] <= opts.ritz_tol * theta[:, 0])) | ~extreme
    top, r_top = theta[:, -1].reshape(c, P), res[:, -1].reshape(c, P)
    bot, r_bot = theta[:, 0].reshape(c, P), res[:, 0].reshape(c, P)
    i_top = top.argmax(dim=1, keepdim=True)
    i_bot = bot.argmin(dim=1, keepdim=True)
    lam_max = top.gather(1, i_top)[:, 0]
    lam_min = bot.gather(1, i_bot)[:, 0].clamp_min(0.0)
    # Lanczos in floating point is exact for a matrix within ~√d·eps·‖A‖ of A (products in the
    # computation dtype): widen both ends by that rounding level
    delta = math.sqrt(d) * torch.finfo(dtype).eps * lam_max
    bounds_max = torch.stack([lam_max - delta, lam_max + r_top.gather(1, i_top)[:, 0] + delta], 1)
    bounds_min = torch.stack([lam_min - r_bot.gather(1, i_bot)[:, 0] - delta, lam_min + delta], 1)
    bounds_max, bounds_min = bounds_max.clamp_min(0.0), bounds_min.clamp_min(0.0)
    cond = _ratio(lam_max, lam_min)
    cond_bounds = torch.stack([_ratio(bounds_max[:, 0], bounds_min[:, 1]),
                               _ratio(bounds_max[:, 1], bounds_min[:, 0])], dim=1)
    return {
        "logabsdet": (Q.mean(dim=1) / 2).cpu().numpy(),
        "logabsdet_se": (Q.std(dim=1) / (2 * math.sqrt(P))).cpu().numpy(),
        "condition": cond.cpu().numpy(),
        "condition_bounds": cond_bounds.cpu().numpy(),
        "sigma_max_bounds": bounds_max.sqrt().cpu().numpy(),
        "sigma_min_bounds": bounds_min.sqrt().cpu().numpy(),
        "converged": run.stopped.reshape(c, P).all(dim=1).cpu().numpy(),
        "extremes_converged": ends_ok.reshape(c, P).all(dim=1).cpu().numpy(),
        "products": run.steps.reshape(c, P).sum(dim=1).cpu().numpy(),
    }


def _ratio(top: torch.Tensor, bottom: torch.Tensor) -> torch.Tensor:
    """``√(top/bottom)``, ``inf`` where ``bottom`` is 0."""
    positive = bottom > 0
    return torch.where(positive, torch.sqrt(top / torch.where(positive, bottom, 1.0)), math.inf)
