"""The least-action low-data study of SPEC §4 (Karkar et al. 2020): its numbers.

Input: the sweep store's runs table (one row per trained network) with at least ``train_fraction``,
``test_acc`` and either an ``arm`` column (the named training overrides of the config) or the
fields ``weight_decay`` / ``transport_weight`` / ``uzawa`` from which an arm's role is derived.
Output: per dataset, arm and train fraction, the mean of each metric with its interval
(:mod:`layerflow.stats.intervals`; the percentile bootstrap by default, so an accuracy interval
stays in [0, 1]). The sentences built on these numbers live in the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from layerflow.stats.intervals import Interval, StatsError, mean_interval

__all__ = [
    "ARM_ROLES",
    "arm_roles",
    "arm_table",
    "arm_values",
    "assign_arms",
    "interval_of_row",
    "study_runs",
    "study_table",
]

# role of an arm, derived from its training fields; display order
ARM_ROLES: tuple[str, ...] = ("plain", "weight decay", "transport penalty")


def _role(row: pd.Series) -> str:
    tw = float(row.get("transport_weight", 0.0) or 0.0)
    uz = bool(row.get("uzawa", False) or False)
    wd = float(row.get("weight_decay", 0.0) or 0.0) + float(row.get("l2", 0.0) or 0.0)
    if tw > 0.0 or uz:
        return "transport penalty"
    if wd > 0.0:
        return "weight decay"
    return "plain"


def assign_arms(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``runs`` with columns ``arm`` (kept if present, else the role) and ``arm_role``.

    The role (``plain``, ``weight decay``, ``transport penalty``) comes from the training fields,
    so findings do not depend on what a config chose to call its arms.
    """
    out = runs.copy()
    roles = out.apply(_role, axis=1) if len(out) else pd.Series([], dtype=object)
    out["arm_role"] = roles.astype(object) if len(out) else []
    if "arm" not in out.columns:
        out["arm"] = out["arm_role"]
    else:
        arm = out["arm"].astype(object)
        missing = arm.isna() | (arm.astype(str) == "")
        out["arm"] = arm.where(~missing, out["arm_role"])
    return out


def arm_roles(table: pd.DataFrame) -> dict[str, str]:
    """Map each arm name in an :func:`arm_table` (or assigned runs table) to its role."""
    if table.empty:
        return {}
    return {str(a): str(r) for a, r in table.groupby("arm", sort=False)["arm_role"].first().items()}


def arm_table(
    runs: pd.DataFrame,
    metrics: Sequence[str] = ("test_acc", "kinetic_energy", "lss_mean"),
    level: float = 0.95,
    by: Sequence[str] = ("dataset",),
    interval: str = "bootstrap",
) -> pd.DataFrame:
    """Per (``by``…, arm, train_fraction) the mean and interval of each metric.

    ``interval`` is ``"bootstrap"`` (seeded percentile bootstrap: the interval stays in the range
    of the values, e.g. inside [0, 1] for accuracies; the report's rule) or ``"t"`` (Student-t,
    as Karkar et al.'s code reports).

    Only finished trained runs count (``status == "ok"`` and ``trained`` when those columns exist).
    Columns: the ``by`` keys, ``arm``, ``arm_role``, ``train_fraction``, then for each metric
    ``{metric}_n``, ``{metric}_mean``, ``{metric}_low``, ``{metric}_high``, ``{metric}_std``.
    Rows are sorted by the keys, then train fraction, then role order.
    """
    if "train_fraction" not in runs.columns:
        raise StatsError(
            f"runs table has no 'train_fraction' column (columns: {sorted(runs.columns)}); "
            "a low-data study needs one"
        )
    if "test_acc" not in runs.columns:
        raise StatsError("runs table has no 'test_acc' column; the study compares test accuracy")
    df = _ok_trained_arms(runs)
    keys = [k for k in by if k in df.columns]
    metrics = [m for m in metrics if m in df.columns]
    rows: list[dict[str, Any]] = []
    if df.empty:
        return pd.DataFrame(columns=[*keys, "arm", "arm_role", "train_fraction"])
    for key, grp in df.groupby([*keys, "arm", "train_fraction"], sort=False, dropna=False):
        rec: dict[str, Any] = dict(zip([*keys, "arm", "train_fraction"], key, strict=True))
        rec["arm_role"] = str(grp["arm_role"].iloc[0])
        for m in metrics:
            vals = pd.to_numeric(grp[m], errors="coerce").to_numpy(dtype=np.float64)
            if np.isnan(vals).all():
                iv = Interval(math.nan, math.nan, math.nan, 0, math.nan, level)
            else:
                iv = mean_interval(vals, interval, level)
            rec[f"{m}_n"] = iv.n
            rec[f"{m}_mean"] = iv.mean
            rec[f"{m}_low"] = iv.low
            rec[f"{m}_high"] = iv.high
            rec[f"{m}_std"] = iv.std
        rows.append(rec)
    out = pd.DataFrame(rows)
    out["_role_order"] = out["arm_role"].map({r: i for i, r in enumerate(ARM_ROLES)})
    out = out.sort_values([*keys, "train_fraction", "_role_order", "arm"], kind="stable")
    return out.drop(columns="_role_order").reset_index(drop=True)


