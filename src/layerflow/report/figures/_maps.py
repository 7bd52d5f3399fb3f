"""Curve-of-maps figure (Dong et al.): the orientation-preserving share per layer."""

from __future__ import annotations

from typing import Any

import pandas as pd

from layerflow.report.figures._common import lines_figure, per_layer_table


def jacobian_table(runs: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Per dataset, variant and layer: mean fraction of samples with ``det J > 0``."""
    return per_layer_table(runs, layers, ("orientation_fraction",), trained_only=False)


def figure_jacobian(table: pd.DataFrame) -> Any:
    """Fraction of samples where each layer is a local orientation-preserving diffeomorphism."""
    fig = lines_figure(table, "Jacobian diagnostics: orientation-preserving fraction per layer")
    for row in fig.axes:
        if row.get_ylabel():
            row.set_ylim(-0.05, 1.05)
    return fig
