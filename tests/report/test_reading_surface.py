"""What a reader sees: numbers to three significant figures, "—" for undefined, findings about one
data set folded, figures without data named in one line, long tables folded and sorted."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from layerflow.report._findings import Finding
from layerflow.report._format import format_number
from layerflow.report._html import FOLD_ROWS, findings_html
from layerflow.report._view_tables import view_tables
from layerflow.report.figures._common import collapse_equal_layers
from layerflow.stats._tables import prepare_runs

from .store import Rendered


@pytest.mark.parametrize(("value", "text"), [
    (0.123456, "0.123"), (-0.0472, "-0.0472"), (1234.5, "1230"), (999.6, "1000"),
    (2.5e6, "2.5e+06"), (1.5e-7, "1.5e-07"), (0.000123, "0.000123"), (30.0, "30"),
    (0.0, "0"), (-0.0, "0"), (np.float32(0.1), "0.1"), (np.int64(1530), "1530"), (7, "7"),
    (math.nan, "—"), (None, "—"), (pd.NA, "—"), (math.inf, "∞"), (-math.inf, "-∞"),
    (True, "True"), ("moons", "moons"),
])
def test_format_number(value: object, text: str) -> None:
    assert format_number(value) == text


def test_three_significant_figures_round_trip_within_half_a_unit() -> None:
    rng = np.random.default_rng(0)
    for v in rng.lognormal(0, 6, 500) * rng.choice([-1, 1], 500):
        got = float(format_number(float(v)))
        # three significant figures: off by at most half a unit in the third digit
        assert abs(got - v) <= 0.5 * 10 ** (math.floor(math.log10(abs(v))) - 2) * (1 + 1e-9)


def test_the_page_prints_no_raw_nan_and_no_six_digit_numbers(rendered: Rendered) -> None:
    text = rendered.report.path.read_text(encoding="utf-8")
    body = re.sub(r"<script.*?</script>", "", text, flags=re.S)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", body)
    assert cells and "nan" not in cells
    for c in cells:
        digits = re.sub(r"e[-+]\d+$", "", c).lstrip("-").replace(".", "").lstrip("0")
        if re.fullmatch(r"-?[0-9.]+(e[-+]\d+)?", c) and "." in c:
            assert len(digits) <= 3, c
    assert ">nan<" not in body and " nan " not in body


def test_no_heading_is_repeated_and_figures_without_data_take_one_line(
        rendered: Rendered) -> None:
    text = rendered.report.path.read_text(encoding="utf-8")
    heads = re.findall(r"<h[23][^>]*>(.*?)</h[23]>", text)
    assert len(heads) == len(set(heads)), heads
    assert 'class="skip"' in text and "<div class=\"skip\"" not in text
    assert text.count("<p class=skips>") == 1  # the hand-built store lacks the γ sweep
    assert text.count('<h2 id="every-metric">') == 1


def test_long_tables_are_folded(rendered: Rendered) -> None:
    text = rendered.report.path.read_text(encoding="utf-8")
    for m in re.finditer(r'<table id="table-view-[^"]+">.*?</table>', text, re.S):
        rows = m.group(0).count("<tr>") - 1
        before = text[:m.start()]
        folded = before.rfind("<details") > before.rfind("</details>")
        assert folded or rows <= FOLD_ROWS


def test_findings_about_one_data_set_are_folded_under_the_headline_ones() -> None:
    head = Finding("a", "v", "Residual networks had lower LSS.", {"n": 3})
    per_set = [Finding("b", "v", f"{ds}: lower.", {"dataset": ds}) for ds in ("moons", "digits")]
    html = findings_html([per_set[0], head, per_set[1]])
    assert html.index("Residual networks") < html.index("<details class=detail>")
    folded = html[html.index("<details class=detail>"):]
    assert "Per data set: 2 more findings on 2 data sets" in folded
    assert "moons: lower." in folded and "digits: lower." in folded
    assert findings_html([head]).count("<details class=detail>") == 0


def test_every_metric_table_is_sorted_and_lists_identical_columns_once() -> None:
    rng = np.random.default_rng(1)
    n = 6
    lss = rng.uniform(1, 3, n)
    runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(n)],
                         "dataset": ["moons", "circles"] * 3, "model_kind": "resnet",
                         "status": "ok", "lss_mean": lss, "lss_median": lss,
                         "ots": rng.uniform(0, 1, n)})
    _, table = view_tables(prepare_runs(runs))["transport"]
    assert sorted(table["metric"].unique()) == ["lss_mean", "ots"]
    merged = table[table["metric"] == "lss_mean"]
    assert set(merged["label"]) == {"mean LSS (= lss_median)"}
    np.testing.assert_allclose(merged.set_index("dataset").loc["moons", "mean"],
                               lss[::2].mean())
    keys = list(zip(table["metric"], table["dataset"], table["variant"], strict=True))
    order = {m: i for i, m in enumerate(dict.fromkeys(table["metric"]))}
    assert keys == sorted(keys, key=lambda k: (order[k[0]], k[1], k[2]))


def test_equal_consecutive_layers_are_one_row() -> None:
    table = pd.DataFrame({
        "dataset": "moons", "variant": ["residual"] * 5 + ["plain"] * 3,
        "quantity": "orientation_fraction", "layer": [1, 2, 3, 4, 5, 1, 2, 3],
        "n": 4, "mean": [1.0, 1.0, 1.0, 0.5, 1.0, 0.0, 0.0, 0.0], "std": 0.0,
        "low": [1.0, 1.0, 1.0, 0.4, 1.0, 0.0, 0.0, 0.0],
        "high": [1.0, 1.0, 1.0, 0.6, 1.0, 0.0, 0.0, 0.0], "n_infinite": 0})
    shown = collapse_equal_layers(table)
    assert list(zip(shown["variant"], shown["layer"], shown["mean"], strict=True)) == [
        ("residual", "1–3", 1.0), ("residual", "4", 0.5), ("residual", "5", 1.0),
        ("plain", "1–3", 0.0)]
    assert list(shown.columns) == list(table.columns)


def test_a_transformer_study_draws_token_tracks_of_a_trained_and_an_untrained_network(
        tmp_path: object) -> None:
    from pathlib import Path

    import layerflow as lf
    from layerflow.report.figures._tracks import figure_tracks, tracks_table
    from layerflow.sweep._tasks.train import token_trajectory

    ds = lf.load_dataset("tokens:sorted", n=200)
    paths, rows = {}, []
    for i, trained in enumerate((True, False, True)):
        model = lf.build_model(lf.ModelSpec("transformer", width=8, depth=2, vocab=10),
                               in_dim=8, n_classes=2, seed=i)
        traj = token_trajectory(model, ds.X_test[:10], ds.y_test[:10], {})
        rid = f"{i:016x}"
        paths[rid] = traj.save(Path(str(tmp_path)) / f"tokens-transformer-seed{i}-{rid}.npz")
        rows.append({"run_id": rid, "dataset": "tokens:sorted", "model_kind": "transformer",
                     "status": "ok", "trained": trained, "seed": i, "weight_decay": 0.0,
                     "transport_weight": 0.0, "uzawa": False, "arm": "plain"})
    table = tracks_table(prepare_runs(pd.DataFrame(rows)), paths)
    # one row of panels per network: the first trained seed, then its untrained baseline
    assert list(dict.fromkeys(table["run_id"])) == [f"{0:016x}", f"{1:016x}"]
    assert list(dict.fromkeys(table["variant"])) == ["transformer", "transformer (untrained)"]
    assert set(table["n_points"]) == {80}  # 10 sequences x 8 tokens
    fig = figure_tracks(table)
    assert len(fig.axes) >= 2
