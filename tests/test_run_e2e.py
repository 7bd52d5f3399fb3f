"""End to end: `layerflow run` on a tiny config trains, analyses, stores and reports.

The report must exist, embed its figures as PNG data URIs, and show the numbers of the store.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent / "report"))
from layerflow.cli import cli
from layerflow.report._findings import compute_findings
from layerflow.stats._tables import prepare_runs
from layerflow.sweep import ResultStore

from .report.html_pages import (
    decode_png,
    external_references,
    findings_json,
    parse,
    table_records,
)

TINY = """
name: tiny-e2e
seeds: 2
datasets:
  - {name: moons, n: 160, noise: 0.1}
models:
  - {kind: mlp, width: 6, depth: 3}
  - {kind: resnet, width: 6, depth: 3}
train_fraction: [0.5, 1.0]
training:
  optimizer: adam
  lr: 0.02
  epochs: 2
  batch_size: 32
arms:
  plain: {}
  transport: {transport_weight: 0.1}
analysis:
  metrics: [transport, ricci, jacobian]
  ks: [5]
  k: 5
  test_points: 30
  m: 30
  save_trajectories: 1
baselines:
  untrained: true
  seeds: 1
backend: serial
"""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("e2e")
    cfg = root / "tiny.yaml"
    cfg.write_text(TINY)
    out = root / "out"
    result = CliRunner().invoke(cli, ["run", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_run_writes_a_store_and_a_self_contained_report(tiny_run: tuple[Path, str]) -> None:
    out, output = tiny_run
    runs = ResultStore(out).runs()
    # 1 arm x 2 fractions x 2 seeds for mlp (no transport penalty on plain nets), 2 x 2 x 2 for
    # resnet, 1 untrained baseline per model
    assert len(runs) == 4 + 8 + 2
    assert (runs["status"] == "ok").all(), runs[["status", "error"]].to_string()
    report = out / "report.html"
    assert report.is_file()
    assert str(report) in output
    # the run prints the claims and where the report is, not the findings the report holds
    page = parse(report.read_text(encoding="utf-8"))
    n_findings = len(findings_json(page))
    assert f"report: {report} ({n_findings} findings, " in output
    for f in findings_json(page):
        assert f["text"] not in output
    assert output.splitlines()[-1].startswith("report: ")
    assert external_references(page) == []
    assert {"tracks", "lss_ots", "w2_path", "curvature", "ricci_rho", "least_action",
            "jacobian"} <= set(page.images)
    for name, uri in page.images.items():
        assert decode_png(uri) == (out / f"fig-{name}.png").read_bytes()


def test_report_numbers_equal_the_store(tiny_run: tuple[Path, str]) -> None:
    out, _ = tiny_run
    store = ResultStore(out)
    runs, layers = store.runs(), store.layers()
    page = parse((out / "report.html").read_text(encoding="utf-8"))
    # every run's accuracy and metrics, as printed
    rows = {r["run_id"]: r for r in table_records(page.tables["table-runs"])}
    assert set(rows) == set(runs["run_id"])
    for col in ("test_acc", "lss_mean", "ots", "ricci_rho", "kinetic_energy"):
        for rid, v in zip(runs["run_id"], runs[col], strict=True):
            got = rows[rid][col]
            if pd.isna(v):
                assert got in ("—", "")
            else:
                np.testing.assert_allclose(float(got), v, rtol=5e-3, atol=1e-12)  # 3 sig. fig.
    # the W2 figure's table: mean over finished networks per (variant, layer), by hand
    w2 = layers[layers["metric"] == "w2_step"].merge(runs[runs["status"] == "ok"], on="run_id")
    table = table_records(page.tables["table-w2_path"])
    kind = {"mlp": "plain", "resnet": "residual"}
    checked = 0
    for r in table:
        if r["variant"] not in ("plain", "residual"):
            continue
        sel = w2[(w2["model_kind"].map(kind) == r["variant"]) & (w2["layer"] == int(r["layer"]))
                 & w2["trained"] & (w2["transport_weight"] == 0)]
        np.testing.assert_allclose(float(r["mean"]), sel["value"].mean(), rtol=5e-3)  # 3 sig. fig.
        assert int(r["n"]) == len(sel)
        checked += 1
    assert checked > 0
    # findings: those embedded equal those computed from the store now
    want = compute_findings(prepare_runs(runs), layers)
    got = findings_json(page)
    assert [g["text"] for g in got] == [f.text for f in want]
    assert json.loads((out / "findings.json").read_text())["findings"][0]["text"] == want[0].text


def test_report_command_rebuilds_the_same_findings(tiny_run: tuple[Path, str]) -> None:
    out, _ = tiny_run
    before = findings_json(parse((out / "report.html").read_text(encoding="utf-8")))
    result = CliRunner().invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output
    after = findings_json(parse((out / "report.html").read_text(encoding="utf-8")))
    assert [a["text"] for a in after] == [b["text"] for b in before]
    assert result.output.splitlines()[-1].startswith(f"report: {out / 'report.html'} (")
    assert not any(a["text"] in result.output for a in after)
