"""The transport cost formula (models._cost): both forms against the authors' expression."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerflow._errors import LayerflowError
from layerflow.models import (
    TRANSPORT_REDUCTIONS,
    check_reduction,
    displacement_cost,
    velocity_cost,
)

F64 = torch.float64


@pytest.mark.parametrize("shape", [(6, 4), (5, 3, 4, 4), (7,)])
@pytest.mark.parametrize("h", [1.0, 0.3])
def test_both_forms_equal_the_authors_expression(shape: tuple[int, ...], h: float) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, dtype=F64, generator=gen)
    r = torch.randn(*shape, dtype=F64, generator=gen)
    lap = torch.mean(torch.abs(r) ** 2).item()  # LAP main.py, one block, pnorm = 2
    per_sample_sum = float(np.mean([(r[i] ** 2).sum().item() for i in range(shape[0])]))
    for reduction, expected in (("mean", lap), ("sum", per_sample_sum)):
        np.testing.assert_allclose(velocity_cost(r, reduction).item(), expected, rtol=1e-13)
        np.testing.assert_allclose(displacement_cost(x + h * r, x, h, reduction).item(), expected,
                                   rtol=1e-12)
    stacked = torch.stack([r, 2 * r])  # lead=1: one term per member
    np.testing.assert_allclose(velocity_cost(stacked, "mean", lead=1).numpy(), [lap, 4 * lap],
                               rtol=1e-13)
    np.testing.assert_allclose(velocity_cost(stacked, "sum", lead=1).numpy(),
                               [per_sample_sum, 4 * per_sample_sum], rtol=1e-13)
    assert sorted(TRANSPORT_REDUCTIONS) == ["mean", "sum"]


def test_check_reduction_raises_the_callers_error_naming_the_parameter() -> None:
    class _Err(LayerflowError):
        pass

    for name in TRANSPORT_REDUCTIONS:
        check_reduction(name, _Err)  # accepted
    with pytest.raises(_Err, match=r"^reduction='l1': expected one of \['mean', 'sum'\]$"):
        check_reduction("l1", _Err)
    with pytest.raises(_Err, match=r"^transport_reduction=None: expected one of"):
        check_reduction(None, _Err, "transport_reduction")
