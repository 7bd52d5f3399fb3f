"""Calibration of the claims' estimators at the fewest units a claim may be judged on
(``MIN_UNITS``): coverage ≥ 93 % at 95 %, false verdicts and false "no effect" ≤ 5 %, bounds
widened by 2 Monte Carlo standard errors of the 5 % (or 95 %) rate.

Default tests: 1,000 simulations under the null for every design but the slow pooled one (300),
300 for coverage and false "no effect". ``--runslow``: 2,000 of each.
"""

from __future__ import annotations

import math

import pytest

from layerflow.stats.claims.calibration import DESIGNS, HARSH, calibrate
from layerflow.stats.claims.registry import MIN_UNITS

USED = [d for d in DESIGNS if d.estimator != "cluster_bootstrap"]
ALL = USED + list(HARSH)
IDS = [d.estimator + ":" + d.name[:30] for d in ALL]
#: the harsh share designs (Beta concentration ≤ 1) under-cover with 6 cells; their false
#: verdicts are bounded, their coverage is reported (benchmarks/bench_calibration.py)
UNDERCOVER = {d.name for d in HARSH if d.estimator == "cluster_share"}


def _se(n: int) -> float:
    return math.sqrt(0.95 * 0.05 / n)


def test_designs_are_at_min_units() -> None:
    assert MIN_UNITS >= 6
    assert all(d.units == MIN_UNITS for d in ALL if d.estimator != "welch_strata")


@pytest.mark.parametrize("design", ALL, ids=IDS)
def test_false_verdicts(design) -> None:  # type: ignore[no-untyped-def]
    n = 300 if design.estimator == "cluster_z_t" and "pooled" in design.name else 1000
    row = calibrate(design, n, seed=7, parts=("false_verdicts",))
    assert float(row["false_verdicts"]) <= 0.05 + 2 * _se(n), row


@pytest.mark.parametrize("design", ALL, ids=IDS)
def test_coverage_and_false_no_effect(design) -> None:  # type: ignore[no-untyped-def]
    n = 300
    row = calibrate(design, n, seed=5, parts=("coverage", "false_no_effect"))
    assert float(row["false_no_effect"]) <= 0.05 + 2 * _se(n), row
    if design.name not in UNDERCOVER:
        assert float(row["coverage"]) >= 0.93 - 2 * _se(n), row


@pytest.mark.slow
@pytest.mark.parametrize("design", ALL, ids=IDS)
def test_calibration_full(design) -> None:  # type: ignore[no-untyped-def]
    n = 2000
    row = calibrate(design, n, seed=11)
    assert float(row["false_verdicts"]) <= 0.05 + 2 * _se(n), row
    assert float(row["false_no_effect"]) <= 0.05 + 2 * _se(n), row
    if design.name not in UNDERCOVER:
        assert float(row["coverage"]) >= 0.93 - 2 * _se(n), row


@pytest.mark.slow
def test_the_two_stage_bootstrap_is_liberal() -> None:
    """Why no claim uses it: with 6 cells its percentile test rejects a true null far more than
    5 % of the time (about 11 %), and its interval covers below 93 % (about 91 %)."""
    (boot,) = [d for d in DESIGNS if d.estimator == "cluster_bootstrap"]
    row = calibrate(boot, 300, seed=3, parts=("false_verdicts",))
    assert float(row["false_verdicts"]) > 0.05 + 2 * _se(300), row
