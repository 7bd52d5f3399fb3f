"""Calibration: what the memory model counts, how expensive timings are scaled, the cost fields."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from layerflow._errors import BudgetError
from layerflow.maps import LayerCost, MatfreeOptions
from layerflow.maps._calibrate import (
    _Layer,
    _pilot_steps,
    _saved_numel,
    _scaled,
    _timed,
    estimate_cost,
)


def _per_sample(module: nn.Module, d: int):  # type: ignore[no-untyped-def]
    return lambda v: module(v.reshape(1, d)).reshape(-1)


def test_saved_numbers_count_activations_not_parameters() -> None:
    d = 100
    lin = nn.Linear(d, d).double().requires_grad_(False)
    # the d×d weight is shared by every row: it must not be counted per row
    assert _saved_numel(lin, _per_sample(lin, d), torch.zeros(d, dtype=torch.float64)) < d
    act = nn.Sequential(nn.Linear(d, d), nn.Tanh()).double().requires_grad_(False)
    # tanh keeps its output (d numbers) for its backward pass
    assert _saved_numel(act, _per_sample(act, d), torch.zeros(d, dtype=torch.float64)) == d


def _burn(seconds: float) -> None:
    """Keep a core busy for ``seconds`` of this thread's CPU time, so both clocks the calibration
    reads (wall-clock and process CPU time) pass at least ``seconds``. The process clock would
    not do: other threads of the process (torch's OpenMP workers spinning after a parallel
    region) advance it too, and the burn would end early."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_expensive_work_is_timed_on_fewer_rows_and_scaled() -> None:
    # work(r) burns 5 ms of CPU per row: 20 rows (0.1 s) exceed the 0.03 s allowance, so fewer
    # rows (at most 6) are timed and the time scaled to 20
    calls: list[int] = []

    def work(per_row: float):  # type: ignore[no-untyped-def]
        def prepare(r: int):  # type: ignore[no-untyped-def]
            calls.append(r)
            return lambda: _burn(per_row * r)
        return prepare

    t = _scaled(work(0.005), 20)
    assert calls[0] == 2 and 2 < calls[1] <= 6 and len(calls) == 2
    assert 0.1 <= t < 0.25
    # 60 ms per row: not even 2 rows fit the allowance, so the first measurement is the one
    calls.clear()
    t = _scaled(work(0.06), 20)
    assert calls == [2]
    assert 1.2 <= t < 2.5


def test_a_run_is_charged_its_work_not_its_wait() -> None:
    # sleeping is waiting, as a run that waits for a core on a loaded machine: not charged
    assert _timed(lambda: time.sleep(0.03)) < 0.01
    assert _timed(lambda: _burn(0.01)) >= 0.01


def test_the_pilot_tells_a_quick_quadrature_from_one_that_runs_to_the_end() -> None:
    d = 200
    opts = MatfreeOptions()
    X = torch.randn(4, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ident = nn.Linear(d, d, bias=False).double().requires_grad_(False)
    ident.weight.copy_(torch.eye(d))  # J = I: every probe's quadrature is exact at once
    assert _pilot_steps(_Layer("i", ident, X), opts, True) <= 2 * opts.check_every
    # singular values spread over 12 decades: no probe's quadrature settles within 20 steps
    g = torch.Generator().manual_seed(1)
    U, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64, generator=g))
    V, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64, generator=g))
    wide = nn.Linear(d, d, bias=False).double().requires_grad_(False)
    wide.weight.copy_(U @ torch.diag(torch.logspace(-6, 6, d, dtype=torch.float64)) @ V.T)
    assert _pilot_steps(_Layer("w", wide, X), opts, True) == opts.max_steps


