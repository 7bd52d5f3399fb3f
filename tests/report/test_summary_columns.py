"""Each store column is summarised once, under the declaration that describes it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layerflow.report._view_tables import view_tables
from layerflow.stats._tables import prepare_runs
from layerflow.views import column_declarations, metric_names

#: the float metric columns of the default study's store (layerflow run --no-report), by view
DEFAULT_STORE = {
    "transport": ["lss_mean", "lss_median", "ots", "ot_cost_ratio", "w2_geodesic_ratio",
                  "w2_speed_cv", "kinetic_energy", "path_length", "turning_angle_mean"],
    "ricci": ["ricci_rho"],
    "jacobian": ["jacobian_orientation_min", "jacobian_orientation_mean",
                 "jacobian_diffeomorphic_min", "jacobian_fraction_all"],
}


def test_each_column_goes_to_its_declaration() -> None:
    """Only the primary coefficient is a runs column; the old per-(protocol, k) names are no
    declaration's (their values are rows of the coefficients table)."""
    decl = column_declarations(["ricci_rho", "ricci_rho_k10", "ricci_rho_baptista",
                                "ricci_rho_baptista_k30", "ricci_first_pair", "dataset"])
    assert {c: d.label for c, (_, d) in decl.items()} == {"ricci_rho": "ρ"}
    assert metric_names(["dataset", "ricci_first_pair", "ricci_rho_k10", "ricci_rho"]) == [
        "ricci_rho"]


def test_the_summary_lists_each_column_of_the_default_store_once() -> None:
    rng = np.random.default_rng(0)
    cols = [c for v in DEFAULT_STORE.values() for c in v]
    runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(4)], "dataset": "moons",
                         "model_kind": "resnet", "status": "ok",
                         **{c: rng.uniform(0.1, 0.9, 4) for c in cols}})
    tables = view_tables(prepare_runs(runs))
    assert set(tables) == set(DEFAULT_STORE)
    for view, want in DEFAULT_STORE.items():
        _, table = tables[view]
        assert sorted(table["metric"]) == sorted(want)  # each once
    ricci = tables["ricci"][1].set_index("metric")["label"]
    assert ricci.to_dict() == {"ricci_rho": "ρ"}
    means = tables["ricci"][1].set_index("metric")["mean"]
    np.testing.assert_allclose(means["ricci_rho"], runs["ricci_rho"].mean())