def _ok_trained_arms(runs: pd.DataFrame) -> pd.DataFrame:
    """The trained runs with status ``ok``, each with its arm (:func:`assign_arms`)."""
    df = runs
    if "status" in df.columns:
        df = df[df["status"].astype(str) == "ok"]
    if "trained" in df.columns:
        df = df[df["trained"].astype(bool)]
    return assign_arms(df)


def study_runs(runs: pd.DataFrame) -> pd.DataFrame:
    df = _ok_trained_arms(runs)
    if "dataset" not in df.columns:
        df = df.assign(dataset="data")
    if "model_kind" not in df.columns:
        df = df.assign(model_kind="model")
    return df


def study_table(
    runs: pd.DataFrame,
    metrics: Sequence[str] = ("test_acc", "kinetic_energy", "lss_mean"),
    level: float = 0.95,
    interval: str = "bootstrap",
) -> pd.DataFrame:
    """:func:`arm_table` by dataset and model kind, kept only where it is a low-data study.

    A (dataset, model kind) group counts when its runs span at least two train fractions; other
    runs (e.g. a sweep's networks all trained on the full data) are not a low-data comparison.
    Returns an empty table when no group qualifies or the columns are missing.
    """
    if "train_fraction" not in runs.columns or "test_acc" not in runs.columns:
        return pd.DataFrame()
    df = study_runs(runs)
    if df.empty:
        return pd.DataFrame()
    tab = arm_table(df, metrics=metrics, level=level, by=("dataset", "model_kind"),
                    interval=interval)
    n_frac = tab.groupby(["dataset", "model_kind"])["train_fraction"].transform("nunique")
    return tab[n_frac >= 2].reset_index(drop=True)


def interval_of_row(row: pd.Series, metric: str = "test_acc") -> Interval:
    """The :class:`Interval` of ``metric`` in one row of :func:`arm_table`."""
    return Interval(
        float(row[f"{metric}_mean"]), float(row[f"{metric}_low"]), float(row[f"{metric}_high"]),
        int(row[f"{metric}_n"]), float(row[f"{metric}_std"]),
    )


def arm_values(runs: pd.DataFrame, where: dict[str, str], arm: str, metric: str) -> np.ndarray:
    """Values of ``metric`` over finished trained runs of one arm (all fractions), NaNs dropped."""
    df = study_runs(runs)
    for col, val in where.items():
        df = df[df[col].astype(str) == val]
    df = df[df["arm"].astype(str) == arm]
    if metric not in df.columns:
        return np.zeros(0)
    v = pd.to_numeric(df[metric], errors="coerce").to_numpy(dtype=np.float64)
    return v[~np.isnan(v)]
