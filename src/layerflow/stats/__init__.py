"""Statistics across runs, in one place: correlations, intervals that respect a quantity's range,
the accuracy study, the least-action study tables, summary tables and the claims. The report's
sentences and its claims table call these; nothing here prints or plots.
"""

from __future__ import annotations

from layerflow.stats.accuracy import WELL_TRAINED, AccuracyStudy, accuracy_study
from layerflow.stats.claims import Claim, compute_claims
from layerflow.stats.correlation import (
    bootstrap_pearson,
    pearson,
    pearson_rows,
    pearson_with_reason,
)
from layerflow.stats.intervals import (
    Interval,
    bootstrap_diff_interval,
    bootstrap_mean_interval,
    mean_interval,
    t_interval,
    wilson_interval,
)
from layerflow.stats.least_action import arm_table, assign_arms, study_table
from layerflow.stats.tables import paired_settings, prepare_runs, summary_tables

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
    "mean_interval",
    "paired_settings",
    "pearson",
    "pearson_rows",
    "pearson_with_reason",
    "prepare_runs",
    "study_table",
    "summary_tables",
    "t_interval",
    "wilson_interval",
]
