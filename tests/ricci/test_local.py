from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr

from layerflow.ricci import (
    layer_coefficients,
    local_coefficients,
)

from .reference import random_relu_states, ref_local, two_clusters


@pytest.mark.parametrize(("n", "k", "seed"), [(50, 4, 0), (120, 7, 1)])
def test_local_and_layer_coefficients_match_reference(n: int, k: int, seed: int) -> None:
    states = random_relu_states(n, seed)
    curv, delta = ref_local(states, k)
    lc = local_coefficients(states, k=k)
    np.testing.assert_allclose(lc.curvature, curv, atol=1e-12)
    np.testing.assert_allclose(lc.delta, delta, atol=1e-12)
    for x in range(n):
        a, b = curv[:, x], delta[:, x]
        if np.ptp(a) == 0 or np.ptp(b) == 0 or not np.isfinite(b).all():
            assert np.isnan(lc.values[x])
        else:
            np.testing.assert_allclose(lc.values[x], pearsonr(a, b).statistic, atol=1e-9)
    assert lc.n_undefined == int(np.isnan(lc.values).sum())
    yc = layer_coefficients(states, k=k)
    assert yc.values.shape == (len(states) - 1,)
    for layer in range(len(states) - 1):
        np.testing.assert_allclose(
            yc.values[layer], pearsonr(curv[layer], delta[layer]).statistic, atol=1e-9
        )


def test_local_nan_cases() -> None:
    # the same cloud in every layer: δ = 0 everywhere -> zero variance -> NaN everywhere
    X = np.random.default_rng(0).normal(size=(30, 2))
    lc = local_coefficients([X, X, X, X], k=4)
    assert np.isnan(lc.values).all() and lc.n_undefined == 30
    assert np.isnan(lc.mean)
    np.testing.assert_array_equal(lc.delta, 0.0)
    assert np.isnan(layer_coefficients([X, X], k=4).values).all()
    # unreachable neighbours in a disconnected next layer
    lc2 = local_coefficients(two_clusters(), k=5)
    assert lc2.n_unreachable > 0
    assert np.isinf(lc2.delta[1]).any()
