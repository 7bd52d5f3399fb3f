"""The least-action low-data study (Karkar et al. 2020): its numbers.

Input: the sweep store's runs table (one row per trained network) with at least ``train_fraction``,
``test_acc`` and either an ``arm`` column (the named training overrides of the config) or the
fields ``weight_decay`` / ``transport_weight`` / ``uzawa`` from which an arm's role is derived.
Output: per dataset, arm and train fraction, the mean of each metric with its interval
(:mod:`layerflow.stats._intervals`; the percentile bootstrap by default, so an accuracy interval
stays in [0, 1]). The sentences built on these numbers live in the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from layerflow._errors import ConfigError
from layerflow.stats._intervals import Interval, mean_interval
from layerflow.stats._tables import arm_role_column

# role of an arm; display order
ARM_ROLES: tuple[str, ...] = ("plain", "weight decay", "transport penalty")


def assign_arms(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``runs`` with columns ``arm`` (kept if present, else the role) and ``arm_role``.

    The role (``plain``, ``weight decay``, ``transport penalty``) is the one the runner recorded
    in column ``arm_role`` (from the training fields, so findings do not depend on what a config
    chose to call its arms); a store without that column gets it from the same definition.
    """
    out = runs.copy()
    out["arm_role"] = arm_role_column(out)
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
        raise ConfigError(
            f"runs table has no 'train_fraction' column (columns: {sorted(runs.columns)}); "
            "a low-data study needs one"
        )
    if "test_acc" not in runs.columns:
        raise ConfigError("runs table has no 'test_acc' column; the study compares test accuracy")
    df = ok_trained_arms(runs)
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
            if not np.isfinite(vals).any():  # the intervals drop non-finite values
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


def ok_trained_arms(runs: pd.DataFrame) -> pd.DataFrame:
    """The trained runs with status ``ok``, each with its arm (:func:`assign_arms`)."""
    df = runs
    if "status" in df.columns:
        df = df[df["status"].astype(str) == "ok"]
    if "trained" in df.columns:
        df = df[df["trained"].astype(bool)]
    return assign_arms(df)


def study_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished trained runs of a study with their arms, each arm at its setting chosen on
    the validation split (:func:`select_on_validation`)."""
    df = ok_trained_arms(runs)
    if "dataset" not in df.columns:
        df = df.assign(dataset="data")
    if "model_kind" not in df.columns:
        df = df.assign(model_kind="model")
    return select_on_validation(df)[0]


#: what a setting is chosen per (``dataset_spec`` read as ``dataset`` when the store has none)
CHOICE_KEYS = ("dataset_spec", "model_kind", "train_fraction", "arm")


def _choice_keys(runs: pd.DataFrame) -> list[str]:
    spec = "dataset_spec" if "dataset_spec" in runs.columns and \
        runs["dataset_spec"].notna().all() else "dataset"
    keys = [spec if k == "dataset_spec" else k for k in CHOICE_KEYS]
    return [k for k in keys if k in runs.columns]


def tuned_on_reported_seeds(runs: pd.DataFrame) -> bool:
    """Whether a study's arm was run at more than one setting without a declared tuning design
    (no ``seed_role`` column): its setting is then chosen, or its settings averaged, on the same
    seeds the comparison reports."""
    df = ok_trained_arms(runs)
    if df.empty or "seed_role" in df.columns:
        return False
    if "dataset" not in df.columns:
        df = df.assign(dataset="data")
    keys = _choice_keys(df)
    if not keys:
        return False
    if "group_id" in df.columns:
        setting = df["group_id"].astype(str)
    else:  # the training columns that vary within an arm tell its settings apart
        cols = [c for c in ("transport_weight", "weight_decay", "l2", "lr", "uzawa", "uzawa_tau",
                            "tau", "optimizer", "epochs", "steps") if c in df.columns]
        if not cols:
            return False
        setting = df[cols].apply(lambda c: c.map(str)).agg("|".join, axis=1)  # NaN as "nan"
    return bool((setting.groupby([df[k] for k in keys], dropna=False).nunique() > 1).any())


def select_on_validation(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each arm's setting chosen on the validation split, never on the test set.

    When an arm was run at several settings (its grid, e.g. weight decays or Uzawa τ; settings
    are told apart by ``group_id``, which runs differing only in seed share), keep, per
    (dataset spec, model kind, train fraction, arm), the setting with the highest mean ``val_acc``
    over its seeds (ties: the first in ``group_id`` order). Returns ``(runs kept, choices)``;
    ``choices`` has a row per decision: the keys, ``group_id``, ``val_acc`` (mean), ``n_settings``
    and the training columns that differ between the settings. Arms with one setting are kept as
    they are. Without ``val_acc`` nothing is chosen (that would be a choice on the test set):
    each setting of such an arm becomes an arm of its own, named by its setting.

    A store whose config declared tuning (columns ``seed_role`` and ``tune_fraction``) is chosen
    as declared instead: per (dataset spec, model kind, arm), the setting (``setting_id``) with
    the highest mean ``val_acc`` over the ``tune`` runs at the arm's ``tune_fraction`` is kept at
    every train fraction, and only ``test`` runs are returned.
    """
    if "seed_role" in runs.columns and "tune_fraction" in runs.columns and \
            (runs["seed_role"].astype(str) == "tune").any():
        return _select_declared(runs)
    keys = _choice_keys(runs)
    if runs.empty or "group_id" not in runs.columns or not keys:
        return runs, pd.DataFrame()
    n_set = runs.groupby(keys, dropna=False)["group_id"].transform("nunique")
    if (n_set <= 1).all():
        return runs, pd.DataFrame()
    if "val_acc" not in runs.columns or runs.loc[n_set > 1, "val_acc"].isna().all():
        # nothing to choose on without a validation split: never choose on test; each setting
        # stays its own arm (its name says which), so no settings are mixed either
        cols = _setting_columns(runs, keys)
        label = runs[cols].astype(str).agg(", ".join, axis=1) if cols else runs["group_id"]
        split = runs["arm"].astype(str) + " (" + (
            runs[cols].apply(lambda r: ", ".join(f"{c}={r[c]}" for c in cols), axis=1)
            if cols else label) + ")"
        return runs.assign(arm=runs["arm"].where(n_set <= 1, split)), pd.DataFrame()
    val = pd.to_numeric(runs["val_acc"], errors="coerce")
    means = runs.assign(_v=val).groupby([*keys, "group_id"], dropna=False)["_v"].mean()
    means = means.reset_index().sort_values([*keys, "group_id"], kind="stable")
    best = means.loc[means.groupby(keys, dropna=False)["_v"].idxmax()]
    kept = runs[runs["group_id"].isin(set(best["group_id"]))]
    varying = _setting_columns(runs, keys)
    first = runs.drop_duplicates("group_id").set_index("group_id")
    choices = best.rename(columns={"_v": "val_acc"}).reset_index(drop=True)
    sizes = means.groupby(keys, dropna=False).size().rename("n_settings")
    choices = choices.merge(sizes, left_on=keys, right_index=True, how="left")
    for c in varying:
        choices[c] = [first.at[g, c] for g in choices["group_id"]]
    return kept, choices


