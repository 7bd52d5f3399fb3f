"""Validation of the Ricci view's inputs (internal).

The public entry points validate once, here, and hand checked arrays to the rest of the
package: a C-contiguous float64 ``(N, d)`` array, an int ``1 ≤ k ≤ N − 1``, option strings from
their lists. Errors repeat the bad value and say what was expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from layerflow.errors import LayerflowError
from layerflow.trajectory import nonfinite_rows

__all__ = ["RicciInputError", "check_choice", "check_k", "check_k_type", "check_points"]


class RicciInputError(LayerflowError):
    """Bad input to the Ricci view (k out of range, NaN in a state, unknown option, …)."""


def _where(layer: str | None) -> str:
    return f" ({layer})" if layer else ""


def check_points(X: Any, *, layer: str | None = None) -> np.ndarray:
    """Validate a point cloud and return it as a C-contiguous float64 array of shape ``(N, d)``.

    A 1-D array is one feature per point. Raises :class:`RicciInputError` for non-numeric data,
    NaN or infinite values (naming the first bad row), or no points.
    """
    if hasattr(X, "detach") and hasattr(X, "cpu"):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X)
    except Exception as exc:
        raise RicciInputError(
            f"points{_where(layer)} could not be read as an array: {exc}"
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise RicciInputError(
            f"points{_where(layer)} have dtype {arr.dtype}; expected a real numeric array (N, d)"
        )
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim != 2:
        raise RicciInputError(
            f"points{_where(layer)} have shape {arr.shape}; expected a 2-D array (N, d)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise RicciInputError(f"points{_where(layer)} have shape {arr.shape}; expected N, d >= 1")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    bad = nonfinite_rows(arr)
    if bad:
        raise RicciInputError(
            f"points{_where(layer)} have {bad}; the Ricci view needs finite coordinates"
        )
    return arr


def check_k_type(k: Any) -> int:
    """k is an int ≥ 1 (not a bool)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise RicciInputError(f"k={k!r}: expected an int >= 1")
    return int(k)


def check_k(k: Any, n: int, *, layer: str | None = None) -> int:
    """Validate k against the number of points N (1 ≤ k ≤ N−1)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise RicciInputError(f"k={k!r}: expected an int >= 1")
    k = int(k)
    if k < 1:
        raise RicciInputError(f"k={k}: expected k >= 1 neighbours")
    if k >= n:
        raise RicciInputError(
            f"k={k} needs more than {k} points; {layer or 'the point cloud'} has {n}"
        )
    return k


def check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    """``value`` is one of ``allowed`` (``"degree='x': expected one of [...]"`` otherwise)."""
    if value not in allowed:
        raise RicciInputError(f"{name}={value!r}: expected one of {list(allowed)}")
    return str(value)
