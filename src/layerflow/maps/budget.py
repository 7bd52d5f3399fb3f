"""Time and memory of the Jacobian diagnostics, estimated before the work; the method choice.

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
* **matrix-free** path (:mod:`layerflow.maps.matfree`), with P probes of which E keep going to
  ``K = max_steps``:

  .. math::  T_{mf} \\approx \\frac{N}{b}\\Big(q\\,t_{step}(Pb) + (K - q)\\,t_{step}(Eb)
             + c\\,\\big(Pb\\,\\tfrac{q^2}{2} + Eb\\,\\tfrac{K^2 - q^2}{2}\\big)\\Big)
             \\;\\le\\; \\frac{N}{b}\\big(K\\,t_{step}(Pb) + c\\,Pb\\,\\tfrac{K^2}{2}\\big),
             \\qquad M_{mf}(b) = 8\\,b\\,P\\,((K + 8) d) + 3 s\\,b\\,P\\,a,

  where a batch of b samples (``b = 256/P`` unless memory says less) runs Pb rows: all of them
  for the first ``q = min(K, 20)`` steps, then only the Eb rows of the extreme probes up to K
  steps. ``t_step(r)``: one batched step of r products ``Jᵀ(Jv)`` (:class:`~layerflow.maps.matfree.NormalOperator`),
  timed at r = Pb and r = Eb (a step of few rows is overhead-bound); ``c``: the full
  reorthogonalisation per row and basis vector, timed. The typical case assumes a probe's
  quadrature stops within 20 steps (it took 10–30 in the tests and the benchmark; our measured
  choice) and plans with it; the upper bound (every probe runs to K) is reported beside it.

Calibration takes a few forward/backward passes of each layer and one ``n_0×n_0`` factorisation
(a fraction of a second for small layers, 1–3 s for the benchmark's width-2,048 blocks); each
timing is the fastest of up to three runs after a warm-up, as timings on a shared machine are
noisy upwards, and an expensive measurement is taken on fewer rows and scaled. The estimate is a
model: on the conv ResNet benchmark (``benchmarks/bench_jacobian.py``, 2 shared cores) it came
within 15 % of the measured exact time and within a factor 1.6 of the matrix-free time at load
3–5 (one torch thread), and 2.5× high for the exact path at load 8. The budgets are ``max_seconds`` (default
:data:`DEFAULT_MAX_SECONDS`) and ``max_bytes`` (default half the memory available now, as the
transport view's memory guard).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from layerflow.maps.errors import JacobianBudgetError
from layerflow.maps.matfree import MatfreeOptions, NormalOperator, rows_independent
from layerflow.transport._common import format_bytes

__all__ = ["DEFAULT_MAX_SECONDS", "METHODS", "JacobianCost", "LayerCost", "estimate_cost",
           "plan_methods"]

DEFAULT_MAX_SECONDS = 60.0
"""Time budget of one :func:`~layerflow.maps.jacobian_diagnostics` call: an interactive wait
(our choice). Raise it (``max_seconds=…``, ``math.inf`` to switch the check off) for batch jobs."""

METHODS = ("auto", "exact", "matfree")

_LA_SIZE = 512
_ROWS = 512
_JAC_ROWS = 2048
_TYPICAL_STEPS = 20
_MATFREE_ROWS = 256
_AFFORD = 0.25


@dataclass(frozen=True)
class LayerCost:
    """Calibrated per-sample costs of one square layer (seconds, bytes).

    ``exact_bytes``/``matfree_bytes`` are per sample of a batch; ``fixed_bytes`` is the batch-
    independent part of the exact path. ``matfree_seconds`` is the typical time,
    ``matfree_max_seconds`` the bound with every probe running to ``max_steps``. The matrix-free
    fields are NaN (seconds) and 0 (bytes) when that path was not timed (the exact path fitted).
    """

    name: str
    width: int
    exact_seconds: float
    exact_bytes: int
    fixed_bytes: int
    matfree_seconds: float
    matfree_max_seconds: float
    matfree_bytes: int
    row_seconds: float
    linalg_seconds: float
    product_seconds: float
    probes: int


@dataclass(frozen=True)
class JacobianCost:
    """The estimate and the plan of one call, before the work.

    Attributes
    ----------
    n
        Samples.
    layers
        One :class:`LayerCost` per square layer.
    methods
        ``"exact"`` or ``"matfree"`` per layer, as chosen.
    batches
        Samples per batch per layer (the exact batch lowered to fit ``max_bytes``).
    seconds
        Estimated time of the chosen plan (an upper bound for matrix-free layers).
    exact_seconds, matfree_seconds
        Estimated time of doing every layer exactly / matrix-free.
    max_seconds, max_bytes, bytes_source
        The budgets and where the memory budget came from.
    calibration_seconds
        Time spent measuring.
    """

    n: int
    layers: tuple[LayerCost, ...]
    methods: tuple[str, ...]
    batches: tuple[int, ...]
    seconds: float
    exact_seconds: float
    matfree_seconds: float
    max_seconds: float
    max_bytes: int
    bytes_source: str
    calibration_seconds: float

    def method_of(self, name: str) -> str:
        for layer, method in zip(self.layers, self.methods, strict=True):
            if layer.name == name:
                return method
        raise KeyError(name)

    def batch_of(self, name: str) -> int:
        for layer, batch in zip(self.layers, self.batches, strict=True):
            if layer.name == name:
                return batch
        raise KeyError(name)


def available_bytes() -> int:
    """Memory available to this process (``MemAvailable`` on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    try:  # pragma: no cover - not Linux
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 1 << 62


def format_seconds(t: float) -> str:
    """``75 -> "1.2 min"``: seconds in s, min or h."""
    if not math.isfinite(t):
        return "unknown" if math.isnan(t) else "∞"
    if t < 90:
        return f"{t:.3g} s"
    if t < 5400:
        return f"{t / 60:.1f} min"
    return f"{t / 3600:.1f} h"


def _sync() -> None:
    """Wait for queued GPU work, so a timing covers it (a no-op without CUDA)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _timed(fn: Any, warm_up: Any = None, repeats: int = 3, within: float = 0.2) -> float:
    """Fastest of up to ``repeats`` runs of ``fn`` (fewer once ``within`` seconds are spent),
    after one warm-up call (``warm_up``, default ``fn``; ``False`` for none)."""
    if warm_up is not False:
        (warm_up or fn)()  # first calls pay one-off set-up
    best, spent = math.inf, 0.0
    for _ in range(repeats):
        _sync()
        start = time.perf_counter()
        fn()
        _sync()
        took = time.perf_counter() - start
        best, spent = min(best, took), spent + took
        if spent > within:
            break
    return best


def _scaled(work: Any, size: int) -> float:
    """Seconds of ``work(size)()`` (``work(r)`` prepares the work on r rows and returns it):
    measured when that is affordable, else measured on the r rows that fit ``_AFFORD`` seconds
    and scaled by ``size/r`` (the work per row is constant for expensive layers, where it
    matters). A first measurement on 2 rows warms up and sets r."""
    first = min(2, size)
    per_row = _timed(work(first)) / first  # overheads included: an overestimate, the safe side
    r = size if per_row * size <= _AFFORD else max(first, min(size, int(_AFFORD / per_row)))
    return _timed(work(r), warm_up=False) * size / r


def _saved_numel(f: Any, x: torch.Tensor) -> int:
    """Numbers the layer keeps for its backward pass on one sample."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
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
    layer: _Layer, linalg_cache: dict[tuple[int, torch.dtype], float], batch_size: int,
    probes: int,
) -> tuple[LayerCost, int]:
    """``t_row`` (batched as the exact path runs), ``t_LA(d)`` and the memory per sample; the
    matrix-free fields not yet timed. Also returns the numbers saved for backward per sample."""
    from torch.func import jacrev, vjp, vmap

    d, flat = layer.d, layer.flat
    saved = _saved_numel(layer.f, flat[0])
    with torch.no_grad():
        if 4 * d <= _JAC_ROWS:  # whole Jacobians of a few samples, batched as the exact path
            m = max(1, min(layer.n, batch_size, _JAC_ROWS // d))
            t_row = _scaled(lambda r: lambda: vmap(jacrev(layer.f))(flat[:r]), m) / (m * d)
        else:  # rows of one sample's Jacobian (one shared forward pass, as in jacrev)
            rows = min(d, _ROWS)
            cot = torch.zeros(rows, d, dtype=layer.dtype, device=layer.device)
            cot[torch.arange(rows), torch.arange(rows)] = 1.0
            t_row = _scaled(lambda r: lambda: vmap(vjp(layer.f, flat[0])[1])(cot[:r]),
                            rows) / rows
    key = (d, layer.dtype)
    if key not in linalg_cache:  # batched as the exact path does, so call overheads amortise
        n0 = min(d, _LA_SIZE)
        count = max(1, min(64, (_LA_SIZE // n0) ** 3, layer.n, batch_size))
        M = torch.randn(count, n0, n0, generator=torch.Generator().manual_seed(0),
                        dtype=layer.dtype).to(layer.device)
        t0 = _timed(lambda: (torch.linalg.slogdet(M), torch.linalg.svdvals(M))) / count
        linalg_cache[key] = t0 * (d / n0) ** 3
    t_la = linalg_cache[key]
    cost = LayerCost(
        name=layer.name, width=d, exact_seconds=d * t_row + t_la,
        exact_bytes=layer.item * (3 * d * d + d * saved), fixed_bytes=layer.item * d * d,
        matfree_seconds=math.nan, matfree_max_seconds=math.nan, matfree_bytes=0,
        row_seconds=t_row, linalg_seconds=t_la,
        product_seconds=math.nan, probes=probes,
    )
    return cost, saved


def _matfree_costs(
    cost: LayerCost, layer: _Layer, options: MatfreeOptions, saved: int
) -> LayerCost:
    """Time one Lanczos step of a batch with all its probes active and with only the extreme
    probes left; the reorthogonalisation per row and basis vector; the memory per sample."""
    d, n = layer.d, layer.n
    P, E = options.probes, options.extreme_probes
    b = max(1, min(n, _MATFREE_ROWS // P))  # samples per batch, as planned by _batch
    batched = rows_independent(layer.module, layer.shape, layer.flat)
    idx = torch.arange(P * b, device=layer.device)
    op = NormalOperator(layer.module, layer.shape, layer.flat[idx % n], batched)
    V = torch.ones(P * b, d, dtype=layer.dtype, device=layer.device)

    def step(r: int) -> Any:  # one product on each of r rows, on a kept linearisation
        if batched:
            op.linearize(idx[:r])
        return lambda: op(idx[:r], V[:r])

    def linearize(r: int) -> Any:  # the linearisation: at the start and as rows retire
        return lambda: op.linearize(idx[:r])

    t_all, t_few = _scaled(step, P * b), _scaled(step, E * b)
    if batched:
        t_all += _scaled(linearize, P * b) / options.check_every
        t_few += _scaled(linearize, E * b) / options.check_every
    rows, vecs = 8, 16
    basis = torch.zeros(rows, vecs, d, dtype=torch.float64, device=layer.device)
    w = torch.ones(rows, d, dtype=torch.float64, device=layer.device)
    c = 2 * _timed(lambda: torch.einsum(
        "bk,bkd->bd", torch.einsum("bkd,bd->bk", basis, w), basis)) / (rows * vecs)
    K = min(options.max_steps, d)
    q = min(K, _TYPICAL_STEPS)
    typical = (q * t_all + (K - q) * t_few
               + c * (P * b * q * q / 2 + E * b * (K * K - q * q) / 2)) / b
    most = (K * t_all + c * P * b * K * K / 2) / b
    return replace(cost, matfree_seconds=typical, matfree_max_seconds=most,
                   matfree_bytes=P * (8 * (K + 8) * d + 3 * layer.item * saved),
                   product_seconds=t_all / (P * b))


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
    cache: dict[tuple[int, torch.dtype], float] = {}
    prepared = [_Layer(*layer) for layer in layers]
    exact = [_exact_costs(layer, cache, batch_size, options.probes) for layer in prepared]

    def plan(costs: list[LayerCost], how: str) -> JacobianCost:
        return plan_methods(costs, n, how, max_seconds=max_seconds, max_bytes=max_bytes,
                            batch_size=batch_size,
                            calibration_seconds=time.perf_counter() - started)

    if method != "matfree":
        try:
            return plan([cost for cost, _ in exact], "exact")
        except JacobianBudgetError:
            pass
    return plan([_matfree_costs(cost, layer, options, saved)
                 for layer, (cost, saved) in zip(prepared, exact, strict=True)], method)


def plan_methods(
    costs: Sequence[LayerCost], n: int, method: str, *, max_seconds: float,
    max_bytes: int | None, batch_size: int, calibration_seconds: float = 0.0,
) -> JacobianCost:
    """Choose exact or matrix-free per layer within the budgets, or refuse.

    ``method="exact"`` / ``"matfree"`` use that method for every layer; ``"auto"`` uses the exact
    path wherever the time budget allows, switching the layers with the largest exact cost to
    the matrix-free path (where that is cheaper) until the estimate fits. A method whose single
    sample does not fit ``max_bytes`` is not used. Raises :class:`JacobianBudgetError` naming
    the estimate, the budget and the number of samples that fits.
    """
    budget = max_bytes if max_bytes is not None else available_bytes() // 2
    source = "max_bytes" if max_bytes is not None else "half the available memory"
    exact_fit = [c.exact_bytes + c.fixed_bytes <= budget for c in costs]
    mf_fit = [c.matfree_bytes <= budget for c in costs]
    exact_total = n * sum(c.exact_seconds for c in costs)
    mf_total = n * sum(c.matfree_seconds for c in costs)

    def cost_of(methods: list[str]) -> float:
        return n * sum(c.exact_seconds if m == "exact" else c.matfree_seconds
                       for c, m in zip(costs, methods, strict=True))

    if method == "exact":
        methods = ["exact"] * len(costs)
        too_big = [c for c, ok in zip(costs, exact_fit, strict=True) if not ok]
    elif method == "matfree":
        methods = ["matfree"] * len(costs)
        too_big = [c for c, ok in zip(costs, mf_fit, strict=True) if not ok]
    else:
        methods = ["exact" if ok else "matfree" for ok in exact_fit]
        too_big = [c for c, a, b in zip(costs, exact_fit, mf_fit, strict=True) if not (a or b)]
        for i in sorted(range(len(costs)), key=lambda i: -costs[i].exact_seconds):
            if cost_of(methods) <= max_seconds:
                break
            if methods[i] == "exact" and mf_fit[i] and (
                    costs[i].matfree_seconds < costs[i].exact_seconds):
                methods[i] = "matfree"
    estimate = JacobianCost(
        n=n, layers=tuple(costs), methods=tuple(methods),
        batches=tuple(_batch(c, m, n, batch_size, budget) for c, m in zip(costs, methods,
                                                                           strict=True)),
        seconds=cost_of(methods), exact_seconds=exact_total, matfree_seconds=mf_total,
        max_seconds=float(max_seconds), max_bytes=int(budget), bytes_source=source,
        calibration_seconds=calibration_seconds,
    )
    if too_big:
        raise JacobianBudgetError(_memory_message(too_big, method, budget, source, estimate),
                                  estimate)
    if estimate.seconds > max_seconds:
        raise JacobianBudgetError(_time_message(estimate, method), estimate)
    return estimate


def _batch(cost: LayerCost, method: str, n: int, batch_size: int, budget: int) -> int:
    if method == "exact":
        fits = (budget - cost.fixed_bytes) // max(cost.exact_bytes, 1)
        return int(max(1, min(batch_size, n, fits)))
    return int(max(1, min(n, budget // max(cost.matfree_bytes, 1),
                          _MATFREE_ROWS // cost.probes)))


def _widths(costs: Sequence[LayerCost]) -> str:
    return ", ".join(f"{c.name!r} (width {c.width:,})" for c in costs)


def _memory_message(too_big: Sequence[LayerCost], method: str, budget: int, source: str,
                    estimate: JacobianCost) -> str:
    parts = []
    for c in too_big:
        if method in ("exact", "auto"):
            parts.append(f"exact: {format_bytes(c.exact_bytes + c.fixed_bytes)} for one sample "
                         f"of {c.name!r} (its {c.width:,}×{c.width:,} Jacobian, LU and SVD copies "
                         "and the backward pass)")
        if method in ("matfree", "auto"):
            parts.append(f"matrix-free: {format_bytes(c.matfree_bytes)} for one sample of "
                         f"{c.name!r} (the Lanczos bases of its probes)")
    hint = (" use method='matfree' (about "
            f"{format_bytes(max(c.matfree_bytes for c in too_big))} per sample)"
            if method == "exact" else
            " give fewer probes or max_steps (MatfreeOptions)")
    return (
        f"Jacobian diagnostics ({method}) of layers {_widths(too_big)} cannot fit in memory: "
        f"{'; '.join(parts)}, but the memory budget is {format_bytes(budget)} ({source}); no "
        f"sample size fits. Options:{hint}, or raise max_bytes=… (estimated time at "
        f"N={estimate.n}: exact {format_seconds(estimate.exact_seconds)}, matrix-free about "
        f"{format_seconds(estimate.matfree_seconds)})"
    )


def _time_message(estimate: JacobianCost, method: str) -> str:
    per_sample = estimate.seconds / max(estimate.n, 1)
    fits = int(estimate.max_seconds // per_sample) if per_sample > 0 else estimate.n
    exact_ps = sum(c.exact_seconds for c in estimate.layers)
    mf_ps = sum(c.matfree_seconds for c in estimate.layers)
    mf_max = sum(c.matfree_max_seconds for c in estimate.layers)
    la = sum(c.linalg_seconds for c in estimate.layers)
    plan = ", ".join(f"{c.name!r} {m}" for c, m in zip(estimate.layers, estimate.methods,
                                                         strict=True))
    fit_text = ("not even 1 sample fits" if fits < 1 else
                "at most 1 sample fits: pass X[:1]" if fits == 1 else
                f"at most {fits} samples fit: pass X[:{fits}] (or a seeded subset)")
    other = ""
    if method == "exact":
        other = (f"; or method='matfree' (about {format_seconds(estimate.n * mf_ps)}, "
                 f"{format_seconds(mf_ps)} per sample, at most {format_seconds(mf_max)}; "
                 "orientation then unknown)")
    elif "matfree" in estimate.methods:
        other = "; or fewer probes / max_steps (MatfreeOptions)"
    return (
        f"Jacobian diagnostics ({method}: {plan}) of {len(estimate.layers)} layer(s) "
        f"{_widths(estimate.layers)} on N={estimate.n} samples: estimated "
        f"{format_seconds(estimate.seconds)} ({format_seconds(per_sample)} per sample; exact "
        f"{format_seconds(exact_ps)} per sample, of which slogdet+SVD {format_seconds(la)}; "
        f"matrix-free about {format_seconds(mf_ps)}), but the time budget is "
        f"{format_seconds(estimate.max_seconds)} (max_seconds={estimate.max_seconds:g}); "
        f"{fit_text}; or raise max_seconds to {math.ceil(estimate.seconds):,}{other}"
    )