def _select_declared(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`select_on_validation` for a store with a declared tuning design."""
    spec = "dataset_spec" if "dataset_spec" in runs.columns else "dataset"
    keys = [k for k in (spec, "model_kind", "arm") if k in runs.columns]
    role = runs["seed_role"].astype(str)
    frac = pd.to_numeric(runs["tune_fraction"], errors="coerce")
    tune = runs[(role == "tune") & np.isclose(pd.to_numeric(runs["train_fraction"]), frac)]
    val = pd.to_numeric(tune["val_acc"], errors="coerce")
    means = tune.assign(_v=val).groupby([*keys, "setting_id"], dropna=False)["_v"].mean()
    means = means.reset_index().sort_values([*keys, "setting_id"], kind="stable")
    choices = pd.DataFrame()
    test = runs[role == "test"]
    if not means.empty:
        best = means.loc[means.dropna(subset=["_v"]).groupby(keys, dropna=False)["_v"].idxmax()]
        sizes = means.groupby(keys, dropna=False).size().rename("n_settings")
        choices = best.rename(columns={"_v": "val_acc"}).merge(
            sizes, left_on=keys, right_index=True, how="left").reset_index(drop=True)
        tuned = frac.loc[test.index].notna()
        # chosen per key: one setting id may be chosen for one data set and not another
        pick = pd.MultiIndex.from_frame(best[[*keys, "setting_id"]].astype(str))
        chosen = pd.MultiIndex.from_frame(test[[*keys, "setting_id"]].astype(str)).isin(pick)
        test = test[~tuned.to_numpy() | chosen]
    return test, choices


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
    return cast(np.ndarray, v[~np.isnan(v)])


def _setting_columns(runs: pd.DataFrame, keys: list[str]) -> list[str]:
    """Columns that tell an arm's settings apart: the same for every run of a setting
    (``group_id``), different between the settings of one arm; metrics and bookkeeping are not
    settings."""
    from layerflow.sweep._grid import DESIGN_COLUMNS
    from layerflow.sweep._store import RUN_META
    from layerflow.views import metric_names

    skip = {*keys, "group_id", "run_id", "seed", "status", "error", "seconds", *RUN_META,
            "train_acc", "test_acc", "val_acc", "n_points", *metric_names(runs.columns),
            *DESIGN_COLUMNS}
    out = []
    for c in runs.columns:
        if c in skip or str(c).endswith("_seconds"):
            continue
        col = runs[c].map(repr) if runs[c].dtype == object else runs[c]  # lists are values too
        frame = runs[[*keys, "group_id"]].assign(_c=col)
        per_group = frame.groupby("group_id", dropna=False)["_c"].nunique(dropna=False)
        per_arm = frame.groupby(keys, dropna=False)["_c"].nunique(dropna=False)
        if (per_group <= 1).all() and (per_arm > 1).any():
            out.append(str(c))
    return out
