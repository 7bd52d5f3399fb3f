"""build_report / `layerflow report DIR` on a real sweep store (the runner's cheap toy task)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from layerflow._errors import DataError
from layerflow.cli import cli
from layerflow.report import build_report
from layerflow.sweep import ResultStore, run_sweep

from .html_pages import decode_png, external_references, parse, table_records

CONFIG = {
    "name": "toy-report",
    "seeds": 3,
    "datasets": ["moons"],
    "models": [{"kind": "mlp", "width": [4, 5], "depth": 3}],
    "training": {"epochs": 1, "lr": 0.01},
    "analysis": {"metrics": ["ricci"], "ks": [5], "k": 5, "test_points": 20},
    "baselines": {"untrained": True, "seeds": 2},
    "backend": "serial",
}


@pytest.fixture(scope="module")
def toy_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy")
    run_sweep(CONFIG, out, task="toy")
    return out


def test_build_report_reads_the_sweep_store(toy_store: Path) -> None:
    path = build_report(toy_store)
    assert path == toy_store / "report.html"
    page = parse(path.read_text(encoding="utf-8"))
    assert external_references(page) == []
    assert set(page.images) == {"curvature", "ricci_rho", "ricci_rho_accuracy"}
    for name, uri in page.images.items():
        assert decode_png(uri) == (toy_store / f"fig-{name}.png").read_bytes()
    runs = ResultStore(toy_store).runs()
    rows = {r["run_id"]: r for r in table_records(page.tables["table-ricci_rho"])}
    assert set(rows) == set(runs["run_id"])
    for rid, rho in zip(runs["run_id"], runs["ricci_rho"], strict=True):
        np.testing.assert_allclose(float(rows[rid]["ricci_rho"]), rho, rtol=5e-3, atol=1e-12)  # 3 sig. fig.
    # config and versions come from the folder the runner wrote
    text = path.read_text(encoding="utf-8")
    assert "toy-report" in text
    vers = {r["package"]: r["version"] for r in table_records(page.tables["table-versions"])}
    assert vers["numpy"] == np.__version__
    # untrained baselines have trained == False: the finding compares medians of both
    tr = runs[runs["trained"]]["ricci_rho"].median()
    un = runs[~runs["trained"]]["ricci_rho"].median()
    want = "lower" if tr < un else "higher"
    assert any(f"Trained networks had {want} median ρ" in t for t in page.findings)
    assert not math.isnan(tr)


def test_cli_report_rebuilds_and_says_where_it_is(toy_store: Path) -> None:
    (toy_store / "report.html").unlink(missing_ok=True)
    result = CliRunner().invoke(cli, ["report", str(toy_store)])
    assert result.exit_code == 0, result.output
    assert (toy_store / "report.html").is_file()
    assert (toy_store / "fig-ricci_rho.png").is_file()
    assert f"report: {toy_store / 'report.html'} (" in result.output
    assert "Trained networks had" not in result.output  # the findings are in the report


def test_cli_report_on_a_folder_without_a_store_fails_clearly(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert result.exit_code != 0
    assert "holds no results store" in result.output
    assert str(tmp_path) in result.output
    with pytest.raises(DataError, match="holds no results store"):
        build_report(tmp_path)
    missing = CliRunner().invoke(cli, ["report", str(tmp_path / "nope")])
    assert missing.exit_code != 0
    assert "does not exist" in missing.output


def test_report_on_a_corrupt_store_names_the_folder_and_the_cause(tmp_path: Path) -> None:
    parts = tmp_path / "store" / "parts"
    parts.mkdir(parents=True)
    (parts / "runs-0123456789abcdef-1.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=rf"^'{tmp_path}' holds no readable layerflow results "
                       r"store \(.*Parquet.*\); run `layerflow run CONFIG --out DIR` first"):
        build_report(tmp_path)
    assert not (tmp_path / "report.html").exists()
