"""Intervals that respect a quantity's range, against scipy and written-out references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from layerflow._errors import ConfigError
from layerflow.stats import (
    bootstrap_diff_interval,
    bootstrap_mean_interval,
    t_interval,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(0, 5), (3, 3), (7, 20), (499, 1000), (1, 1)])
def test_wilson_equals_scipy_and_stays_in_0_1(k: int, n: int) -> None:
    iv = wilson_interval(k, n)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    np.testing.assert_allclose([iv.low, iv.high], [ref.low, ref.high], rtol=1e-12, atol=1e-15)
    assert 0.0 <= iv.low <= iv.mean == k / n <= iv.high <= 1.0


def test_bootstrap_of_accuracies_near_one_stays_below_one() -> None:
    """The case that broke the t-interval: three seeds near 1.0 (it reached 1.5)."""
    acc = np.array([0.504, 0.504, 1.0])
    t = stats.t.interval(0.95, 2, loc=acc.mean(), scale=stats.sem(acc))
    assert t[1] > 1.0  # the t-interval leaves the range
    iv = bootstrap_mean_interval(acc)
    assert acc.min() <= iv.low <= iv.mean <= iv.high <= acc.max() <= 1.0
    idx = np.random.default_rng(0).integers(0, 3, size=(2000, 3))
    np.testing.assert_allclose([iv.low, iv.high],
                               np.quantile(acc[idx].mean(axis=1), [0.025, 0.975]))


def test_t_interval_clips_to_a_declared_range() -> None:
    iv = t_interval([0.504, 0.504, 1.0], low=0.0, high=1.0)
    assert iv.high == 1.0 and iv.method == "t"


def test_paired_and_unpaired_differences() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(1.0, 0.1, 30)
    b = a - 0.5 + rng.normal(0, 0.01, 30)
    paired = bootstrap_diff_interval(a, b, paired=True)
    assert paired.low > 0.45 and paired.high < 0.55  # pairing removes the common spread
    unpaired = bootstrap_diff_interval(a, b)
    assert unpaired.high - unpaired.low > paired.high - paired.low
    with pytest.raises(ConfigError, match="equal lengths, got 30 and 29"):
        bootstrap_diff_interval(a, b[:29], paired=True)


def test_undefined_and_bad_input() -> None:
    iv = bootstrap_mean_interval([0.7, float("nan")])
    assert iv.n == 1 and math.isnan(iv.low)
    assert not iv.excludes(0.0)
    with pytest.raises(ConfigError, match="at least one finite value"):
        bootstrap_mean_interval([float("nan")])
    with pytest.raises(ConfigError, match=r"level=1\.5"):
        bootstrap_mean_interval([1.0, 2.0], level=1.5)
    with pytest.raises(ConfigError, match="successes=4"):
        wilson_interval(4, 3)
    with pytest.raises(ConfigError, match="n=0"):
        wilson_interval(0, 0)
