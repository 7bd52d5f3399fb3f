from __future__ import annotations

import numpy as np
from ricci_reference import random_relu_states

from layerflow.ricci import (
    layer_coefficients,
    local_coefficients,
    ricci_coefficient,
    ricci_sweep,
)


def test_sweep_equals_separate_runs() -> None:
    states = random_relu_states(100, 6)
    sw = ricci_sweep(states, ks=(4, 9, 6))
    assert sw.ks == (4, 9, 6)
    for k in (4, 6, 9):
        one = ricci_coefficient(states, k=k)
        np.testing.assert_array_equal(sw.global_[k].geodesic_mass, one.geodesic_mass)
        np.testing.assert_array_equal(sw.global_[k].scalar_curvature, one.scalar_curvature)
        assert sw.global_[k].coefficient == one.coefficient or np.isnan(one.coefficient)
        np.testing.assert_array_equal(sw.local[k].values, local_coefficients(states, k=k).values)
        np.testing.assert_array_equal(sw.layer[k].values, layer_coefficients(states, k=k).values)
    sw_d = ricci_sweep(states, ks=(5,), degree="directed", local=False)
    assert sw_d.local == {} and sw_d.layer == {}
    assert sw_d.global_[5].degree == "directed"
