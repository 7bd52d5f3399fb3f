"""Summary tables of a sweep's run table: every view metric by groups of networks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from layerflow._errors import ConfigError
from layerflow.views import metric_names

# model kind (ModelSpec.kind) -> the words reports use for it
KIND_LABELS: dict[str, str] = {"resnet": "residual", "mlp": "plain", "bottleneck": "bottleneck"}


def metric_columns(runs: pd.DataFrame) -> list[str]:
    """Numeric result columns: the accuracies and every numeric column a view declares."""
    declared = metric_names(runs.columns)
    return [c for c in runs.columns
            if (c in declared or c in ("train_acc", "test_acc"))
            and pd.api.types.is_numeric_dtype(runs[c]) and not pd.api.types.is_bool_dtype(runs[c])]


def grouped_statistics(runs: pd.DataFrame, by: Sequence[str] = ("model_kind", "depth", "width"),
                   metrics: Sequence[str] | None = None, status: str | None = "ok") -> pd.DataFrame:
    """Mean, std and count of every metric by ``by`` (+ ``trained``), as a long table.

    Columns: ``*by, trained, metric, mean, std, count`` (count of finite values).
    """
    missing = [c for c in by if c not in runs.columns]
    if missing:
        raise ConfigError(f"cannot group by {missing}: not columns of the run table")
    df = runs if status is None or "status" not in runs.columns else runs[runs["status"] == status]
    mets = list(metrics) if metrics is not None else metric_columns(df)
    keys = [*by, "trained"] if "trained" in df.columns and "trained" not in by else list(by)
    if df.empty or not mets:
        return pd.DataFrame(columns=[*keys, "metric", "mean", "std", "count"])
    long = df[[*keys, *mets]].melt(id_vars=keys, var_name="metric", value_name="value")
    long["value"] = pd.to_numeric(long["value"], errors="coerce")
    g = long.groupby([*keys, "metric"], sort=True, dropna=False)["value"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    return out


def _num(series: pd.Series, default: float = 0.0) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype(np.float64).fillna(default)


#: the columns :func:`prepare_runs` adds, which every reader of a prepared table relies on
PREPARED_COLUMNS: tuple[str, ...] = ("kind", "trained", "arm_role", "penalty", "wd", "variant",
                                     "dataset")


def prepare_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of the runs table with the columns the report groups by: the one place a store's
    runs are prepared for reading (the report does it once, where it reads the store).

    Adds ``kind`` (plain / residual / bottleneck), ``trained`` (bool, default True),
    ``arm_role`` and ``penalty`` (the runner's ``arm_role`` and ``penalised`` columns, see
    :func:`layerflow.sweep._grid.arm_role_of`; a store written without them gets them from its
    training columns by the same definition), ``wd`` (weight decay + L2 > 0) and ``variant``
    (e.g. ``"residual + wd + transport"``; `` (untrained)`` appended for baselines). Every run
    is kept, finished or not (:func:`finished` selects the finished ones).
    """
    df = runs.copy()
    kinds = (df["model_kind"].astype(str) if "model_kind" in df.columns
             else pd.Series(["?"] * len(df), index=df.index))
    df["kind"] = [KIND_LABELS.get(k, k) for k in kinds]
    if "trained" in df.columns:
        df["trained"] = df["trained"].fillna(True).astype(bool)
    else:
        df["trained"] = True
    df["arm_role"] = arm_role_column(df)
    if "penalised" in df.columns and df["penalised"].notna().all():  # the runner's record
        df["penalty"] = df["penalised"].astype(bool)
    else:  # a store written before it: the role's definition
        df["penalty"] = (df["arm_role"] == "transport penalty").astype(bool)
    wd = _num(df["weight_decay"]) if "weight_decay" in df.columns else 0.0
    l2 = _num(df["l2"]) if "l2" in df.columns else 0.0
    df["wd"] = pd.Series(wd, index=df.index) + pd.Series(l2, index=df.index) > 0
    variant = df["kind"].astype(str)
    variant = variant + np.where(df["wd"], " + wd", "")
    variant = variant + np.where(df["penalty"], " + transport", "")
    variant = variant + np.where(df["trained"], "", " (untrained)")
    df["variant"] = variant.astype(object)
    if "dataset" not in df.columns:
        df["dataset"] = "data"
    df["dataset"] = df["dataset"].astype(str).astype(object)
    return df


