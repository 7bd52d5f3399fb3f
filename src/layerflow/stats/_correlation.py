"""Pearson correlation, one implementation for every caller (Ricci coefficients, the accuracy
study, the claims): a scalar form that says why a value is undefined, its row-wise twin for many
correlations at once, and a seeded percentile bootstrap interval.

.. math::

    r(x, y) = \\frac{\\sum_i (x_i - \\bar x)(y_i - \\bar y)}
                   {\\sqrt{\\sum_i (x_i - \\bar x)^2}\\,\\sqrt{\\sum_i (y_i - \\bar y)^2}}
    \\in [-1, 1]

Undefined (NaN, with the reason) for fewer than 3 pairs, non-finite values or zero variance.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from layerflow._errors import ConfigError


def pearson_with_reason(x: np.ndarray, y: np.ndarray) -> tuple[float, str]:
    """Pearson correlation of two 1-D arrays of shape ``(n,)``, with the reason when undefined.

    Returns ``(r, "")`` with ``r`` clipped to [-1, 1], or ``(nan, reason)`` for fewer than 3
    values, non-finite values, or zero variance of either array.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ConfigError(
            f"pearson needs two 1-D arrays of one length, got shapes {x.shape} and {y.shape}")
    if x.size < 3:
        return float("nan"), f"{x.size} pairs; a correlation needs at least 3"
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        return float("nan"), "non-finite values"
    xc = x - x.mean()
    yc = y - y.mean()
    sx = float(np.sqrt(xc @ xc))
    sy = float(np.sqrt(yc @ yc))
    if sx == 0.0 or sy == 0.0:
        return float("nan"), "zero variance"
    r = float(xc @ yc) / (sx * sy)
    return max(-1.0, min(1.0, r)), ""


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """:func:`pearson_with_reason` without the reason: ``r`` or NaN."""
    return pearson_with_reason(x, y)[0]


def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of two ``(R, n)`` arrays -> ``(R,)``.

    Row r is NaN where :func:`pearson_with_reason` would be undefined (n < 3, a non-finite value,
    zero variance); values are clipped to [-1, 1].
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ConfigError(
            f"pearson_rows needs two 2-D arrays of one shape, got {x.shape} and {y.shape}")
    with np.errstate(invalid="ignore", divide="ignore"):
        finite = np.isfinite(x).all(axis=1) & np.isfinite(y).all(axis=1)
        xs = np.where(finite[:, None], x, 0.0)
        ys = np.where(finite[:, None], y, 0.0)
        xc = xs - xs.mean(axis=1, keepdims=True)
        yc = ys - ys.mean(axis=1, keepdims=True)
        sx = np.sqrt(np.einsum("ij,ij->i", xc, xc))
        sy = np.sqrt(np.einsum("ij,ij->i", yc, yc))
        r = np.einsum("ij,ij->i", xc, yc) / (sx * sy)
    r[~finite | (sx == 0) | (sy == 0) | (x.shape[1] < 3)] = np.nan
    return cast(np.ndarray, np.clip(r, -1.0, 1.0))


def bootstrap_pearson(x: np.ndarray, y: np.ndarray, n_boot: int = 2000, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the Pearson correlation (pairs resampled, seeded).

    ``x``, ``y`` of shape ``(n,)``. Resamples whose correlation is undefined (zero variance) are
    dropped; ``(nan, nan)`` when fewer than 3 pairs or no resample is defined. The interval lies
    in [-1, 1] by construction (quantiles of clipped correlations).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = x.size
    if n < 3:
        return float("nan"), float("nan")
    if not (0 < level < 1):
        raise ConfigError(f"level={level!r}: expected a number in (0, 1)")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    r = pearson_rows(x[idx], y[idx])
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    lo, hi = np.quantile(r, [a, 1 - a])
    return float(lo), float(hi)
