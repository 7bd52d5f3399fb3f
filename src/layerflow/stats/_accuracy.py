"""The Ricci accuracy study (Baptista et al. 2024) over a sweep's run table.

Among well-trained networks (``test_acc >= threshold``, default 0.98) the Pearson correlation
``r = corr(ρ, test_acc)`` between the global Ricci coefficient and test accuracy, with a seeded
percentile-bootstrap 95 % interval, per dataset and pooled; the fraction of well-trained networks
with ``ρ < 0`` (Ricci-flow-like). Untrained networks of the same shapes are the baseline: for them
the same numbers are computed over all of them (no accuracy threshold, since untrained networks
are not well-trained). The authors' R code calls a network well-trained when its accuracy is
strictly above 0.98; ``strict=True`` applies that rule (:func:`well_trained`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from layerflow._errors import ConfigError
from layerflow.stats._correlation import bootstrap_pearson, pearson
from layerflow.stats._tables import finished

# "well-trained" networks have test accuracy >= 0.98 by default (the R code: > 0.98)
WELL_TRAINED = 0.98


def well_trained(acc: Any, threshold: float = WELL_TRAINED, strict: bool = False) -> Any:
    """Which accuracies count as well-trained: ``acc >= threshold`` (layerflow's default), or
    ``acc > threshold`` with ``strict=True`` (the authors' R code: ``acc > 0.98``). ``acc``: an
    array or Series (NaN is never well-trained)."""
    return acc > threshold if strict else acc >= threshold


@dataclass(frozen=True)
class AccuracyStudy:
    """Result of :func:`accuracy_study`.

    ``table`` has one row per (scope, trained): ``scope`` (a dataset name or ``"pooled"``),
    ``trained``, ``n`` (networks with a finite coefficient), ``n_well`` (of them well-trained; for
    untrained rows: all), ``r`` and ``ci_low``/``ci_high`` (corr of metric with test accuracy over
    those ``n_well``), ``frac_negative`` (fraction with metric < 0), ``mean``, ``median``.
    """

    table: pd.DataFrame
    metric: str
    threshold: float
    n_boot: int
    level: float


def accuracy_study(runs: pd.DataFrame, metric: str = "ricci_rho",
                   threshold: float = WELL_TRAINED, n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95, by: str = "dataset", strict: bool = False) -> AccuracyStudy:
    """The Ricci accuracy study over a run table (see the module docstring)."""
    for col in (metric, "test_acc", by):
        if col not in runs.columns:
            raise ConfigError(f"the run table has no column {col!r}; columns: {list(runs.columns)}")
    df = finished(runs)
    trained = df["trained"].astype(bool) if "trained" in df.columns else pd.Series(True, df.index)
    rows = []
    for is_trained in (True, False):
        part = df[trained == is_trained]
        if part.empty:
            continue
        scopes = [(str(name), g) for name, g in part.groupby(by, sort=True)]
        scopes.append(("pooled", part))
        for scope, g in scopes:
            vals = pd.to_numeric(g[metric], errors="coerce").to_numpy(dtype=float)
            acc = pd.to_numeric(g["test_acc"], errors="coerce").to_numpy(dtype=float)
            # networks whose metric is undefined (e.g. rho of a disconnected kNN graph) are
            # counted in n_undefined, never dropped silently
            n_undefined = int(np.sum(~np.isfinite(vals) & np.isfinite(acc)))
            fin = np.isfinite(vals) & np.isfinite(acc)
            vals, acc = vals[fin], acc[fin]
            sel = (well_trained(acc, threshold, strict) if is_trained
                   else np.ones(acc.size, dtype=bool))
            v, a = vals[sel], acc[sel]
            lo, hi = bootstrap_pearson(v, a, n_boot, seed, level)
            rows.append({
                "scope": scope, "trained": is_trained, "n": int(vals.size),
                "n_undefined": n_undefined,
                "n_well": int(v.size), "r": pearson(v, a) if v.size else float("nan"),
                "ci_low": lo, "ci_high": hi,
                "frac_negative": float(np.mean(v < 0)) if v.size else float("nan"),
                "mean": float(v.mean()) if v.size else float("nan"),
                "median": float(np.median(v)) if v.size else float("nan"),
            })
    table = pd.DataFrame(rows, columns=["scope", "trained", "n", "n_undefined", "n_well", "r", "ci_low",
                                        "ci_high", "frac_negative", "mean", "median"])
    return AccuracyStudy(table, metric, threshold, n_boot, level)


