"""Confidence intervals that respect a quantity's range.

The report states every estimate with a 95 % interval. An interval must stay inside the
quantity's range — an accuracy interval inside [0, 1], a kinetic energy interval above 0 — so
the default is the **percentile bootstrap** of the mean (seeded), whose end points are means of
resampled values and therefore lie in ``[min(x), max(x)]`` of the data: inside any range the data
respect. Proportions use the **Wilson score** interval, always inside [0, 1]. The Student-t
interval stays available (:func:`t_interval`) for comparison with papers that use it; its ends
are clipped to a declared range when one is given.

References: Efron & Tibshirani (1993), *An Introduction to the Bootstrap*, ch. 13 (percentile
interval); Wilson (1927), *JASA* 22:209 (score interval); Brown, Cai & DasGupta (2001), *Stat.
Sci.* 16:101 (why Wilson rather than the Wald interval).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from layerflow._errors import ConfigError

DEFAULT_BOOT = 2000  # resamples; the interval ends move by < 0.01·σ/√n between seeds at this size


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided interval at ``level``.

    ``mean`` is the estimate (the sample mean, a proportion, or a difference of means), ``low`` /
    ``high`` the interval (NaN when it cannot be estimated, e.g. ``n < 2``), ``n`` the sample
    size, ``std`` the sample standard deviation (ddof = 1; NaN for proportions), ``method`` one
    of ``"bootstrap"``, ``"wilson"``, ``"t"``.
    """

    mean: float
    low: float
    high: float
    n: int
    std: float
    level: float = 0.95
    method: str = "bootstrap"

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share a point (False if either is undefined)."""
        if any(math.isnan(v) for v in (self.low, self.high, other.low, other.high)):
            return False
        return self.low <= other.high and other.low <= self.high

    def excludes(self, value: float) -> bool:
        """Whether ``value`` lies outside the interval (False if it is undefined)."""
        if math.isnan(self.low) or math.isnan(self.high):
            return False
        return value < self.low or value > self.high


def _check_level(level: float) -> None:
    if not (isinstance(level, float | int) and 0.0 < level < 1.0):
        raise ConfigError(f"level={level!r}: expected a confidence level with 0 < level < 1")


def _finite(values: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    """The finite values: NaN (a failed run) and ±inf (an undefined value, e.g. the geodesic
    mass of a disconnected graph) have no place in a mean; callers count them."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ConfigError(f"{what} needs at least one finite value; got none")
    return x


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95,
               low: float | None = None, high: float | None = None) -> Interval:
    """Mean with a Student-t interval ``mean ± t_{(1+level)/2, n-1} · s/√n`` (non-finite values dropped).

    ``low``/``high`` (the quantity's range) clip the ends when given. ``n < 2``: no interval.
    """
    from scipy import stats

    _check_level(level)
    x = _finite(values, "t_interval")
    n = int(x.size)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, math.nan, level, "t")
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1)) * std / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if low is not None:
        lo = max(lo, low)
    if high is not None:
        hi = min(hi, high)
    return Interval(mean, lo, hi, n, std, level, "t")


def bootstrap_mean_interval(values: Sequence[float] | np.ndarray, level: float = 0.95,
                            n_boot: int = DEFAULT_BOOT, seed: int = 0) -> Interval:
    """Mean with a seeded percentile-bootstrap interval (non-finite values dropped).

    The ends are quantiles of means of resamples, so they lie in ``[min(x), max(x)]``: the
    interval of a bounded quantity stays in its range. ``n < 2``: no interval.
    """
    _check_level(level)
    x = _finite(values, "bootstrap_mean_interval")
    n = int(x.size)
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, math.nan, level)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [a, 1.0 - a])
    return Interval(mean, float(lo), float(hi), n, float(x.std(ddof=1)), level)


def bootstrap_diff_interval(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray,
                            level: float = 0.95, n_boot: int = DEFAULT_BOOT,
                            seed: int = 0, paired: bool = False) -> Interval:
    """``mean(a) − mean(b)`` with a seeded percentile-bootstrap interval.

    ``paired=True`` resamples pairs ``(a_i, b_i)`` (equal lengths, NaN pairs dropped); otherwise
    the two samples are resampled independently. ``n`` is the number of pairs (paired) or the
    smaller sample size.
    """
    _check_level(level)
    x = np.asarray(a, dtype=np.float64).reshape(-1)
    y = np.asarray(b, dtype=np.float64).reshape(-1)
    rng = np.random.default_rng(seed)
    q = (1.0 - level) / 2.0
    if paired:
        if x.shape != y.shape:
            raise ConfigError(f"paired samples need equal lengths, got {x.size} and {y.size}")
        ok = ~(np.isnan(x) | np.isnan(y))
        d = _finite(x[ok] - y[ok], "bootstrap_diff_interval")
        iv = bootstrap_mean_interval(d, level, n_boot, seed)
        return Interval(iv.mean, iv.low, iv.high, iv.n, iv.std, level)
    x, y = _finite(x, "bootstrap_diff_interval (a)"), _finite(y, "bootstrap_diff_interval (b)")
    est = float(x.mean() - y.mean())
    n = int(min(x.size, y.size))
    if n < 2:
        return Interval(est, math.nan, math.nan, n, math.nan, level)
    dm = (x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
          - y[rng.integers(0, y.size, size=(n_boot, y.size))].mean(axis=1))
    lo, hi = np.quantile(dm, [q, 1.0 - q])
    return Interval(est, float(lo), float(hi), n, math.nan, level)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> Interval:
    """Proportion ``successes / n`` with the Wilson score interval (always inside [0, 1]).

    .. math:: \\frac{\\hat p + z^2/2n \\pm z\\sqrt{\\hat p(1-\\hat p)/n + z^2/4n^2}}{1 + z^2/n}
    """
    from scipy import stats

    _check_level(level)
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ConfigError(f"n={n!r}: a proportion needs at least one trial")
    if not (isinstance(successes, int | np.integer) and 0 <= successes <= n):
        raise ConfigError(f"successes={successes!r}: expected an int in [0, n={n}]")
    z = float(stats.norm.ppf((1.0 + level) / 2.0))
    p = successes / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), int(n), math.nan, level,
                    "wilson")


def mean_interval(values: Sequence[float] | np.ndarray, method: str = "bootstrap",
                  level: float = 0.95, seed: int = 0) -> Interval:
    """The report's interval of a mean: ``"bootstrap"`` (default) or ``"t"``."""
    if method == "bootstrap":
        return bootstrap_mean_interval(values, level, seed=seed)
    if method == "t":
        return t_interval(values, level)
    raise ConfigError(f"method={method!r}: expected 'bootstrap' or 't'")
