"""Calibration: the time and memory of each method, measured on the layer before the work.

Cost model (per applicable layer of width d, N samples, computation dtype of ``s`` bytes):

* **exact** path (per-sample ``J`` by ``vmap(jacrev)``, then ``slogdet`` and ``svdvals``):

  .. math::  T_{exact} = N\\,(d\\,t_{row} + t_{LA}(d)), \\qquad
             M_{exact}(b) = s\\,b\\,(3d^2 + d\\,a) + s\\,d^2,

  ``t_row``: one reverse-mode product (a row of J), timed on whole Jacobians of
  ``⌊2048/d⌋`` samples when d ≤ 512, else on 512 rows of one sample's Jacobian;
  ``t_LA(d)``: ``slogdet`` + ``svdvals`` of a d×d matrix, timed on a batch of
  ``n_0 = min(d, 512)``-square matrices and scaled by ``(d/n_0)³`` (both are ``O(d³)``: LU
  ``2d³/3`` flops, the bidiagonal SVD ``8d³/3``);
  ``b`` samples per batch hold J, the LU copy and the SVD copy (``3d²`` each) and the backward
  pass's per-row intermediates (``d·a``, ``a`` = numbers the layer saves for backward per
  sample, counted with ``saved_tensors_hooks``); the ``d²`` is the identity of the cotangents.
  Memory does not grow with N: the batch is lowered to fit the memory budget (the numbers change
  only by rounding: batched BLAS), and only a single sample that does not fit is refused.
* **matrix-free** path (:mod:`layerflow.maps._matfree`), with P probes of which E keep going to
  ``K = max_steps``:

  .. math::  T_{mf} \\approx \\frac{N}{b}\\Big(q\\,t_{step}(Pb) + (K - q)\\,t_{step}(Eb)
             + c\\,\\big(Pb\\,\\tfrac{q^2}{2} + Eb\\,\\tfrac{K^2 - q^2}{2}\\big)\\Big)
             \\;\\le\\; \\frac{N}{b}\\big(K\\,t_{step}(Pb) + c\\,Pb\\,\\tfrac{K^2}{2}\\big),
             \\qquad M_{mf}(b) = 8\\,b\\,P\\,((K + 8) d) + 3 s\\,b\\,P\\,a,

  where a batch of b samples (``b = 256/P`` unless memory says less) runs Pb rows: all of them
  for the first q steps, then only the Eb rows of the extreme probes up to K steps.
  ``t_step(r)``: one batched step of r products ``Jᵀ(Jv)``
  (:class:`~layerflow.maps._matfree.NormalOperator`), timed at r = Eb and r = Pb (a step of few
  rows is overhead-bound), its linearisation (rebuilt every ``check_every`` steps) timed once;
  ``c``: the full reorthogonalisation per row and basis vector, timed. ``q``, the steps a
  quadrature probe takes before its rule stops it, depends on the layer's spectrum (10–15 on
  the conv ResNet benchmark's blocks, all of ``K`` on torchvision's BasicBlocks): a pilot run on
  the first sample (3 probes, at most 20 steps, the rule's tolerance scaled to 3 probes) gives
  their mean steps, or ``q = K`` when none stopped. The upper bound (every probe runs to K) is
  reported beside the estimate.

Calibration takes a few forward/backward passes of each layer, one ``n_0×n_0`` factorisation
and the pilot (its own cost on the benchmarks' blocks is in ``benchmarks/README.md``). Each
timing is the fastest of up to five runs after a warm-up (fewer once 20 ms are spent), each
run charged the smaller of its wall-clock and CPU
time (on the CPU: a run that waits for a core on a shared machine is charged its work only),
and an expensive measurement is taken on fewer rows and scaled; layers of the same structure
(class, input shape, parameter shapes: the blocks of a ResNet stage) are measured once. The
estimate is a model, not a promise: how close it comes to the measured time on resnet18 and on
the conv ResNet (``benchmarks/bench_jacobian_estimate.py``) is recorded in
``benchmarks/README.md``. A measurement that refuses or reroutes a call on time, with an
estimate within 10 times the budget, is taken twice, keeping the faster figures.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch import nn

from layerflow._errors import BudgetError
from layerflow.maps._budget import _MATFREE_ROWS, JacobianCost, LayerCost, plan_methods
from layerflow.maps._matfree import MatfreeOptions, NormalOperator, rows_independent
from layerflow.maps._matfree import _batch as _lanczos_batch

_LA_SIZE = 512
_ROWS = 512
_JAC_ROWS = 2048
_TYPICAL_STEPS = 20
_PILOT_PROBES = 3
_AFFORD = 0.03
_WITHIN = 0.02
_REMEASURE = 10.0


def _sync() -> None:
    """Wait for queued GPU work, so a timing covers it (a no-op without CUDA)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _took(start: tuple[float, float]) -> float:
    """Seconds since ``start``: the smaller of wall-clock and process CPU time on the CPU (a
    run that waits for a core on a shared machine is charged only its work; work spread over
    several threads is charged its wall-clock time), wall-clock time with CUDA (a GPU's work is
    not CPU time)."""
    wall = time.perf_counter() - start[0]
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        return wall
    return min(wall, time.process_time() - start[1])


