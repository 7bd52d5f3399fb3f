"""The one Pearson implementation against scipy, and its undefined cases."""

import numpy as np
import pytest
from scipy.stats import pearsonr

from layerflow import LayerflowError
from layerflow.stats import bootstrap_pearson, pearson, pearson_rows, pearson_with_reason


def test_scalar_matches_scipy_and_names_undefined_cases() -> None:
    assert np.isnan(pearson(np.array([1.0, 2.0]), np.array([1.0, 2.0])))
    assert pearson_with_reason(np.ones(4), np.arange(4.0))[1] == "zero variance"
    assert pearson_with_reason(np.array([1.0, np.inf, 2.0]), np.arange(3.0))[1] == \
        "non-finite values"
    x = np.random.default_rng(0).normal(size=20)
    y = x + np.random.default_rng(1).normal(size=20)
    np.testing.assert_allclose(pearson(x, y), pearsonr(x, y).statistic, atol=1e-12)


def test_rows_equal_scalar_per_row() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 9)), rng.normal(size=(6, 9))
    x[3] = 1.0  # zero variance
    y[4, 2] = np.nan
    got = pearson_rows(x, y)
    want = np.array([pearson(a, b) for a, b in zip(x, y, strict=True)])
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.isnan(got[3]) and np.isnan(got[4])


def test_bootstrap_interval_contains_estimate_and_stays_in_range() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=200)
    y = 0.9 * x + 0.1 * rng.normal(size=200)
    lo, hi = bootstrap_pearson(x, y, n_boot=500, seed=0)
    r = pearson(x, y)
    assert -1.0 <= lo <= r <= hi <= 1.0
    assert np.isnan(bootstrap_pearson(x[:2], y[:2])[0])


def test_bad_shapes_name_them() -> None:
    with pytest.raises(LayerflowError, match=r"\(3,\) and \(4,\)"):
        pearson(np.zeros(3), np.zeros(4))
    with pytest.raises(LayerflowError, match=r"level=1\.5"):
        bootstrap_pearson(np.arange(5.0), np.arange(5.0), level=1.5)
