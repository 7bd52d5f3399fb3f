"""The claims table: verdicts computed from the numbers, flipping when the data flip."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from layerflow.stats.claims import Claim, compute_claims, verdict
from layerflow.stats.intervals import Interval
from layerflow.stats.tables import prepare_runs


def test_verdict_rule() -> None:
    iv = lambda lo, hi: Interval(0.5 * (lo + hi), lo, hi, 10, 0.1)  # noqa: E731
    assert verdict(iv(0.1, 0.3), 0.0, +1) == "supported"
    assert verdict(iv(0.1, 0.3), 0.0, -1) == "contradicted"
    assert verdict(iv(-0.3, -0.1), 0.0, -1) == "supported"
    assert verdict(iv(-0.1, 0.3), 0.0, +1) == "inconclusive"
    assert verdict(Interval(0.2, np.nan, np.nan, 1, np.nan), 0.0, +1) == "inconclusive"
    assert verdict(iv(0.55, 0.7), 0.5, +1) == "supported"


def _runs(residual_lss: float, rho_shift: float, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for ds, kind, seed, trained in itertools.product(("a", "b", "c"), ("resnet", "mlp"),
                                                      range(6), (True, False)):
        lss = residual_lss if kind == "resnet" else 2.0
        acc = rng.uniform(0.985, 1.0) if trained else 0.5
        rho = -0.5 + rho_shift + 0.05 * rng.normal() if trained else rng.uniform(-1, 1)
        rows.append({"run_id": f"{ds}{kind}{seed}{trained}", "dataset": ds, "model_kind": kind,
                     "width": 8, "depth": 4, "seed": seed, "trained": trained, "status": "ok",
                     "weight_decay": 0.0, "transport_weight": 0.0, "uzawa": False,
                     "train_fraction": 1.0, "n_points": 200, "k": 30,
                     "lss_mean": lss + 0.05 * rng.normal(), "ots": rng.uniform(0, 1),
                     "test_acc": acc, "ricci_rho": rho})
    return prepare_runs(pd.DataFrame(rows))


@pytest.mark.parametrize(("residual_lss", "want"), [(1.2, "supported"), (3.0, "contradicted"),
                                                    (2.0, "inconclusive")])
def test_lss_claim_follows_the_data(residual_lss: float, want: str) -> None:
    runs = _runs(residual_lss, 0.0, np.random.default_rng(0))
    (c,) = [c for c in compute_claims(runs) if c.key == "lss_residual_vs_plain"]
    assert isinstance(c, Claim) and c.verdict == want
    # estimate recomputed by hand: per (dataset) setting, mean plain − mean residual
    t = runs[runs["trained"]]
    diffs = [t[(t.dataset == d) & (t.kind == "plain")].lss_mean.mean()
             - t[(t.dataset == d) & (t.kind == "residual")].lss_mean.mean() for d in "abc"]
    np.testing.assert_allclose(c.estimate, np.mean(diffs), rtol=1e-12)
    assert c.interval[0] <= c.estimate <= c.interval[1] and c.n == 3
    assert "a, b, c" in c.protocol and "N = 200" in c.protocol and "6 seeds" in c.protocol


@pytest.mark.parametrize(("shift", "want"), [(0.0, "supported"), (1.0, "contradicted")])
def test_rho_sign_claim_is_a_wilson_proportion(shift: float, want: str) -> None:
    runs = _runs(1.2, shift, np.random.default_rng(1))
    (c,) = [c for c in compute_claims(runs) if c.key == "rho_negative"]
    well = runs[runs["trained"] & (runs["test_acc"] >= 0.98)]
    assert c.n == len(well) and c.estimate == np.mean(well["ricci_rho"] < 0)
    assert 0.0 <= c.interval[0] <= c.interval[1] <= 1.0 and c.null == 0.5
    assert c.verdict == want and "k = 30" in c.protocol


def test_no_data_no_claims() -> None:
    runs = prepare_runs(pd.DataFrame({"run_id": ["x"], "dataset": ["a"], "model_kind": ["mlp"],
                                      "status": ["ok"], "trained": [True], "test_acc": [0.9]}))
    assert compute_claims(runs) == []