def _timed(fn: Any, warm_up: Any = None, repeats: int = 5, within: float = _WITHIN) -> float:
    """Fastest of up to ``repeats`` runs of ``fn`` (fewer once ``within`` seconds are spent),
    after one warm-up call (``warm_up``, default ``fn``; ``False`` for none). On a shared
    machine a run can stall; the fastest of several is the cost (each timed by :func:`_took`)."""
    if warm_up is not False:
        (warm_up or fn)()  # first calls pay one-off set-up (the first torch.func call: seconds)
    best, spent = math.inf, 0.0
    for _ in range(repeats):
        _sync()
        start = _clock()
        fn()
        _sync()
        took = _took(start)
        best, spent = min(best, took), spent + took
        if spent > within:
            break
    return best


def _scaled(work: Any, size: int, first: int = 2, measured: float | None = None) -> float:
    """Seconds of ``work(size)()`` (``work(r)`` prepares the work on r rows and returns it):
    measured when that is affordable, else measured on the r rows that fit ``_AFFORD`` seconds
    and scaled by ``size/r`` (the work per row is constant for expensive layers, where it
    matters). A first measurement on ``first`` rows sets r (and is the measurement when no
    more rows fit); each size is warmed up once (a first call at a new size can pay seconds of
    one-off set-up). ``measured``: the time of ``work(first)()`` when already taken."""
    first = min(first, size)
    per_row = (measured if measured is not None else _timed(work(first))) / first  # overheads included: an overestimate, the safe side
    r = size if per_row * size <= _AFFORD else max(first, min(size, int(_AFFORD / per_row)))
    if r == first:
        return per_row * size
    return _timed(work(r)) * size / r


def _scaled_two(work: Any, small: int, large: int) -> tuple[float, float]:
    """Seconds of ``work(small)()`` and ``work(large)()`` (``small <= large``) from two
    measurements: on ``small`` rows, and on the rows of ``large`` that fit ``_AFFORD`` seconds
    (all of them when affordable), scaled by ``large/r`` as in :func:`_scaled`."""
    t_small = _timed(work(small))
    if large <= small:
        return t_small, t_small
    per_row = t_small / small  # overheads included: an overestimate, the safe side
    r = large if per_row * large <= _AFFORD else max(small, min(large, int(_AFFORD / per_row)))
    if r == small:
        return t_small, per_row * large
    return t_small, _timed(work(r)) * large / r


def _saved_numel(module: nn.Module, f: Any, x: torch.Tensor) -> int:
    """Numbers the layer keeps for its backward pass on one sample: activations, not its
    parameters or buffers (those are shared by all rows, not held per row)."""
    shared = {t.untyped_storage().data_ptr()
              for t in [*module.parameters(), *module.buffers()]}
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        if t.untyped_storage().data_ptr() not in shared:
            total += t.numel()
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        f(x.detach().clone().requires_grad_(True))
    return total


