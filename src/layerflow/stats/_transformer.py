"""Trained against untrained transformers: the numbers behind the token-trajectory claims.

The ``transformer`` study trains small transformers (``model_kind == "transformer"``) and
analyses untrained ones of the same shapes (``trained == False``), both per token
(``analysis.per_token``: a track is one token's path through the residual stream). For a metric,
:func:`trained_vs_untrained` gives the two groups' values and the difference of their means
``mean(trained) − mean(untrained)`` with a seeded percentile-bootstrap interval (the two groups
resampled independently: their networks are different networks, not pairs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from layerflow.stats._intervals import Interval, bootstrap_diff_interval, bootstrap_mean_interval
from layerflow.stats._tables import finished

TRANSFORMER_KIND = "transformer"


def transformer_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished transformer runs of a prepared runs table (empty when the store has none)."""
    if "model_kind" not in runs.columns:
        return runs.iloc[0:0]
    df = finished(runs)
    return df[df["model_kind"].astype(str) == TRANSFORMER_KIND]


@dataclass(frozen=True)
class TokenComparison:
    """One metric of trained and untrained transformers.

    ``trained`` / ``untrained``: the finite values, one per network; ``trained_iv`` /
    ``untrained_iv``: each group's mean with its bootstrap interval; ``difference``:
    ``mean(trained) − mean(untrained)`` with its bootstrap interval; ``runs``: the runs used.
    """

    metric: str
    trained: np.ndarray
    untrained: np.ndarray
    trained_iv: Interval
    untrained_iv: Interval
    difference: Interval
    runs: pd.DataFrame


def trained_vs_untrained(runs: pd.DataFrame, metric: str, level: float = 0.95,
                         minimum: int = 2) -> TokenComparison | None:
    """``metric`` of trained vs untrained transformers, or None when a group has fewer than
    ``minimum`` finite values (or the store has no such column).

    ``runs`` is a prepared runs table (:func:`~layerflow.stats._tables.prepare_runs`).
    """
    df = transformer_runs(runs)
    if df.empty or metric not in df.columns:
        return None
    values = pd.to_numeric(df[metric], errors="coerce").astype(np.float64)
    ok = np.isfinite(values.to_numpy())
    df, values = df[ok], values[ok]
    trained = values[df["trained"].astype(bool)].to_numpy(dtype=np.float64)
    untrained = values[~df["trained"].astype(bool)].to_numpy(dtype=np.float64)
    if trained.size < minimum or untrained.size < minimum:
        return None
    return TokenComparison(
        metric, trained, untrained,
        bootstrap_mean_interval(trained, level), bootstrap_mean_interval(untrained, level),
        bootstrap_diff_interval(trained, untrained, level), df)
