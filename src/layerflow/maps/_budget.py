"""Budgets for the Jacobian diagnostics: the plan per layer, and the refusal of what does not fit.

From the per-sample costs that :mod:`layerflow.maps._calibrate` estimates before the work,
:func:`plan_methods` chooses the exact or the matrix-free path per layer (``method="auto"``), sizes
the batches to the memory budget, or raises :class:`~layerflow._errors.BudgetError`
naming the estimate, the budget, the number of samples that fits and the options that raise the
budget (as the transport view's memory guard does). The budgets are ``max_seconds`` (default
:data:`DEFAULT_MAX_SECONDS`) and ``max_bytes`` (default half the memory available now, as the
transport view's memory guard).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from layerflow._errors import BudgetError
from layerflow._memory import available_bytes, format_bytes

DEFAULT_MAX_SECONDS = 60.0
"""Time budget of one :func:`~layerflow.maps.jacobian_diagnostics` call: an interactive wait
(our choice). Raise it (``max_seconds=…``, ``math.inf`` to switch the check off) for batch jobs."""

METHODS = ("auto", "exact", "matfree")

_MATFREE_ROWS = 256


@dataclass(frozen=True)
class LayerCost:
    """Calibrated per-sample costs of one square layer (seconds, bytes).

    ``exact_bytes``/``matfree_bytes`` are per sample of a batch; ``fixed_bytes`` is the batch-
    independent part of the exact path. ``matfree_products`` is the typical number of products
    ``Jᵀ(Jv)`` per sample of the matrix-free path; ``matfree_lower_bound``: its figures assume
    the fewest steps a probe can take (the call was refused at those already, so its probes'
    steps were not piloted). ``matfree_seconds`` is the typical time,
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
    matfree_products: int
    matfree_lower_bound: bool = False


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


def format_seconds(t: float) -> str:
    """``75 -> "1.2 min"``: seconds in s, min or h."""
    if not math.isfinite(t):
        return "unknown" if math.isnan(t) else "∞"
    if t < 90:
        return f"{t:.3g} s"
    if t < 5400:
        return f"{t / 60:.1f} min"
    return f"{t / 3600:.1f} h"


def plan_methods(
    costs: Sequence[LayerCost], n: int, method: str, *, max_seconds: float,
    max_bytes: int | None, batch_size: int, calibration_seconds: float = 0.0,
) -> JacobianCost:
    """Choose exact or matrix-free per layer within the budgets, or refuse.

    ``method="exact"`` / ``"matfree"`` use that method for every layer; ``"auto"`` uses the exact
    path wherever the time budget allows, switching the layers with the largest exact cost to
    the matrix-free path until the estimate fits — only layers where that path needs fewer
    products ``Jᵀ(Jv)`` than J has rows and is estimated cheaper (and any layer whose exact path
    does not fit in memory). A method whose single
    sample does not fit ``max_bytes`` is not used. Raises :class:`BudgetError` naming
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
            if methods[i] == "exact" and mf_fit[i] and _matfree_pays(costs[i]):
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
        raise BudgetError(_memory_message(too_big, method, budget, source, estimate),
                                  estimate, kind="memory")
    if estimate.seconds > max_seconds:
        raise BudgetError(_time_message(estimate, method), estimate, kind="time")
    return estimate


def _matfree_pays(cost: LayerCost) -> bool:
    """Whether a layer may go matrix-free to save time: it must need fewer products than J has
    rows (a structural test a stalled timing cannot fool: below that width the exact path does
    less work, and its O(d³) factorisations are cheap), and be estimated cheaper."""
    return cost.matfree_products < cost.width and cost.matfree_seconds < cost.exact_seconds


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
        f"N={estimate.n}: exact {format_seconds(estimate.exact_seconds)}, matrix-free "
        f"{'at least' if any(c.matfree_lower_bound for c in estimate.layers) else 'about'} "
        f"{format_seconds(estimate.matfree_seconds)})"
    )


def _time_message(estimate: JacobianCost, method: str) -> str:
    per_sample = estimate.seconds / max(estimate.n, 1)
    fits = int(estimate.max_seconds // per_sample) if per_sample > 0 else estimate.n
    exact_ps = sum(c.exact_seconds for c in estimate.layers)
    mf_ps = sum(c.matfree_seconds for c in estimate.layers)
    about = "at least" if any(c.matfree_lower_bound for c in estimate.layers) else "about"
    mf_max = sum(c.matfree_max_seconds for c in estimate.layers)
    la = sum(c.linalg_seconds for c in estimate.layers)
    plan = ", ".join(f"{c.name!r} {m}" for c, m in zip(estimate.layers, estimate.methods,
                                                         strict=True))
    fit_text = ("not even 1 sample fits" if fits < 1 else
                "at most 1 sample fits: pass X[:1]" if fits == 1 else
                f"at most {fits} samples fit: pass X[:{fits}] (or a seeded subset)")
    other = ""
    if method == "exact":
        other = (f"; or method='matfree' ({about} {format_seconds(estimate.n * mf_ps)}, "
                 f"{format_seconds(mf_ps)} per sample, at most {format_seconds(mf_max)}; "
                 "orientation then unknown)")
    elif "matfree" in estimate.methods:
        other = "; or fewer probes / max_steps (MatfreeOptions)"
    return (
        f"Jacobian diagnostics ({method}: {plan}) of {len(estimate.layers)} layer(s) "
        f"{_widths(estimate.layers)} on N={estimate.n} samples: estimated "
        f"{format_seconds(estimate.seconds)} ({format_seconds(per_sample)} per sample; exact "
        f"{format_seconds(exact_ps)} per sample, of which slogdet+SVD {format_seconds(la)}; "
        f"matrix-free {about} {format_seconds(mf_ps)}), but the time budget is "
        f"{format_seconds(estimate.max_seconds)} (max_seconds={estimate.max_seconds:g}); "
        f"{fit_text}; or raise max_seconds to {math.ceil(estimate.seconds):,}{other}"
    )
