"""Dong et al. 2017: are the layers local orientation-preserving diffeomorphisms?"""

from __future__ import annotations

import pandas as pd

from layerflow.report._data import layer_metric
from layerflow.report._findings.base import Finding, fmt_percent


def jacobian_orientation(runs: pd.DataFrame, layers: pd.DataFrame) -> list[Finding]:
    """Dong et al.: share of samples at which each layer keeps orientation, residual vs plain."""
    lm = layer_metric(layers, "orientation_fraction")
    if lm.empty:
        return []
    df = runs[runs["trained"] & runs["kind"].isin(["residual", "plain"])]
    merged = lm.merge(df[["run_id", "kind"]], on="run_id")
    merged = merged.dropna(subset=["value"])
    if merged.empty:
        return []
    means = merged.groupby("kind")["value"].mean()
    counts = merged.groupby("kind")["run_id"].nunique()
    if not {"residual", "plain"} <= set(means.index):
        return []
    r, p = float(means["residual"]), float(means["plain"])
    word = "more" if r > p else ("less" if r < p else "as")
    tail = "than" if word != "as" else "as"
    text = (
        f"Residual layers were orientation-preserving (det J > 0) at {fmt_percent(r)} of "
        f"samples on average, plain layers at {fmt_percent(p)} (residual {word} often {tail} "
        f"plain; "
        f"{int(counts['residual'])} vs {int(counts['plain'])} trained networks)."
    )
    return [
        Finding(
            "jacobian_orientation", "maps", text,
            {"residual_mean": r, "plain_mean": p, "n_residual": int(counts["residual"]),
             "n_plain": int(counts["plain"])},
        )
    ]