class _Layer:
    """One square layer being calibrated: the per-sample function and its inputs."""

    def __init__(self, name: str, module: nn.Module, inp: torch.Tensor) -> None:
        self.name, self.module = name, module
        self.shape = tuple(inp.shape[1:])
        self.n = int(inp.shape[0])
        self.flat = inp.reshape(self.n, -1)
        self.d = int(self.flat.shape[1])
        self.dtype, self.device = inp.dtype, inp.device
        self.item = torch.empty(0, dtype=inp.dtype).element_size()

    def f(self, v: torch.Tensor) -> torch.Tensor:
        out = self.module(v.reshape(1, *self.shape))
        out = out[0] if isinstance(out, tuple | list) else out
        return out.reshape(-1)


def _exact_costs(
    layer: _Layer, linalg_cache: dict[tuple[int, int, torch.dtype], float], batch_size: int,
    options: MatfreeOptions,
) -> tuple[LayerCost, int]:
    """``t_row`` (batched as the exact path runs), ``t_LA(d)`` and the memory per sample; the
    matrix-free fields not yet timed. Also returns the numbers saved for backward per sample."""
    from torch.func import jacrev, vjp, vmap

    d, flat = layer.d, layer.flat
    saved = _saved_numel(layer.module, layer.f, flat[0])
    rows = min(d, _ROWS)
    cot = torch.zeros(rows, d, dtype=layer.dtype, device=layer.device)
    cot[torch.arange(rows), torch.arange(rows)] = 1.0

    def row_work(r: int) -> Any:  # rows of one sample's Jacobian (one forward pass, as jacrev)
        return lambda: vmap(vjp(layer.f, flat[0])[1])(cot[:r])

    with torch.no_grad():
        # whole Jacobians of a few samples, batched as the exact path runs them, when one
        # sample's Jacobian is cheap (judged on 2 rows); else rows of one sample, scaled
        two = _timed(row_work(min(2, rows)))
        if 4 * d <= _JAC_ROWS and two / 2 * d <= _AFFORD:
            m = max(1, min(layer.n, batch_size, _JAC_ROWS // d))
            t_row = _scaled(lambda r: lambda: vmap(jacrev(layer.f))(flat[:r]), m,
                            first=1) / (m * d)
        else:
            t_row = _scaled(row_work, rows, measured=two) / rows
    n0 = min(d, _LA_SIZE)
    count = max(1, min(64, (_LA_SIZE // n0) ** 3, layer.n, batch_size))
    key = (n0, count, layer.dtype)  # every width from _LA_SIZE up shares one timing
    if key not in linalg_cache:  # batched as the exact path does, so call overheads amortise
        M = torch.randn(count, n0, n0, generator=torch.Generator().manual_seed(0),
                        dtype=layer.dtype).to(layer.device)
        linalg_cache[key] = _timed(lambda: (torch.linalg.slogdet(M),
                                            torch.linalg.svdvals(M))) / count
    t_la = linalg_cache[key] * (d / n0) ** 3
    cost = LayerCost(
        name=layer.name, width=d, exact_seconds=d * t_row + t_la,
        exact_bytes=layer.item * (3 * d * d + d * saved), fixed_bytes=layer.item * d * d,
        matfree_seconds=math.nan, matfree_max_seconds=math.nan, matfree_bytes=0,
        row_seconds=t_row, linalg_seconds=t_la,
        product_seconds=math.nan, probes=options.probes,
        matfree_products=_products(options, d),
    )
    return cost, saved


def _products(options: MatfreeOptions, d: int) -> int:
    """Typical products ``Jᵀ(Jv)`` per sample: ``(P − E) min(K, q) + E K``."""
    K = min(options.max_steps, d)
    P, E = options.probes, options.extreme_probes
    return (P - E) * min(K, _TYPICAL_STEPS) + E * K


def _matfree_costs(
    cost: LayerCost, layer: _Layer, options: MatfreeOptions, saved: int,
    far: float = math.inf,
) -> LayerCost:
    """Time one Lanczos step of a batch with all its probes active and with only the extreme
    probes left; the reorthogonalisation per row and basis vector; the memory per sample.

    ``far``: seconds of the whole call beyond which it is refused whatever the probes' steps.
    When even the fewest steps a quadrature probe can take (``check_every``) put this layer
    alone past it (and its exact path too), the pilot run is skipped: the call is refused
    either way, and its matrix-free figures are lower bounds (``matfree_lower_bound``)."""
    d, n = layer.d, layer.n
    P, E = options.probes, options.extreme_probes
    b = max(1, min(n, _MATFREE_ROWS // P))  # samples per batch, as planned by _batch
    batched = rows_independent(layer.module, layer.shape, layer.flat)
    idx = torch.arange(P * b, device=layer.device)
    op = NormalOperator(layer.module, layer.shape, layer.flat[idx % n], batched)
    V = torch.ones(P * b, d, dtype=layer.dtype, device=layer.device)

    lin: dict[int, float] = {}

    def step(r: int) -> Any:  # one product on each of r rows, on a kept linearisation
        if batched:  # the linearisation (at the start and as rows retire), timed once, cold
            start = _clock()
            op.linearize(idx[:r])
            lin[r] = _took(start)
        return lambda: op(idx[:r], V[:r])

    t_few, t_all = _scaled_two(step, E * b, P * b)
    if batched:  # one linearisation per check_every steps; scaled to the rows as the step
        r_few, r_all = min(lin), max(lin)
        t_all += lin[r_all] * P * b / r_all / options.check_every
        t_few += lin[r_few] / options.check_every
    rows, vecs = 8, 16
    basis = torch.zeros(rows, vecs, d, dtype=torch.float64, device=layer.device)
    w = torch.ones(rows, d, dtype=torch.float64, device=layer.device)
    c = 2 * _timed(lambda: torch.einsum(
        "bk,bkd->bd", torch.einsum("bkd,bd->bk", basis, w), basis)) / (rows * vecs)
    K = min(options.max_steps, d)

    def typical(q: int) -> float:
        return (q * t_all + (K - q) * t_few
                + c * (P * b * q * q / 2 + E * b * (K * K - q * q) / 2)) / b

    fewest = min(K, options.check_every)
    lower_bound = min(cost.exact_seconds, typical(fewest)) * n > far
    q = fewest if lower_bound else _pilot_steps(layer, options, batched)
    most = (K * t_all + c * P * b * K * K / 2) / b
    return replace(cost, matfree_seconds=typical(q), matfree_max_seconds=most,
                   matfree_bytes=P * (8 * (K + 8) * d + 3 * layer.item * saved),
                   product_seconds=t_all / (P * b), matfree_products=(P - E) * q + E * K,
                   matfree_lower_bound=lower_bound)


def _pilot_steps(layer: _Layer, options: MatfreeOptions, batched: bool) -> int:
    """Steps a quadrature probe takes, from a pilot run on the first sample: ``_PILOT_PROBES``
    probes for at most ``_TYPICAL_STEPS`` steps, each stopping by the quadrature rule alone,
    with ``quad_tol`` scaled by ``√(pilot probes / probes)`` (the rule counts in standard errors
    across probes, which shrink as ``1/√probes``). When a probe stopped: their mean steps; when
    none did, ``max_steps`` (the quadrature may then run to the end)."""
    K = min(options.max_steps, layer.d)
    cap = min(K, _TYPICAL_STEPS)
    P = min(_PILOT_PROBES, options.probes)
    # every pilot probe stops by the quadrature rule alone (a Ritz tolerance always met)
    pilot = replace(options, probes=P, extreme_probes=1, max_steps=cap, ritz_tol=1e300,
                    quad_tol=options.quad_tol * math.sqrt(P / options.probes))
    with torch.no_grad():
        products = int(_lanczos_batch(layer.module, layer.shape, batched, layer.flat[:1], 0,
                                      layer.d, pilot)["products"][0])
    if products >= P * cap:
        return K
    return int(min(cap, max(options.check_every, math.ceil(products / P))))


def estimate_cost(
    layers: Sequence[tuple[str, nn.Module, torch.Tensor]], n: int, method: str, *,
    options: MatfreeOptions, batch_size: int, max_seconds: float, max_bytes: int | None,
) -> JacobianCost:
    """Calibrate each square layer ``(name, module, inputs)`` (inputs of shape ``(n, …)``) and
    plan (:func:`plan_methods`).

    The matrix-free path is timed only when it may be needed: ``method="matfree"``, or when
    the exact path does not fit the budgets (its estimate then appears in the refusal).
    """
    started = time.perf_counter()
    prepared = [_Layer(*layer) for layer in layers]
    saved: list[int] = []

    keys = [_structure(layer) for layer in prepared]

    def shared(measure_one: Any) -> list[Any]:
        """``measure_one(i)`` once per distinct structure; layers of the same structure (the
        blocks of a ResNet stage) share its figures, under their own names."""
        done: dict[Any, Any] = {}
        out = []
        for i, key in enumerate(keys):
            if key not in done:
                done[key] = measure_one(i)
            out.append(done[key])
        return out

    def exact_costs() -> list[LayerCost]:
        cache: dict[tuple[int, int, torch.dtype], float] = {}
        measured = shared(lambda i: _exact_costs(prepared[i], cache, batch_size, options))
        saved[:] = [count for _, count in measured]
        return [replace(cost, name=layer.name)
                for (cost, _), layer in zip(measured, prepared, strict=True)]

    def plan(costs: list[LayerCost], how: str) -> JacobianCost:
        return plan_methods(costs, n, how, max_seconds=max_seconds, max_bytes=max_bytes,
                            batch_size=batch_size,
                            calibration_seconds=time.perf_counter() - started)

    def twice(measure: Any, how: str) -> tuple[list[LayerCost], JacobianCost | None]:
        """Plan on one measurement; before giving up on time when the estimate is within
        ``_REMEASURE`` times the budget, measure again and keep the faster figures (a stall of
        the machine must not refuse or reroute a call; one far over budget is not a stall).
        Memory is counted, not timed: its refusals stand."""
        costs = measure()
        for attempt in range(2):
            try:
                return costs, plan(costs, how)
            except BudgetError as err:
                if err.kind != "time":
                    return costs, None
                near = err.estimate.seconds <= _REMEASURE * max_seconds
                if attempt == 0 and near:
                    costs = [_faster(a, b) for a, b in zip(costs, measure(), strict=True)]
                else:
                    break
        return costs, None

    if method != "matfree":
        costs, fitted = twice(exact_costs, "exact")
        if fitted is not None:
            return fitted
    else:
        costs = exact_costs()
    def matfree_costs() -> list[LayerCost]:
        far = _REMEASURE * max_seconds  # refused without a second measurement
        measured = shared(lambda i: _matfree_costs(costs[i], prepared[i], options, saved[i],
                                                   far))
        return [replace(cost, name=layer.name)
                for cost, layer in zip(measured, prepared, strict=True)]

    costs, fitted = twice(matfree_costs, method)
    return fitted if fitted is not None else plan(costs, method)


def _structure(layer: _Layer) -> tuple[Any, ...]:
    """What a layer's cost depends on: its class, input shape and dtype, and the names and
    shapes of its parameters, buffers and submodules' classes."""
    module = layer.module
    return (
        type(module).__qualname__, layer.shape, layer.dtype, str(layer.device),
        tuple((name, type(m).__qualname__) for name, m in module.named_modules()),
        tuple((name, tuple(p.shape)) for name, p in module.named_parameters()),
        tuple((name, tuple(b.shape)) for name, b in module.named_buffers()),
    )


def _faster(a: LayerCost, b: LayerCost) -> LayerCost:
    """Per field, the smaller of two measurements of one layer's times (NaN: the other)."""

    def low(x: float, y: float) -> float:
        return float(np.fmin(x, y))

    return replace(
        a, exact_seconds=low(a.exact_seconds, b.exact_seconds),
        row_seconds=low(a.row_seconds, b.row_seconds),
        linalg_seconds=low(a.linalg_seconds, b.linalg_seconds),
        matfree_seconds=low(a.matfree_seconds, b.matfree_seconds),
        matfree_max_seconds=low(a.matfree_max_seconds, b.matfree_max_seconds),
        product_seconds=low(a.product_seconds, b.product_seconds),
    )