def arm_role_column(runs: pd.DataFrame) -> pd.Series:
    """The role of every run (:data:`layerflow.sweep._grid.ARM_ROLES`): the runner's
    ``arm_role`` where it recorded one, else :func:`layerflow.sweep._grid.arm_role_of` of the
    run's training columns (``untrained`` where ``trained`` is false)."""
    from layerflow.sweep._grid import arm_role_of

    recorded = (runs["arm_role"] if "arm_role" in runs.columns
                else pd.Series(None, index=runs.index, dtype=object))
    if recorded.notna().all():
        return recorded.astype(str).astype(object)
    fields = [c for c in ("transport_weight", "uzawa", "weight_decay", "l2") if c in runs.columns]
    trained = (runs["trained"].fillna(True).astype(bool) if "trained" in runs.columns
               else pd.Series(True, index=runs.index))
    derived = [arm_role_of({f: None if pd.isna(v) else v for f, v in row.items()} if t else None)
               for row, t in zip(runs[fields].to_dict("records"), trained, strict=True)]
    out = recorded.astype(object).where(recorded.notna(), pd.Series(derived, index=runs.index,
                                                                       dtype=object))
    return out.astype(str).astype(object)


def require_prepared(runs: pd.DataFrame, where: str) -> pd.DataFrame:
    """``runs`` itself when it is a table :func:`prepare_runs` made, else a
    :class:`~layerflow._errors.ConfigError` naming the missing columns (``where``: the
    function that needs it)."""
    missing = [c for c in PREPARED_COLUMNS if c not in runs.columns]
    if missing:
        raise ConfigError(f"{where} needs a prepared runs table (layerflow.stats.prepare_runs), "
                         f"not a store's raw one: the columns {missing} are missing")
    return runs


def finished(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose run finished (``status == "ok"`` when a status column exists)."""
    if "status" in df.columns:
        return df[df["status"].astype(str) == "ok"]
    return df


SETTING_KEYS: tuple[str, ...] = (
    "dataset", "width", "depth", "weight_decay", "l2", "train_fraction", "optimizer", "lr",
    "epochs",
)


def paired_settings(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Residual vs plain networks in matched settings (``runs`` prepared by :func:`prepare_runs`).

    Among finished, trained runs without a transport penalty, group by the setting keys present
    (dataset, width, depth, weight decay, L2, train fraction, optimizer, lr, epochs) and average
    ``metric`` over seeds for each kind. Returns one row per setting where both kinds have a value:
    the keys, ``residual``, ``plain``, ``n_residual``, ``n_plain``.
    """
    df = finished(require_prepared(runs, "paired_settings"))
    df = df[df["trained"] & ~df["penalty"] & df["kind"].isin(["residual", "plain"])]
    if metric not in df.columns or df.empty:
        return pd.DataFrame(columns=["residual", "plain"])
    df = df.assign(_v=pd.to_numeric(df[metric], errors="coerce")).dropna(subset=["_v"])
    keys = [k for k in SETTING_KEYS if k in df.columns and df[k].notna().any()]
    if df.empty:
        return pd.DataFrame(columns=[*keys, "residual", "plain"])
    g = df.groupby([*keys, "kind"], dropna=False)["_v"].agg(["mean", "count"]).reset_index()
    wide = g.pivot_table(index=keys, columns="kind", values=["mean", "count"], dropna=False)
    out = pd.DataFrame(index=wide.index)
    for kind in ("residual", "plain"):
        if ("mean", kind) not in wide.columns:
            return pd.DataFrame(columns=[*keys, "residual", "plain"])
        out[kind] = wide[("mean", kind)]
        out[f"n_{kind}"] = wide[("count", kind)]
    out = out.dropna(subset=["residual", "plain"]).reset_index()
    return out
