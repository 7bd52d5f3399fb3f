"""The report reads the store's runs once and computes the protocol table once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from layerflow.report import ReportInput, load_input, render_report


def test_load_input_reads_the_runs_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from layerflow.sweep._store import ResultStore

    calls: list[str] = []
    runs = pd.DataFrame({"run_id": ["a"], "attempt": [0], "status": ["ok"]})

    def fake_runs(self: Any) -> pd.DataFrame:
        calls.append("runs")
        return runs

    monkeypatch.setattr(ResultStore, "runs", fake_runs)
    inp = load_input(tmp_path)
    assert calls == ["runs"]
    assert inp.runs is runs and inp.layers.empty


def test_the_protocol_table_is_computed_once_per_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: ReportInput) -> None:
    import layerflow.stats._ricci as ricci_stats

    calls: list[int] = []
    real = ricci_stats.protocol_table

    def counting(*args: Any, **kw: Any) -> pd.DataFrame:
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(ricci_stats, "protocol_table", counting)
    render_report(store, tmp_path / "out")
    assert len(calls) == 1


def test_the_shared_table_gives_the_sentences_of_the_prepared_runs(store: ReportInput) -> None:
    """The report builds the sentences from the table of the raw runs; they are those the
    registry function builds from the prepared runs."""
    from layerflow.report._findings.ricci import protocol_findings, rho_by_protocol_and_k
    from layerflow.stats._ricci import protocol_table
    from layerflow.stats._tables import prepare_runs

    runs = store.runs
    at10 = pd.DataFrame({"run_id": runs["run_id"], "protocol": "layerflow", "k": 10,
                         "rho": runs["ricci_rho"], "first_pair": 0, "reason": ""})
    coef = pd.concat([at10, at10.assign(k=5, rho=at10["rho"] * 0.9)], ignore_index=True)
    want = rho_by_protocol_and_k(prepare_runs(runs), store.layers, coef)
    assert want  # two ks: the sentences exist
    got = protocol_findings(protocol_table(runs, store.layers, coef), prepare_runs(runs), coef)
    assert [repr(f) for f in got] == [repr(f) for f in want]  # repr: nan == nan
