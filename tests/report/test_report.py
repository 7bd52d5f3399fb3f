"""The report rendered from a store the test builds by hand, checked against the numbers put in."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layerflow._errors import DataError
from layerflow.report import ReportInput, build_report, render_report
from layerflow.report._findings import compute_findings
from layerflow.stats._tables import prepare_runs

from .html_pages import (
    claims_json,
    decode_png,
    external_references,
    findings_json,
    parse,
    table_records,
)
from .store import Rendered, make_least_action, make_runs


def _render(store: ReportInput, out: Path):
    rep = render_report(store, out)
    return rep, parse(rep.path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- the HTML file
def test_report_is_self_contained_and_embeds_every_figure(rendered: Rendered) -> None:
    rep, page, out = rendered.report, rendered.page, rendered.out
    assert rep.path == out / "report.html"
    assert rep.path.is_file()
    text = rep.path.read_text(encoding="utf-8")
    assert external_references(page) == []
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "<link" not in text.lower()
    # every figure of the registry is drawn from this complete store, as PNG, equal to the file
    expected = {"tracks", "lss_ots", "w2_path", "curvature", "ricci_rho", "least_action",
                "jacobian", "ricci_eta_ric", "ricci_rho_accuracy"}
    forests = {f"forest-{c.key}" for c in rep.claims if c.cells}
    assert forests and set(rep.figures) == expected | forests
    # the hand-built store has two weight decays, not a sweep: the γ-sweep figure says so
    assert set(rep.skipped) == {"geodesic"}
    assert "three or more weight decays" in rep.skipped["geodesic"]
    assert set(page.images) == expected | forests
    for name, uri in page.images.items():
        png = decode_png(uri)
        assert png == (out / f"fig-{name}.png").read_bytes()
    # config and versions are in the report
    assert "name: hand-built" in text
    versions = dict(table_records(page.tables["table-versions"])[i].values()
                    for i in range(2))
    assert versions == {"layerflow": "0.1.0", "numpy": np.__version__}


def test_figure_tables_hold_the_numbers_of_the_store(rendered: Rendered) -> None:
    page, store = rendered.page, rendered.store
    rows = table_records(page.tables["table-lss_ots"])
    runs = store.runs
    # an independent recomputation: plain loops over the runs the test made; the interval is the
    # report's rule (seeded percentile bootstrap of the mean), written out here
    checked = 0
    for r in rows:
        if r["variant"] != "residual" or r["metric"] != "lss_mean":
            continue
        sel = runs[(runs["dataset"] == r["dataset"]) & (runs["model_kind"] == "resnet")
                   & (runs["weight_decay"] == 0) & runs["trained"]
                   & (runs["transport_weight"] == 0) & ~runs["uzawa"]]
        v = sel["lss_mean"].to_numpy()
        idx = np.random.default_rng(0).integers(0, v.size, size=(2000, v.size))
        lo, hi = np.quantile(v[idx].mean(axis=1), [0.025, 0.975])
        assert v.min() <= lo <= hi <= v.max()
        assert int(r["n"]) == v.size
        np.testing.assert_allclose(
            [float(r["mean"]), float(r["low"]), float(r["high"])], [v.mean(), lo, hi], rtol=5e-3  # printed to 3 significant figures
        )
        checked += 1
    assert checked == 2  # one per data set
    # the all-runs table has every run and its test accuracy
    run_rows = table_records(page.tables["table-runs"])
    assert len(run_rows) == len(runs)
    got = {r["run_id"]: float(r["test_acc"]) for r in run_rows}
    want = dict(zip(runs["run_id"], runs["test_acc"], strict=True))
    assert got.keys() == want.keys()
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=5e-3)  # 3 sig. figures


def test_missing_data_skips_figures_with_a_reason(rendered: Rendered, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(rendered.out, out)  # an earlier build's PNGs are there
    assert (out / "fig-w2_path.png").exists()
    bare = ReportInput(runs=rendered.store.runs.drop(columns=["ricci_rho"]))
    rep, page = _render(bare, out)
    assert set(rep.skipped) == {"tracks", "w2_path", "curvature", "ricci_rho", "jacobian",
                                "geodesic", "ricci_eta_ric", "ricci_rho_accuracy"}
    for name in rep.skipped:
        assert name not in page.images
        assert not (out / f"fig-{name}.png").exists()  # no stale picture left behind
        assert "(not drawn: the store holds no" in page.skips[name]
    assert "ricci_rho" in page.skips["ricci_rho"]
    assert {n for n in page.images if not n.startswith("forest-")} == {"lss_ots", "least_action"}
    # a forest plot per claims row with per-unit estimates
    assert {n for n in page.images if n.startswith("forest-")} == {
        f"forest-{c.key}" for c in rep.claims if c.cells}


def test_report_html_findings_are_the_computed_ones(rendered: Rendered) -> None:
    rep, page = rendered.report, rendered.page
    texts = [f.text for f in rep.findings]
    # the claims table opens the report; then each finding once, in its paper's section
    assert page.findings == texts
    html_text = rep.path.read_text(encoding="utf-8")
    assert html_text.index('id="table-claims"') < html_text.index('class="finding"')
    claims = claims_json(page)
    assert [c["key"] for c in claims] == [c.key for c in rep.claims] and claims
    rows = table_records(page.tables["table-claims"])
    assert [r["verdict"] for r in rows] == [c.verdict for c in rep.claims if c.kind == "claim"]
    checks = [c.verdict for c in rep.claims if c.kind == "check"]
    if checks:
        assert [r["verdict"] for r in table_records(page.tables["table-checks"])] == checks
    assert {"definition", "unit", "n_units", "n_networks", "n_eligible", "family", "p_adjusted",
            "kind"} <= set(claims[0])
    payload = findings_json(page)
    assert [p["text"] for p in payload] == texts
    assert [p["numbers"] for p in payload] == [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in f.numbers.items()}
        for f in rep.findings
    ]
    assert len(texts) >= 6


# -------------------------------------------------------------------------- findings vs data
def _lss_settings(runs: pd.DataFrame) -> tuple[int, int]:
    """Residual vs plain mean LSS per (dataset, weight decay): a plain loop."""
    lower = higher = 0
    for ds in runs["dataset"].unique():
        for wd in runs["weight_decay"].unique():
            sel = runs[(runs["dataset"] == ds) & (runs["weight_decay"] == wd) & runs["trained"]]
            r = sel[sel["model_kind"] == "resnet"]["lss_mean"].mean()
            p = sel[sel["model_kind"] == "mlp"]["lss_mean"].mean()
            lower += int(r < p)
            higher += int(r > p)
    return lower, higher


@pytest.mark.parametrize("straighter", [True, False])
def test_lss_finding_direction_comes_from_the_data(straighter: bool,
                                                   rng: np.random.Generator) -> None:
    runs = make_runs(rng, residual_straighter=straighter)
    (f,) = [f for f in compute_findings(prepare_runs(runs)) if f.key == "lss_residual_vs_plain"]
    lower, higher = _lss_settings(runs)
    assert (f.numbers["n_lower"], f.numbers["n_higher"]) == (lower, higher)
    assert f.numbers["n_settings"] == 4
    if straighter:
        assert (lower, higher) == (4, 0)
        assert f.text.startswith("Residual networks had lower mean LSS than plain ones in 4 of 4")
    else:
        assert (lower, higher) == (0, 4)
        assert f.text.startswith("Residual networks had higher mean LSS than plain ones in 4 of 4")


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_rho_sign_finding_counts_well_trained_networks(sign: float,
                                                       rng: np.random.Generator) -> None:
    runs = make_runs(rng)
    runs["ricci_rho"] = sign * np.where(np.arange(len(runs)) % 5 == 0, 0.3, -0.4)
    (f,) = [f for f in compute_findings(prepare_runs(runs)) if f.key == "rho_sign"]
    well = runs[runs["trained"] & (runs["test_acc"] >= 0.98)]
    n = len(well)
    neg = int((well["ricci_rho"] < 0).sum())
    assert f.numbers["n_well_trained"] == n
    assert f.numbers["n_negative"] == neg
    majority = max(neg, n - neg)
    assert majority > n / 2
    want = "ρ < 0" if sign > 0 else "ρ > 0"
    assert f.text.startswith(f"{want} in {100 * majority / n:.0f} % of well-trained networks")
    assert f"n = {n};" in f.text
    base = runs[~runs["trained"]]["ricci_rho"]
    share = float(np.mean(base < 0) if sign > 0 else np.mean(base > 0))
    assert f.numbers["share_untrained"] == share
    assert f"untrained networks of the same shapes: {100 * share:.0f} % (n = {len(base)})" in f.text


def test_percentages_never_round_a_proper_part_to_all_or_nothing() -> None:
    from layerflow.report._findings import fmt_percent

    assert fmt_percent(0.998) == "99.8 %"
    assert fmt_percent(1.0) == "100 %"
    assert fmt_percent(0.0) == "0 %"
    assert fmt_percent(0.002) == "0.2 %"
    assert fmt_percent(0.77) == "77 %"
    assert fmt_percent(0.99996) == "99.996 %"
    assert fmt_percent(0.00004) == "0.004 %"


def test_rho_accuracy_and_baseline_findings(rng: np.random.Generator) -> None:
    runs = make_runs(rng)
    found = {f.key: f for f in compute_findings(prepare_runs(runs))}
    tr = runs[runs["trained"]]
    well = tr[tr["test_acc"] >= 0.98]  # SPEC §3: the study is over well-trained networks
    r = np.corrcoef(well["ricci_rho"], well["test_acc"])[0, 1]
    fa = found["rho_vs_accuracy"]
    np.testing.assert_allclose(fa.numbers["pearson_r"], r, rtol=1e-12)
    assert fa.numbers["n"] == len(well)
    assert fa.numbers["ci_low"] <= r <= fa.numbers["ci_high"]
    word = ("not clearly" if fa.numbers["ci_low"] <= 0 <= fa.numbers["ci_high"]
            else "negatively" if r < 0 else "positively")  # a direction only outside 0
    assert f"were {word} correlated" in fa.text
    per = [np.corrcoef(g["ricci_rho"], g["test_acc"])[0, 1]
           for _, g in well.groupby("dataset") if len(g) >= 2 and g["test_acc"].std() > 0]
    assert fa.numbers["n_datasets_negative"] == sum(x < 0 for x in per)
    assert fa.numbers["n_datasets_positive"] == sum(x > 0 for x in per)
    mt = np.median(tr["ricci_rho"])
    mu = np.median(runs[~runs["trained"]]["ricci_rho"])
    f = found["rho_trained_vs_untrained"]
    np.testing.assert_allclose([f.numbers["median_trained"], f.numbers["median_untrained"]],
                               [mt, mu])
    assert ("had lower median" in f.text) == (mt < mu)


def test_no_well_trained_network_is_said_not_guessed(rng: np.random.Generator) -> None:
    runs = make_runs(rng)
    runs["test_acc"] = 0.7
    (f,) = [f for f in compute_findings(prepare_runs(runs)) if f.key == "rho_sign"]
    assert f.numbers["n_well_trained"] == 0
    assert f.text.startswith("No trained network reached test accuracy 0.98")


def test_jacobian_finding_against_a_loop(store: ReportInput) -> None:
    (f,) = [f for f in compute_findings(prepare_runs(store.runs), store.layers)
            if f.key == "jacobian_orientation"]
    lay = store.layers[store.layers["metric"] == "orientation_fraction"]
    kinds = dict(zip(store.runs["run_id"], store.runs["model_kind"], strict=True))
    trained = dict(zip(store.runs["run_id"], store.runs["trained"], strict=True))
    vals: dict[str, list[float]] = {"resnet": [], "mlp": []}
    for rid, v in zip(lay["run_id"], lay["value"], strict=True):
        if trained[rid]:
            vals[kinds[rid]].append(v)
    np.testing.assert_allclose(f.numbers["residual_mean"], np.mean(vals["resnet"]))
    np.testing.assert_allclose(f.numbers["plain_mean"], np.mean(vals["mlp"]))
    assert "residual more often than plain" in f.text


@pytest.mark.parametrize("gain", [0.05, -0.05])
def test_least_action_finding_in_the_report(gain: float, rng: np.random.Generator,
                                            tmp_path: Path) -> None:
    runs = make_least_action(rng, penalty_gain=gain)
    rep, page = _render(ReportInput(runs=runs), tmp_path / "out")
    acc = [f for f in rep.findings if f.key == "least_action_accuracy"
           and f.numbers["arm"] == "transport"]
    assert len(acc) == 1
    word = "higher" if gain > 0 else "lower"
    assert f"transport (transport penalty) had {word} mean test accuracy than plain at 3 of 3" \
        in acc[0].text
    assert acc[0].text in page.findings
    ke = [f for f in rep.findings if f.key == "least_action_kinetic"
          and f.numbers["arm"] == "transport"]
    assert "had lower mean kinetic energy than plain" in ke[0].text
    assert "least_action" in page.images


# ---------------------------------------------------------------------------- edges and errors
def test_build_report_on_a_folder_without_a_store_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        build_report(tmp_path / "nowhere")


def test_importing_the_report_does_not_import_matplotlib() -> None:
    code = "import sys, layerflow.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_per_layer_figures_use_each_runs_primary_k(store: ReportInput, tmp_path: Path) -> None:
    """The primary k is read back from the store (the runs' ``k`` column), never the YAML."""
    from dataclasses import replace

    other = store.layers[store.layers["metric"] == "scalar_curvature"].assign(k=20, value=1e6)
    layers = pd.concat([store.layers, other], ignore_index=True)
    for k, big in ((10, False), (20, True)):
        lean = replace(store, runs=store.runs.assign(k=k), layers=layers, trajectories={},
                       config_text="analysis:\n  k: 99\n")
        _, page = _render(lean, tmp_path / f"k{k}")
        rows = table_records(page.tables["table-curvature"])
        curv = [float(r["mean"]) for r in rows if r["quantity"] == "scalar_curvature"]
        assert curv
        assert all((c == 1e6) == big for c in curv)
