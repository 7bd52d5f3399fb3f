"""Claims rows calibrated end to end: simulated stores (the runs table's real columns) run
through ``compute_claims`` with a known truth, at the fewest units a verdict may come from.

Default tests: a few stores per design (each builds a whole claims table): that the row is the
claim's, at ``MIN_UNITS`` units, and its interval and verdict behave. ``--runslow``: 200 stores
per design and truth, bounds of 5 % (93 %) widened by 2 Monte Carlo standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from layerflow._errors import ConfigError
from layerflow.stats._tables import prepare_runs
from layerflow.stats.claims import compute_claims
from layerflow.stats.claims._calibration_stores import (
    STORE_DESIGNS,
    StoreDesign,
    calibrate_store,
    least_action_store,
    rho_accuracy_store,
)
from layerflow.stats.claims._registry import MIN_UNITS

IDS = [d.claim for d in STORE_DESIGNS]


def _se(n: int) -> float:
    return math.sqrt(0.95 * 0.05 / n)


def _row(runs: pd.DataFrame, key: str):  # type: ignore[no-untyped-def]
    (c,) = [c for c in compute_claims(prepare_runs(runs)) if c.key == key]
    return c


@pytest.mark.parametrize("design", STORE_DESIGNS, ids=IDS)
def test_store_rows_are_at_min_units_and_small_calibration(design: StoreDesign) -> None:
    n = 4
    row = calibrate_store(design, n, seed=1, parts=("coverage", "false_verdicts"))
    assert design.units == MIN_UNITS
    assert float(row["coverage"]) >= 0.75 and float(row["false_verdicts"]) <= 0.25, row


def test_rho_accuracy_store_is_read_within_cells() -> None:
    """The simulated store's between-cell association is strong and positive, the within-cell
    correlations negative: the row's cells are the within-cell Pearson r (scipy)."""
    runs, truth = rho_accuracy_store(np.random.default_rng(4), -0.6)
    assert truth == -0.6
    assert stats.pearsonr(runs["ricci_rho"], runs["test_acc"]).statistic > 0.5
    c = _row(runs, "rho_vs_accuracy_k30")
    within = sorted(stats.pearsonr(g["ricci_rho"], g["test_acc"]).statistic
                    for _, g in runs.groupby("dataset"))
    np.testing.assert_allclose(sorted(cell.estimate for cell in c.cells), within)
    assert c.n_units == MIN_UNITS and c.estimate < 0


def test_least_action_store_units_are_draws_and_the_interval_is_the_t_of_draw_means() -> None:
    runs, _ = least_action_store(np.random.default_rng(5), 0.01)
    c = _row(runs, "penalty_low_data")
    low = runs[runs["train_fraction"] < 1]
    wide = low.pivot_table(index=["dataset", "data_seed", "seed"], columns="arm",
                           values="test_acc")
    per_draw = (wide["transport"] - wide["plain"]).groupby(level=[0, 1]).mean()
    ci = stats.ttest_1samp(per_draw, 0.0).confidence_interval(0.95)
    assert c.n_units == MIN_UNITS and c.unit_word == "data draws"
    np.testing.assert_allclose([c.estimate, *c.interval], [per_draw.mean(), ci.low, ci.high])


def test_a_store_without_the_row_is_refused() -> None:
    def empty(rng: np.random.Generator, effect: float) -> tuple[pd.DataFrame, float]:
        runs, _ = least_action_store(rng, effect)
        return runs[runs["arm"] == "plain"], effect  # no penalty arm: no row

    d = StoreDesign("plain arm only", "penalty_low_data", "penalty_low_data", empty, 0.01, 6)
    with pytest.raises(ConfigError, match="gave 0 rows 'penalty_low_data'"):
        calibrate_store(d, 1, parts=("coverage",))


@pytest.mark.slow
@pytest.mark.parametrize("design", STORE_DESIGNS, ids=IDS)
def test_store_calibration_full(design: StoreDesign) -> None:
    n = 200
    row = calibrate_store(design, n, seed=13)
    assert float(row["coverage"]) >= 0.93 - 2 * _se(n), row
    assert float(row["false_verdicts"]) <= 0.05 + 2 * _se(n), row
    assert float(row["false_no_effect"]) <= 0.05 + 2 * _se(n), row
