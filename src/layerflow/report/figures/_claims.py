"""Forest plots of the claims: per claim row, each unit's estimate and the combined one.

:func:`forest_table` turns one :class:`~layerflow.stats.claims.Claim` into the table the plot
is drawn from (a row per unit, then the combined row), so the picture and the numbers printed
under it cannot disagree.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from layerflow.report.figures._common import figure_grid
from layerflow.stats.claims import Claim

#: units drawn in one forest plot (all of them are in its table)
MAX_FOREST_ROWS = 40


def forest_table(claim: Claim) -> pd.DataFrame:
    """``label, estimate, low, high, n, combined`` for one claim row (empty without cells)."""
    rows: list[dict[str, Any]] = [
        {"label": c.label, "estimate": c.estimate, "low": c.low, "high": c.high, "n": c.n,
         "combined": False} for c in claim.cells]
    if not rows:
        return pd.DataFrame(columns=["label", "estimate", "low", "high", "n", "combined"])
    rows.append({"label": f"combined ({claim.n_units} {claim.unit_word})",
                 "estimate": claim.estimate, "low": claim.interval[0],
                 "high": claim.interval[1], "n": claim.n_networks, "combined": True})
    return pd.DataFrame(rows)


def figure_forest(table: pd.DataFrame, title: str = "", null: float = 0.0) -> Any:
    """A forest plot of :func:`forest_table`'s rows (the first :data:`MAX_FOREST_ROWS` units
    and the combined row)."""
    cells = table[~table["combined"]].head(MAX_FOREST_ROWS)
    shown = pd.concat([cells, table[table["combined"]]], ignore_index=True)
    n = len(shown)
    fig, axes = figure_grid(1, 1, w=7.5, h=max(1.6, 0.28 * n + 0.9))
    ax = axes[0, 0]
    ys = list(range(n))[::-1]
    for y, (_, r) in zip(ys, shown.iterrows(), strict=True):
        colour = "#b03030" if r["combined"] else "#34568b"
        marker = "D" if r["combined"] else "s"
        if math.isfinite(r["low"]) and math.isfinite(r["high"]):
            ax.plot([r["low"], r["high"]], [y, y], color=colour, lw=1.4)
        if math.isfinite(r["estimate"]):
            ax.plot([r["estimate"]], [y], marker=marker, color=colour, ms=5)
    ax.axvline(null, color="#888", lw=0.8, ls="--")
    ax.set_yticks(ys)
    ax.set_yticklabels([_short(str(v)) for v in shown["label"]], fontsize=7)
    ax.tick_params(axis="x", labelsize=8)
    if title:
        ax.set_title(title[:90], fontsize=8)
    return fig


def _short(label: str, size: int = 48) -> str:
    """A label cut in the middle (the data set's arguments), keeping its start and its shape."""
    return label if len(label) <= size else label[: size // 2 - 2] + "…" + label[-(size // 2 + 1):]
