"""Sentences of the least-action study (Karkar et al. 2020), from :mod:`layerflow.stats._least_action`."""

from __future__ import annotations

import math

import pandas as pd

from layerflow.report._findings.base import Finding, fmt_fraction
from layerflow.report._format import format_number
from layerflow.stats._intervals import Interval
from layerflow.stats._least_action import arm_roles, arm_values, interval_of_row, study_table


def _fmt_iv(iv: Interval) -> str:
    if math.isnan(iv.low):
        return f"{format_number(iv.mean)} (n = {iv.n}, no interval)"
    return f"{format_number(iv.mean)} [{format_number(iv.low)}, {format_number(iv.high)}]"


def least_action_findings(runs: pd.DataFrame, level: float = 0.95) -> list[Finding]:
    """The low-data study's findings, per dataset and per non-plain arm, from the numbers.

    For each arm against the plain arm (role ``plain``) on the train fractions both ran:
    at how many fractions its mean test accuracy was higher (or lower — whichever holds more
    often), the means with their ``level`` intervals (percentile bootstrap over seeds) at the smallest fraction and whether the
    intervals overlap, and the fraction where the difference (arm − plain) was largest in size.
    When kinetic energy was measured, whether the arm's networks had lower or higher mean
    kinetic energy than plain ones.
    """
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
            ia, ib = interval_of_row(at.loc[f0]), interval_of_row(bt.loc[f0])
            overlap = ia.overlaps(ib)
            best = max(common, key=lambda f: abs(gains[f]))  # largest in size, either sign
            if math.isnan(ia.low) or math.isnan(ib.low):
                overlap_txt = ""
            else:
                overlap_txt = ", overlapping" if overlap else ", not overlapping"
            text = (
                f"{label}: {arm} ({role}) had {head}; at {fmt_fraction(f0)} of the training "
                f"data, {arm} {_fmt_iv(ia)} vs {base} {_fmt_iv(ib)} "
                f"({100 * level:.0f} % bootstrap intervals{overlap_txt}; n = {ia.n} and {ib.n} seeds). "
                f"The largest difference {arm} − {base} was {format_number(gains[best])}, at "
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
                ka = arm_values(runs, where, arm, "kinetic_energy")
                kb = arm_values(runs, where, base, "kinetic_energy")
                if ka.size and kb.size:
                    ma, mb = float(ka.mean()), float(kb.mean())
                    word = "lower" if ma < mb else ("higher" if ma > mb else "the same")
                    out.append(Finding(
                        "least_action_kinetic", "least_action",
                        f"{label}: {arm} networks had {word} mean kinetic energy than {base} "
                        f"ones ({format_number(ma)}, n = {ka.size} vs {format_number(mb)}, n = {kb.size}; all train "
                        "fractions).",
                        {**where, "arm": arm, "baseline": base,
                         "arm_mean": ma, "base_mean": mb, "n_arm": int(ka.size),
                         "n_base": int(kb.size)},
                    ))
    return out


