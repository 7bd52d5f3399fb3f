"""Every metric a view declares, summarised per data set and variant (read from the views).

A column a view declares (:mod:`layerflow.views`) appears here as soon as the store holds it, with
its label and the mean and 95 % interval over networks (percentile bootstrap), so a metric added
to a view reaches the report without touching the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerflow.stats.intervals import mean_interval
from layerflow.stats.tables import finished, prepare_runs
from layerflow.views import VIEWS, column_declarations, get_view

__all__ = ["view_summaries"]


def view_summaries(runs: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    """``view name -> (title, table)``; the table has a row per (dataset, variant, metric) with
    ``label``, ``n``, ``mean``, ``low``, ``high``. Views with no column in the store are left out."""
    df = finished(prepare_runs(runs)) if "variant" not in runs.columns else finished(runs)
    declared = column_declarations(df.columns)
    out: dict[str, tuple[str, pd.DataFrame]] = {}
    for name in VIEWS:
        view = get_view(name)
        cols = [(c, col) for col in view.columns if not col.per_layer and col.kind == "float"
                for c, (owner, d) in declared.items() if owner == name and d is col]
        rows = []
        for (ds, var), grp in df.groupby(["dataset", "variant"], sort=False):
            for c, col in cols:
                v = pd.to_numeric(grp[c], errors="coerce").to_numpy(dtype=np.float64)
                v = v[np.isfinite(v)]
                if v.size == 0:
                    continue
                iv = mean_interval(v)
                rows.append({"dataset": ds, "variant": var, "metric": c, "label": col.label,
                             "n": iv.n, "mean": iv.mean,
                             "low": iv.low,
                             "high": iv.high})
        if rows:
            out[name] = (f"{view.title} ({view.paper}): every metric", pd.DataFrame(rows))
    return out

