"""Every metric a view declares, summarised per data set and variant (read from the views).

A column a view declares (:mod:`layerflow.views`) appears here as soon as the store holds it, with
its label and the mean and 95 % interval over networks (percentile bootstrap), so a metric added
to a view reaches the report without touching the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerflow.stats._intervals import mean_interval
from layerflow.stats._tables import require_prepared
from layerflow.views import VIEWS, column_declarations, get_view


def _same_values(a: pd.Series, b: pd.Series) -> bool:
    """Two store columns that hold the same value for every network (NaN where the other is)."""
    x = pd.to_numeric(a, errors="coerce").to_numpy(dtype=np.float64)
    y = pd.to_numeric(b, errors="coerce").to_numpy(dtype=np.float64)
    return bool(np.array_equal(x, y, equal_nan=True))


def view_tables(runs: pd.DataFrame) -> dict[str, tuple[str, pd.DataFrame]]:
    """``view name -> (title, table)``; the table has a row per (metric, dataset, variant) with
    ``label``, ``n``, ``mean``, ``low``, ``high``, sorted by metric (in the order the view
    declares them), data set and variant. A column holding the same value as an earlier one for
    every network (``lss_median`` equal to ``lss_mean``) is one row, its label
    naming both. Views with no column in the store are left out. ``runs``: the finished runs
    of a prepared runs table (:func:`~layerflow.stats._tables.prepare_runs`)."""
    df = require_prepared(runs, "view_tables")
    declared = column_declarations(df.columns)
    out: dict[str, tuple[str, pd.DataFrame]] = {}
    for name in VIEWS:
        view = get_view(name)
        cols = [(c, col) for col in view.columns if not col.per_layer and col.kind == "float"
                for c, (owner, d) in declared.items() if owner == name and d is col]
        kept: list[tuple[str, str]] = []  # (column, label)
        for c, col in cols:
            twin = next((i for i, (k, _) in enumerate(kept) if _same_values(df[k], df[c])), None)
            if twin is None:
                kept.append((c, col.label))
            else:
                k, label = kept[twin]
                kept[twin] = (k, f"{label} (= {c})")
        rows = []
        for order, (c, label) in enumerate(kept):
            for (ds, var), grp in df.groupby(["dataset", "variant"], sort=True):
                v = pd.to_numeric(grp[c], errors="coerce").to_numpy(dtype=np.float64)
                v = v[np.isfinite(v)]
                if v.size == 0:
                    continue
                iv = mean_interval(v)
                rows.append({"dataset": ds, "variant": var, "metric": c, "label": label,
                             "n": iv.n, "mean": iv.mean, "low": iv.low, "high": iv.high,
                             "_order": order})
        if rows:
            table = pd.DataFrame(rows).sort_values(["_order", "dataset", "variant"],
                                                   kind="stable")
            out[name] = (f"{view.title} ({view.paper})",
                         table.drop(columns="_order").reset_index(drop=True))
    return out
