"""The estimate before the work: method choice, batch sizing and the refusals with their messages.

The planning logic is a pure function of per-sample costs, so it is tested on hand-made costs
(the issue's case: two width-2,048 conv blocks, ~12 s exact per sample); the claimed "samples
that fit" is checked by planning again with that many samples and one more.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from layerflow._errors import BudgetError, ConfigError, LayerflowError
from layerflow.maps import LayerCost, jacobian_diagnostics
from layerflow.maps._budget import format_seconds, plan_methods

GiB = 1 << 30


def _cost(name: str, exact: float, matfree: float, *, width: int = 2048,
          exact_bytes: int = 1 << 20, matfree_bytes: int = 1 << 20,
          fixed_bytes: int = 0) -> LayerCost:
    return LayerCost(name=name, width=width, exact_seconds=exact, exact_bytes=exact_bytes,
                     fixed_bytes=fixed_bytes, matfree_seconds=matfree,
                     matfree_max_seconds=4 * matfree,
                     matfree_bytes=matfree_bytes, row_seconds=exact / 2 / width,
                     linalg_seconds=exact / 2, product_seconds=matfree / 2560, probes=32,
                     matfree_products=760)


def _plan(costs: list[LayerCost], n: int, method: str, max_seconds: float = 600.0,
          max_bytes: int = 8 * GiB, batch_size: int = 256):  # type: ignore[no-untyped-def]
    return plan_methods(costs, n, method, max_seconds=max_seconds, max_bytes=max_bytes,
                        batch_size=batch_size)


def _fits(message: str) -> int:
    found = re.search(r"at most (\d+) samples? fits?: pass X\[:(\d+)\]", message)
    assert found is not None, message
    assert found.group(1) == found.group(2)
    return int(found.group(1))


def test_auto_keeps_the_exact_path_when_it_fits() -> None:
    est = _plan([_cost("a", 0.01, 2.0), _cost("b", 0.02, 2.0)], 1000, "auto")
    assert est.methods == ("exact", "exact")
    assert est.seconds == pytest.approx(30.0)
    assert est.batches == (256, 256)


def test_auto_moves_the_costliest_layer_to_matfree_first() -> None:
    costs = [_cost("cheap", 0.05, 1.5), _cost("wide", 12.0, 1.5)]
    est = _plan(costs, 300, "auto")
    assert est.methods == ("exact", "matfree")
    assert est.seconds == pytest.approx(300 * (0.05 + 1.5))
    assert est.exact_seconds == pytest.approx(300 * 12.05)
    assert est.matfree_seconds == pytest.approx(300 * 3.0)


def test_auto_never_reroutes_a_layer_narrower_than_its_matfree_product_count() -> None:
    # width 256 < 760 typical products: the exact path is the lesser work whatever the timings
    # say (a stalled calibration must not send a small layer down the slower path)
    narrow = _cost("narrow", 12.0, 1.5, width=256)
    with pytest.raises(BudgetError, match=r"\(auto: 'narrow' exact\)"):
        _plan([narrow], 300, "auto")
    # unless its exact path does not fit in memory at all
    big = _cost("narrow", 12.0, 1.5, width=256, exact_bytes=16 * GiB)
    assert _plan([big], 10, "auto").methods == ("matfree",)


def test_exact_refusal_names_estimate_budget_and_the_sample_size_that_fits() -> None:
    costs = [_cost("layer1", 12.0, 1.5), _cost("layer2", 12.0, 1.5)]
    with pytest.raises(BudgetError) as info:
        _plan(costs, 300, "exact")
    msg = str(info.value)
    assert msg.startswith("Jacobian diagnostics (exact: 'layer1' exact, 'layer2' exact) of 2 "
                          "layer(s) 'layer1' (width 2,048), 'layer2' (width 2,048) on N=300 "
                          "samples: estimated 2.0 h (24 s per sample; exact 24 s per sample, "
                          "of which slogdet+SVD 12 s; matrix-free about 3 s)")
    assert "the time budget is 10.0 min (max_seconds=600)" in msg
    assert "or raise max_seconds to 7,200" in msg
    assert ("or method='matfree' (about 15.0 min, 3 s per sample, at most 12 s; orientation "
            "then unknown)") in msg
    fits = _fits(msg)
    assert fits == 25  # ⌊600 / 24⌋
    _plan(costs, fits, "exact")  # the claimed size does fit
    with pytest.raises(BudgetError):
        _plan(costs, fits + 1, "exact")
    assert info.value.estimate.methods == ("exact", "exact") and info.value.kind == "time"
    assert isinstance(info.value, BudgetError) and isinstance(info.value, LayerflowError)
    assert isinstance(info.value, ValueError)


def test_auto_refusal_when_even_matfree_is_too_slow() -> None:
    costs = [_cost("layer1", 12.0, 1.5), _cost("layer2", 12.0, 1.5)]
    with pytest.raises(BudgetError) as info:
        _plan(costs, 300, "auto", max_seconds=60)
    msg = str(info.value)
    assert "(auto: 'layer1' matfree, 'layer2' matfree)" in msg
    fits = _fits(msg)
    assert fits == 20  # ⌊60 / 3⌋ with both layers matrix-free
    assert _plan(costs, fits, "auto", max_seconds=60).methods == ("matfree", "matfree")
    with pytest.raises(BudgetError):
        _plan(costs, fits + 1, "auto", max_seconds=60)


def test_matfree_refusal_suggests_fewer_probes() -> None:
    with pytest.raises(BudgetError, match=r"or fewer probes / max_steps"):
        _plan([_cost("a", 1.0, 5.0)], 1000, "matfree")


def test_not_even_one_sample_fits_and_one_sample_fits() -> None:
    with pytest.raises(BudgetError, match=r"not even 1 sample fits; or raise max_seconds"):
        _plan([_cost("a", 12.0, 1.5)], 10, "exact", max_seconds=1.0)
    with pytest.raises(BudgetError, match=r"; at most 1 sample fits: pass X\[:1\]; or "):
        _plan([_cost("a", 12.0, 1.5)], 10, "exact", max_seconds=20.0)


def test_memory_lowers_the_exact_batch_and_never_raises_it() -> None:
    costs = [_cost("a", 0.01, 1.0, exact_bytes=GiB, fixed_bytes=GiB // 2)]
    assert _plan(costs, 100, "exact", max_bytes=4 * GiB).batches == (3,)  # (4 − ½) // 1
    assert _plan(costs, 100, "exact", max_bytes=64 * GiB, batch_size=8).batches == (8,)
    assert _plan(costs, 5, "exact", max_bytes=64 * GiB).batches == (5,)


def test_a_layer_too_big_for_exact_memory_is_refused_or_goes_matfree() -> None:
    wide = _cost("block", 1.0, 2.0, width=65536, exact_bytes=96 * GiB, matfree_bytes=GiB)
    with pytest.raises(BudgetError) as info:
        _plan([wide], 10, "exact", max_bytes=10 * GiB)
    msg = str(info.value)
    assert msg.startswith("Jacobian diagnostics (exact) of layers 'block' (width 65,536) cannot "
                          "fit in memory: exact: 96.00 GiB for one sample of 'block' (its "
                          "65,536×65,536 Jacobian, LU and SVD copies and the backward pass), but "
                          "the memory budget is 10.00 GiB (max_bytes); no sample size fits.")
    assert msg.endswith("use method='matfree' (about 1.00 GiB per sample), or raise max_bytes=… "
                        "(estimated time at N=10: exact 10 s, matrix-free about 20 s)")
    est = _plan([wide], 10, "auto", max_bytes=10 * GiB)
    assert est.methods == ("matfree",)
    with pytest.raises(BudgetError, match=r"matrix-free: 1.00 GiB for one sample") as info:
        _plan([wide], 10, "auto", max_bytes=GiB // 2)
    assert info.value.kind == "memory"


def test_format_seconds() -> None:
    assert [format_seconds(t) for t in (0.5, 75, 600, 7200, math.nan, math.inf)] == [
        "0.5 s", "75 s", "10.0 min", "2.0 h", "unknown", "∞"]


class Residual(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.5 * torch.tanh(self.fc(x))


def _net() -> nn.Module:
    return nn.Sequential(Residual(12), nn.Linear(12, 12), nn.Linear(12, 2))


def test_end_to_end_refusals_come_before_any_jacobian() -> None:
    X = np.random.default_rng(0).standard_normal((30, 12))
    with pytest.raises(BudgetError, match=(
            r"^Jacobian diagnostics \(exact: '0' exact, '1' exact\) of 2 layer\(s\) '0' \(width "
            r"12\), '1' \(width 12\) on N=30 samples: estimated .* but the time budget is "
            r"1e-09 s \(max_seconds=1e-09\); not even 1 sample fits")) as info:
        jacobian_diagnostics(_net(), X, method="exact", max_seconds=1e-9)
    cost = info.value.estimate
    assert cost.n == 30 and [c.width for c in cost.layers] == [12, 12]
    assert all(c.exact_seconds > 0 and c.matfree_seconds > 0 for c in cost.layers)
    with pytest.raises(BudgetError, match=r"cannot fit in memory: exact: .* for one "
                       r"sample of '0' .* the memory budget is 1 bytes \(max_bytes\)"):
        jacobian_diagnostics(_net(), X, method="exact", max_bytes=1)


def test_the_estimate_is_on_the_result_and_a_lowered_batch_changes_numbers_only_by_rounding(
) -> None:
    X = np.random.default_rng(1).standard_normal((20, 12))
    full = jacobian_diagnostics(_net(), X)
    est = full.estimate
    assert est is not None and est.methods == ("exact", "exact")
    assert est.batches == (20, 20) and math.isnan(est.layers[0].matfree_seconds)
    # one sample's memory as the budget: the exact path runs one sample at a time
    one = max(c.exact_bytes + c.fixed_bytes for c in est.layers)
    small = jacobian_diagnostics(_net(), X, max_bytes=one)
    assert small.estimate is not None and small.estimate.batches == (1, 1)
    for a, b in zip(full.layers, small.layers, strict=True):  # batched BLAS rounds differently
        np.testing.assert_allclose(a.logabsdet, b.logabsdet, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(a.condition, b.condition, rtol=1e-12)
        np.testing.assert_array_equal(a.orientation_preserved, b.orientation_preserved)


def test_budget_arguments_are_validated() -> None:
    X = np.zeros((3, 12))
    with pytest.raises(ConfigError, match=r"method='fast': expected one of \['auto', 'exact', "
                                        r"'matfree'\]"):
        jacobian_diagnostics(_net(), X, method="fast")
    for bad in (0, -1.0, True, "60"):
        with pytest.raises(ConfigError, match=r"max_seconds=.*: expected a number of seconds > 0"):
            jacobian_diagnostics(_net(), X, max_seconds=bad)  # type: ignore[arg-type]
    for bad_bytes in (0, 1.5, False):
        with pytest.raises(ConfigError, match=r"max_bytes=.*: expected an int >= 1 \(bytes\)"):
            jacobian_diagnostics(_net(), X, max_bytes=bad_bytes)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"matfree is a dict; expected MatfreeOptions"):
        jacobian_diagnostics(_net(), X, matfree={"probes": 4})  # type: ignore[arg-type]
