"""Simulated stores run end to end through compute_claims (builders, min_units, the sign-flip +
t rule, Holm, the verdict) at the fewest units a verdict may come from."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from layerflow.stats._tables import prepare_runs
from layerflow.stats.claims import compute_claims
from layerflow.stats.claims._registry import MIN_UNITS


def _store(rng: np.random.Generator, effect: float, n_sets: int = MIN_UNITS,
           shapes: int = 1) -> pd.DataFrame:
    """n_sets data sets (one draw each) × shapes; per data set the residual − plain LSS gap is
    ``effect ± 0.5`` at random (two-point, true mean ``effect``), shared by its shapes."""
    rows = []
    for i in range(n_sets):
        gap = effect + 0.5 * rng.choice([-1.0, 1.0])
        for w, kind, seed in itertools.product(range(shapes), ("resnet", "mlp"), range(3)):
            lss = 2.0 - (gap if kind == "resnet" else 0.0) + 0.05 * rng.normal()
            rows.append({"run_id": f"d{i}w{w}{kind}{seed}", "dataset": f"d{i}",
                         "model_kind": kind, "width": 8 + w, "depth": 4, "seed": seed,
                         "trained": True, "status": "ok", "weight_decay": 0.0,
                         "transport_weight": 0.0, "uzawa": False, "train_fraction": 1.0,
                         "n_points": 200, "lss_mean": lss, "test_acc": 0.9})
    return prepare_runs(pd.DataFrame(rows))


def _verdict(runs: pd.DataFrame) -> str:
    (c,) = [c for c in compute_claims(runs) if c.key == "lss_residual_vs_plain"]
    return c.verdict


def _false_rate(n: int, shapes: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    return float(np.mean([_verdict(_store(rng, 0.0, shapes=shapes)) in
                          ("supported", "contradicted") for _ in range(n)]))


def test_two_point_cell_effects_at_min_units_end_to_end() -> None:
    """No true effect, cell effects ±0.5: the t-test alone rejects about 1 in 5 at 3 cells;
    with the sign-flip test and 6 data sets the rate is 2 / 64 (all six of one sign)."""
    n = 50
    rate = _false_rate(n, 1, seed=1)
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / n), rate


def test_shapes_sharing_a_data_set_are_one_unit_end_to_end() -> None:
    """Five shapes per data set share its gap: 30 cells but 6 units, so no more false
    verdicts than with one shape each."""
    c = next(c for c in compute_claims(_store(np.random.default_rng(0), 0.0, shapes=5))
             if c.key == "lss_residual_vs_plain")
    assert (c.n_units, c.n_cells) == (MIN_UNITS, 5 * MIN_UNITS)
    n = 20
    rate = _false_rate(n, 5, seed=2)
    assert rate <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / n), rate


@pytest.mark.slow
@pytest.mark.parametrize("shapes", [1, 5])
def test_two_point_cell_effects_end_to_end_full(shapes: int) -> None:
    n = 1000
    assert _false_rate(n, shapes, seed=3) <= 0.05 + 2 * math.sqrt(0.05 * 0.95 / n)
