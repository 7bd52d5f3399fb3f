"""Statistics across runs, in one place: correlations, intervals that respect a quantity's range,
the accuracy study and the claims. The report's sentences and its claims table call these; nothing
here prints or plots.
"""

from __future__ import annotations

from layerflow.stats.correlation import (
    bootstrap_pearson,
    pearson,
    pearson_rows,
    pearson_with_reason,
)

__all__ = ["bootstrap_pearson", "pearson", "pearson_rows", "pearson_with_reason"]
