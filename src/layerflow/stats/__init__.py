"""Statistics across runs, in one place: correlations, intervals that respect a quantity's range,
the accuracy study, the least-action study tables, summary tables and the claims. The report's
sentences and its claims table call these; nothing here prints or plots.
"""

from __future__ import annotations

from layerflow._moved import answer_moved
from layerflow.stats._accuracy import WELL_TRAINED, AccuracyStudy, accuracy_study
from layerflow.stats._correlation import (
    bootstrap_pearson,
    pearson,
    pearson_rows,
    pearson_with_reason,
)
from layerflow.stats._intervals import (
    Interval,
    bootstrap_diff_interval,
    bootstrap_mean_interval,
    mean_interval,
    t_interval,
    wilson_interval,
)
from layerflow.stats._least_action import arm_table, assign_arms, study_table
from layerflow.stats._tables import grouped_statistics, paired_settings, prepare_runs
from layerflow.stats.claims import Claim, compute_claims

__all__ = [
    "WELL_TRAINED",
    "AccuracyStudy",
    "Claim",
    "Interval",
    "accuracy_study",
    "arm_table",
    "assign_arms",
    "bootstrap_diff_interval",
    "bootstrap_mean_interval",
    "bootstrap_pearson",
    "compute_claims",
    "grouped_statistics",
    "mean_interval",
    "paired_settings",
    "pearson",
    "pearson_rows",
    "pearson_with_reason",
    "prepare_runs",
    "study_table",
    "t_interval",
    "wilson_interval",
]

answer_moved(__name__)
