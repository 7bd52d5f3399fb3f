"""The runs table is prepared in one place: the roles the runner records are read back as they
are, a store written without them gets the runner's own definition, and the readers that need a
prepared table say so instead of preparing it again."""

from __future__ import annotations

import pandas as pd
import pytest

from layerflow._errors import ConfigError
from layerflow.report._findings import compute_findings
from layerflow.report._view_tables import view_tables
from layerflow.stats._geodesic import weight_decay_table
from layerflow.stats._least_action import assign_arms
from layerflow.stats._tables import PREPARED_COLUMNS, paired_settings, prepare_runs
from layerflow.stats.claims import compute_claims
from layerflow.sweep import expand_runs, load_config


def _store_rows() -> pd.DataFrame:
    """The runs table columns the runner writes for every run of the default study."""
    cfg = load_config("default")
    runs = expand_runs(cfg)
    fields = tuple(cfg.training)
    return pd.DataFrame([r.columns(fields) for r in runs])


def test_a_store_without_roles_gets_the_runners_roles() -> None:
    written = _store_rows()
    assert set(written["arm_role"]) == {"plain", "weight decay", "transport penalty",
                                        "untrained"}
    old = written.drop(columns=["arm_role", "penalised"])  # a store written before the roles
    got = prepare_runs(old)
    assert got["arm_role"].tolist() == written["arm_role"].tolist()
    assert got["penalty"].tolist() == written["penalised"].astype(bool).tolist()
    assert prepare_runs(written)["arm_role"].tolist() == written["arm_role"].tolist()
    # the least-action readers take the same roles
    trained = old[old["trained"].astype(bool)]
    assert assign_arms(trained)["arm_role"].tolist() == written.loc[
        trained.index, "arm_role"].tolist()


def test_a_partly_recorded_role_is_completed_from_the_training_columns() -> None:
    df = pd.DataFrame({"arm_role": ["plain", None, None],
                       "transport_weight": [0.0, 0.5, float("nan")],
                       "uzawa": [False, False, None], "weight_decay": [0.0, 0.0, None],
                       "trained": [True, True, False], "model_kind": ["resnet"] * 3})
    assert prepare_runs(df)["arm_role"].tolist() == ["plain", "transport penalty", "untrained"]
    assert prepare_runs(df)["penalty"].tolist() == [False, True, False]


def test_preparing_twice_changes_nothing() -> None:
    once = prepare_runs(_store_rows())
    pd.testing.assert_frame_equal(prepare_runs(once), once)
    assert set(PREPARED_COLUMNS) <= set(once.columns)


@pytest.mark.parametrize("reader", [
    compute_findings, compute_claims, view_tables, weight_decay_table,
    lambda runs: paired_settings(runs, "lss_mean"),
])
def test_a_reader_of_prepared_runs_refuses_a_raw_table(reader) -> None:  # type: ignore[no-untyped-def]
    raw = pd.DataFrame({"run_id": ["a"], "dataset": ["moons"], "model_kind": ["resnet"],
                        "status": ["ok"], "lss_mean": [1.2]})
    with pytest.raises(ConfigError, match=r"prepared runs table.*'kind'"):
        reader(raw)