def test_cost_fields_follow_the_documented_memory_model() -> None:
    d, N = 12, 40
    layer = nn.Sequential(nn.Linear(d, d), nn.Tanh()).double().requires_grad_(False)
    X = torch.randn(N, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    opts = MatfreeOptions(probes=8, max_steps=10)
    cost = estimate_cost([("f", layer, X)], N, "matfree", options=opts, batch_size=256,
                         max_seconds=1e9, max_bytes=None)
    c = cost.layers[0]
    saved = d  # tanh's output, as checked above
    assert c.width == d and cost.methods == ("matfree",) and cost.n == N
    assert c.exact_bytes == 8 * (3 * d * d + d * saved) and c.fixed_bytes == 8 * d * d
    K = min(opts.max_steps, d)
    assert c.matfree_bytes == opts.probes * (8 * (K + 8) * d + 3 * 8 * saved)
    assert 0 < c.matfree_seconds <= c.matfree_max_seconds
    assert c.exact_seconds == pytest.approx(d * c.row_seconds + c.linalg_seconds)
    assert cost.batches == (min(N, 256 // opts.probes),)
    assert cost.seconds == pytest.approx(N * c.matfree_seconds)


def test_a_time_refusal_is_measured_twice_and_the_faster_figures_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import layerflow.maps._calibrate as calibrate

    layer = nn.Tanh()
    X = torch.zeros(100, 700, dtype=torch.float64)
    seen: list[float] = []

    def fake(prepared, cache, batch_size, options, figures):  # type: ignore[no-untyped-def]
        seconds = figures[len(seen)]
        seen.append(seconds)
        cost = LayerCost(name="t", width=700, exact_seconds=seconds, exact_bytes=1 << 20,
                         fixed_bytes=0, matfree_seconds=float("nan"),
                         matfree_max_seconds=float("nan"), matfree_bytes=0,
                         row_seconds=seconds / 700, linalg_seconds=0.0,
                         product_seconds=float("nan"), probes=32, matfree_products=760)
        return cost, 0

    # a stall in the first measurement (3 s per sample) must not refuse a 0.01 s/sample call
    monkeypatch.setattr(calibrate, "_exact_costs",
                        lambda *a: fake(*a, figures=[3.0, 0.01]))
    est = estimate_cost([("t", layer, X)], 100, "exact", options=MatfreeOptions(),
                        batch_size=256, max_seconds=60, max_bytes=1 << 30)
    assert seen == [3.0, 0.01] and est.seconds == pytest.approx(1.0)
    # an estimate more than 10 times the budget is no stall: refused on one measurement
    seen.clear()
    monkeypatch.setattr(calibrate, "_exact_costs",
                        lambda *a: fake(*a, figures=[7.0, 0.01]))
    with pytest.raises(BudgetError) as far:
        estimate_cost([("t", layer, X)], 100, "exact", options=MatfreeOptions(),
                      batch_size=256, max_seconds=60, max_bytes=1 << 30)
    assert far.value.kind == "time" and seen == [7.0]
    seen.clear()
    monkeypatch.setattr(calibrate, "_exact_costs",
                        lambda *a: fake(*a, figures=[10.0, 0.01]))
    # a memory refusal is counted, not timed: it is not measured again
    seen.clear()
    monkeypatch.setattr(calibrate, "_matfree_costs", lambda cost, *a: cost)
    with pytest.raises(BudgetError) as info:
        estimate_cost([("t", layer, X)], 100, "exact", options=MatfreeOptions(),
                      batch_size=256, max_seconds=60, max_bytes=1000)
    assert info.value.kind == "memory" and seen == [10.0]


def test_a_call_refused_at_the_fewest_steps_skips_the_pilot_and_says_at_least() -> None:
    """A layer whose probes run to ``max_steps`` (singular values over 12 decades): with room
    in the budget the pilot finds that out; with a budget it misses by far even at the fewest
    steps a probe can take, the refusal comes without the pilot, and its matrix-free figures
    are lower bounds, worded so."""
    d, N = 200, 64
    g = torch.Generator().manual_seed(1)
    U, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64, generator=g))
    V, _ = torch.linalg.qr(torch.randn(d, d, dtype=torch.float64, generator=g))
    wide = nn.Linear(d, d, bias=False).double().requires_grad_(False)
    wide.weight.copy_(U @ torch.diag(torch.logspace(-6, 6, d, dtype=torch.float64)) @ V.T)
    X = torch.randn(N, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    opts = MatfreeOptions()
    P, E, K = opts.probes, opts.extreme_probes, min(opts.max_steps, d)
    roomy = estimate_cost([("w", wide, X)], N, "matfree", options=opts, batch_size=256,
                          max_seconds=1e9, max_bytes=None)
    (c,) = roomy.layers
    assert not c.matfree_lower_bound and c.matfree_products == P * K  # piloted: all K steps
    with pytest.raises(BudgetError) as refused:
        estimate_cost([("w", wide, X)], N, "matfree", options=opts, batch_size=256,
                      max_seconds=1e-7, max_bytes=None)
    (low,) = refused.value.estimate.layers
    assert low.matfree_lower_bound
    assert low.matfree_products == (P - E) * opts.check_every + E * K < c.matfree_products
    assert "matrix-free at least" in str(refused.value)
