"""The least-action low-data study of SPEC §4 (Karkar et al. 2020), analysed from a results table.

Input: the sweep store's runs table (one row per trained network) with at least ``train_fraction``,
``test_acc`` and either an ``arm`` column (the named training overrides of the config) or the
fields ``weight_decay`` / ``transport_weight`` / ``uzawa`` from which an arm is derived.

Output: per dataset, arm and train fraction, the mean test accuracy with its two-sided Student-t
interval,

    mean ± t_{(1+level)/2, n-1} · s / √n,      s = sample standard deviation (ddof = 1),

and the finding the numbers support (never written in advance).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from layerflow.errors import LayerflowError

if TYPE_CHECKING:
    from layerflow.report.findings import Finding

__all__ = [
    "ARM_ROLES",
    "Interval",
    "StudyError",
    "arm_roles",
    "arm_table",
    "assign_arms",
    "least_action_findings",
    "study_table",
    "t_interval",
]

# role of an arm, derived from its training fields; display order
ARM_ROLES: tuple[str, ...] = ("plain", "weight decay", "transport penalty")


class StudyError(LayerflowError):
    """The runs table cannot be analysed as a low-data study."""


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values with a two-sided Student-t interval at ``level``.

    ``low``/``high`` are NaN when ``n < 2`` (no spread to estimate).
    """

    mean: float
    low: float
    high: float
    n: int
    std: float
    level: float = 0.95

    def overlaps(self, other: Interval) -> bool:
        """Whether the two intervals share a point (False if either is undefined)."""
        if any(math.isnan(v) for v in (self.low, self.high, other.low, other.high)):
            return False
        return self.low <= other.high and other.low <= self.high


def t_interval(values: Sequence[float] | np.ndarray, level: float = 0.95) -> Interval:
    """Mean with a Student-t confidence interval.

    ``values`` has shape ``(n,)``; NaNs are dropped (they are failed runs, counted elsewhere).
    ``mean ± t.ppf((1 + level) / 2, n - 1) · s / √n`` with ``s`` the ddof=1 standard deviation.
    """
    from scipy import stats

    if not (0.0 < level < 1.0):
        raise StudyError(f"level={level!r}: expected a confidence level with 0 < level < 1")
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[~np.isnan(x)]
    n = int(x.size)
    if n == 0:
        raise StudyError("t_interval needs at least one finite value; got none")
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, math.nan, level)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1.0 + level) / 2.0, n - 1)) * std / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n, std, level)


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
) -> pd.DataFrame:
    """Per (``by``…, arm, train_fraction) the mean and t-interval of each metric.

    Only finished trained runs count (``status == "ok"`` and ``trained`` when those columns exist).
    Columns: the ``by`` keys, ``arm``, ``arm_role``, ``train_fraction``, then for each metric
    ``{metric}_n``, ``{metric}_mean``, ``{metric}_low``, ``{metric}_high``, ``{metric}_std``.
    Rows are sorted by the keys, then train fraction, then role order.
    """
    if "train_fraction" not in runs.columns:
        raise StudyError(
            f"runs table has no 'train_fraction' column (columns: {sorted(runs.columns)}); "
            "a low-data study needs one"
        )
    if "test_acc" not in runs.columns:
        raise StudyError("runs table has no 'test_acc' column; the study compares test accuracy")
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
                iv = t_interval(vals, level)
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


def _study_runs(runs: pd.DataFrame) -> pd.DataFrame:
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
) -> pd.DataFrame:
    """:func:`arm_table` by dataset and model kind, kept only where it is a low-data study.

    A (dataset, model kind) group counts when its runs span at least two train fractions; other
    runs (e.g. a sweep's networks all trained on the full data) are not a low-data comparison.
    Returns an empty table when no group qualifies or the columns are missing.
    """
    if "train_fraction" not in runs.columns or "test_acc" not in runs.columns:
        return pd.DataFrame()
    df = _study_runs(runs)
    if df.empty:
        return pd.DataFrame()
    tab = arm_table(df, metrics=metrics, level=level, by=("dataset", "model_kind"))
    n_frac = tab.groupby(["dataset", "model_kind"])["train_fraction"].transform("nunique")
    return tab[n_frac >= 2].reset_index(drop=True)


def _iv(row: pd.Series, metric: str = "test_acc") -> Interval:
    return Interval(
        float(row[f"{metric}_mean"]), float(row[f"{metric}_low"]), float(row[f"{metric}_high"]),
        int(row[f"{metric}_n"]), float(row[f"{metric}_std"]),
    )


def _fmt_iv(iv: Interval) -> str:
    from layerflow.report.findings import fmt

    if math.isnan(iv.low):
        return f"{fmt(iv.mean)} (n = {iv.n}, no interval)"
    return f"{fmt(iv.mean)} [{fmt(iv.low)}, {fmt(iv.high)}]"


