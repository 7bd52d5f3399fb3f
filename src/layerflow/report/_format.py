"""How the report prints a number: three significant figures, "—" where a value is undefined.

One function for every table cell, sentence and figure title of the report, so the same value is
printed the same way everywhere. The stored values keep their full precision (the Parquet store,
``findings.json``); only the printed text is rounded.
"""

from __future__ import annotations

import math
from typing import Any

#: what the report prints for an undefined value (NaN, None, a missing cell)
UNDEFINED = "—"


def format_number(v: Any, digits: int = 3) -> str:
    """``v`` as printed: floats to ``digits`` significant figures (``0.000123`` → ``"0.000123"``,
    ``1234.5`` → ``"1230"``, ``1.5e-7`` → ``"1.5e-07"``, ``2.5e6`` → ``"2.5e+06"``), integers in
    full, NaN / None / a missing value as ``"—"``, infinities as ``"∞"`` / ``"-∞"``; anything
    else as ``str(v)``."""
    if v is None:
        return UNDEFINED
    if isinstance(v, bool | str):
        return str(v)
    if hasattr(v, "item") and not isinstance(v, int | float):
        try:
            v = v.item()  # a NumPy scalar
        except (ValueError, AttributeError):
            pass
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return UNDEFINED
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v == 0.0:
            return "0"
        exponent = math.floor(math.log10(abs(v)))
        if 1e-4 <= abs(v) < 1e6:
            decimals = max(0, digits - 1 - exponent)
            text = f"{round(v, digits - 1 - exponent):.{decimals}f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return "0" if text in ("-0", "") else text
        return f"{v:.{digits}g}"
    try:
        import pandas as pd

        if pd.isna(v):
            return UNDEFINED
    except (TypeError, ValueError, ImportError):
        pass
    return str(v)