def least_action_findings(runs: pd.DataFrame, level: float = 0.95) -> list[Finding]:
    """The low-data study's findings, per dataset and per non-plain arm, from the numbers.

    For each arm against the plain arm (role ``plain``) on the train fractions both ran:
    at how many fractions its mean test accuracy was higher (or lower — whichever holds more
    often), the means with ``level`` t-intervals at the smallest fraction and whether the
    intervals overlap, and the fraction where the difference (arm − plain) was largest in size.
    When kinetic energy was measured, whether the arm's networks had lower or higher mean
    kinetic energy than plain ones.
    """
    from layerflow.report.findings import Finding, fmt, fmt_fraction

    if "train_fraction" not in runs.columns or "test_acc" not in runs.columns:
        return []
    table = study_table(runs, level=level)
    if table.empty:
        return []
    out: list[Finding] = []
    for (dataset, kind), tab in table.groupby(["dataset", "model_kind"], sort=False):
        where = {"dataset": str(dataset), "model_kind": str(kind)}
        label = f"{dataset} ({kind})"
        roles = arm_roles(tab)
        plains = [a for a, r in roles.items() if r == "plain"]
        if not plains:
            continue
        base = plains[0]
        bt = tab[tab["arm"] == base].set_index("train_fraction")
        for arm, role in roles.items():
            if arm == base:
                continue
            at = tab[tab["arm"] == arm].set_index("train_fraction")
            common = sorted(set(bt.index) & set(at.index))
            if not common:
                continue
            gains = {f: float(at.loc[f, "test_acc_mean"] - bt.loc[f, "test_acc_mean"])
                     for f in common}
            n = len(common)
            higher = sum(g > 0 for g in gains.values())
            lower = sum(g < 0 for g in gains.values())
            ties = n - higher - lower
            tied = f" (tied at {ties})" if ties else ""
            if higher > lower:
                head = (f"higher mean test accuracy than {base} at {higher} of {n} train "
                        f"fractions{tied}")
            elif lower > higher:
                head = (f"lower mean test accuracy than {base} at {lower} of {n} train "
                        f"fractions{tied}")
            else:
                head = (f"higher mean test accuracy than {base} at {higher} and lower at "
                        f"{lower} of {n} train fractions")
            f0 = common[0]
            ia, ib = _iv(at.loc[f0]), _iv(bt.loc[f0])
            overlap = ia.overlaps(ib)
            best = max(common, key=lambda f: abs(gains[f]))  # largest in size, either sign
            if math.isnan(ia.low) or math.isnan(ib.low):
                overlap_txt = ""
            else:
                overlap_txt = ", overlapping" if overlap else ", not overlapping"
            text = (
                f"{label}: {arm} ({role}) had {head}; at {fmt_fraction(f0)} of the training "
                f"data, {arm} {_fmt_iv(ia)} vs {base} {_fmt_iv(ib)} "
                f"({100 * level:.0f} % t-intervals{overlap_txt}; n = {ia.n} and {ib.n} seeds). "
                f"The largest difference {arm} − {base} was {gains[best]:+.3f}, at "
                f"{fmt_fraction(best)}."
            )
            numbers: dict[str, float | int | str | bool] = {
                **where, "arm": arm, "baseline": base, "role": role,
                "n_fractions": n, "n_higher": higher, "n_lower": lower, "n_tied": ties,
                "fraction": float(f0), "arm_mean": ia.mean, "arm_low": ia.low,
                "arm_high": ia.high, "base_mean": ib.mean, "base_low": ib.low,
                "base_high": ib.high, "overlap": overlap, "largest_fraction": float(best),
                "largest_difference": gains[best],
            }
            out.append(Finding("least_action_accuracy", "least_action", text, numbers))
            if "kinetic_energy_mean" in tab.columns:
                ka = _pooled(runs, where, arm, "kinetic_energy")
                kb = _pooled(runs, where, base, "kinetic_energy")
                if ka.size and kb.size:
                    ma, mb = float(ka.mean()), float(kb.mean())
                    word = "lower" if ma < mb else ("higher" if ma > mb else "the same")
                    out.append(Finding(
                        "least_action_kinetic", "least_action",
                        f"{label}: {arm} networks had {word} mean kinetic energy than {base} "
                        f"ones ({fmt(ma)}, n = {ka.size} vs {fmt(mb)}, n = {kb.size}; all train "
                        "fractions).",
                        {**where, "arm": arm, "baseline": base,
                         "arm_mean": ma, "base_mean": mb, "n_arm": int(ka.size),
                         "n_base": int(kb.size)},
                    ))
    return out


def _pooled(runs: pd.DataFrame, where: dict[str, str], arm: str, metric: str) -> np.ndarray:
    """Values of ``metric`` over finished trained runs of one arm (all fractions), NaNs dropped."""
    df = _study_runs(runs)
    for col, val in where.items():
        df = df[df[col].astype(str) == val]
    df = df[df["arm"].astype(str) == arm]
    if metric not in df.columns:
        return np.zeros(0)
    v = pd.to_numeric(df[metric], errors="coerce").to_numpy(dtype=np.float64)
    return v[~np.isnan(v)]
