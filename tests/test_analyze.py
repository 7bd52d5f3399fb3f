"""`layerflow._analyze`: the view registry, its errors, and the CLI generated from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import layerflow as lf
from layerflow import Trajectory
from layerflow._analyze import analyze
from layerflow.views import VIEWS


def test_unknown_section_is_named() -> None:
    traj = Trajectory([np.eye(4), 2 * np.eye(4)])
    with pytest.raises(ValueError, match=r"unknown analysis sections \['curvy'\]; available: "
                                         r"\['jacobian', 'ricci', 'transport'\]"):
        analyze(traj, sections=["transport", "curvy"])
    assert sorted(VIEWS) == ["jacobian", "ricci", "transport"]


def test_cli_analyze_refuses_a_file_that_is_not_a_trajectory(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from layerflow.cli import cli

    p = tmp_path / "notes.npz"
    p.write_text("not a zip archive")
    res = CliRunner().invoke(cli, ["analyze", str(p)])
    assert res.exit_code == 1
    assert res.output.startswith("Error: ") and str(p) in res.output
    assert "Traceback" not in res.output


def test_the_k_flag_shows_the_views_default() -> None:
    """``--k``'s help reads its default from the Ricci view's ``DEFAULT_K`` (the k a resolve
    with no options gives), not a typed-in 30."""
    from layerflow.cli import _view_options
    from layerflow.ricci._options import DEFAULT_K
    from layerflow.views import get_view

    (k,) = [o for o in _view_options() if o["name"] == "k"]
    assert k["default"] == DEFAULT_K == get_view("ricci").resolve({})["k"]


def _corpus(n: int = 40_000, d: int = 4) -> Trajectory:
    """A per-token trajectory of n tokens: token ids, then tracks of two constant steps a, b
    (closed forms: LSS = 2 / |â + b̂|, kinetic energy |a|² + |b|², OTS 1 for a translation)."""
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(n, d))
    a = np.array([1.0, 0.0, 0.0, 0.0])
    b = np.array([0.0, 2.0, 0.0, 0.0])
    states = [rng.integers(0, 9, size=(n, 1)).astype(float), x0, x0 + a, x0 + a + b]
    return Trajectory(states, layer_names=["input_ids", "embeddings", "h.0", "h.1"],
                      kinds=["input_ids", "embedding", "block", "block"],
                      sample_index=np.arange(n) // 8, position=np.arange(n) % 8)


def test_analyze_a_40000_token_corpus_reports_lss_ots_and_energy_whatever_w2_does() -> None:
    traj = _corpus()
    lss = 2 / np.linalg.norm(np.array([1.0, 1.0]))  # unit steps (1,0) and (0,1)
    # W2 asked on all 40,000 tokens: its exact assignments (3 matrices of 40,000² float64,
    # 38 GB) do not fit a 1 GiB budget, so it fails alone
    res = analyze(traj, sections=["transport"], w2_m=40_000, w2_max_bytes=1 << 30)["transport"]
    assert res["lss_mean"] == pytest.approx(lss)
    assert res["kinetic_energy"] == pytest.approx(1.0 + 4.0)
    assert res["ots"] == 1.0 and res["ot_m"] == 1000
    assert np.isnan(res["w2_geodesic_ratio"]) and res["w2_m"] == 0
    assert "no W2 path: " in res["transport_note"] and "N=40000" in res["transport_note"]
    # by default the W2 path runs on a declared seeded subsample
    auto = analyze(traj, sections=["transport"], seed=5, w2_max_bytes=1 << 30)["transport"]
    assert auto["w2_m"] == 2000
    assert "W2 path on a subsample of 2000 of the 40000 samples (seed 5)" in auto["transport_note"]
    # W2 between a measure and its translate is the shift: (|a| + |b|) / |a + b|
    assert auto["w2_geodesic_ratio"] == pytest.approx(3 / np.sqrt(5))
    assert auto["lss_mean"] == pytest.approx(lss)


def test_cli_json_has_per_layer_values_the_subsample_and_the_environment(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from layerflow.cli import cli

    p = _corpus(n=3000).save(tmp_path / "t.npz", compress=False)
    res = CliRunner().invoke(cli, ["analyze", str(p), "--json", "--subsample", "500",
                                   "--subsample-seed", "7", "--k", "5", "--max-points", "400"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["subsample"] == {"m": 500, "of": 3000, "seed": 7}
    steps = [r for r in out["transport"]["layers"] if r["metric"] == "w2_step"]
    assert [r["layer_name"] for r in steps] == ["h.0", "h.1"]
    assert steps[0]["value"] == pytest.approx(1.0) and steps[1]["value"] == pytest.approx(2.0)
    assert {r["metric"] for r in out["ricci"]["layers"]} >= {"scalar_curvature", "eta"}
    assert out["ricci"]["ricci_n"] == 400
    assert "subsample of 400 of the 500 points" in out["ricci"]["ricci_note"]
    assert out["environment"]["threads"] >= 1 and "torch" in out["environment"]


def test_cli_load_cap_is_a_flag(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from layerflow.cli import cli

    p = _corpus(n=2000).save(tmp_path / "c.npz")  # compressed: read into memory, capped
    res = CliRunner().invoke(cli, ["analyze", str(p), "--max-load-gb", "0.0001"])
    assert res.exit_code == 1 and "Error: " in res.output and "max_bytes" in res.output
    res = CliRunner().invoke(cli, ["analyze", str(p), "--max-load-gb", "1", "--json",
                                   "--k", "5", "--max-points", "300"])
    assert res.exit_code == 0, res.output


def test_a_view_that_fails_reports_its_reason_and_the_others_still_report() -> None:
    traj = Trajectory([np.eye(6), 2 * np.eye(6)[:, :3]])  # no equal-width run; 6 points
    out = analyze(traj, sections=["transport", "ricci"], k=2)
    # transition by transition: the run metrics NaN, the note naming what each metric read
    assert "no two consecutive states have equal width" in out["transport"]["transport_note"]
    assert "ricci_rho" in out["ricci"]
    out = analyze(Trajectory([np.eye(6)]), sections=["transport"])  # one state: no transition
    assert "no two consecutive states have equal width" in out["transport"]["error"]
    with pytest.raises(ValueError, match=r"subsample: 0: expected an int >= 1"):
        analyze(traj, subsample=0)


def test_coefficients_at_every_protocol_and_k_are_shown() -> None:
    """The coefficient at each swept k and protocol is in its own section, equal to the
    library's; one with none names why."""
    rng = np.random.default_rng(0)
    states = [rng.normal(size=(40, 3))]
    for _ in range(4):
        states.append(np.tanh(states[-1] @ rng.normal(size=(3, 3))))
    traj = lf.Trajectory(states)
    out = analyze(traj, sections=["ricci"], k=5, ks=[5, 8, 60], protocols=["layerflow",
                                                                              "baptista"])
    got = out["ricci coefficients"]
    assert list(got) == ["layerflow k=5", "layerflow k=8", "layerflow k=60", "baptista k=5",
                         "baptista k=8", "baptista k=60"]
    assert got["layerflow k=60"] == got["baptista k=60"] == "k >= N"
    rc = lf.ricci.ricci_coefficient(traj, k=8, protocol="baptista")
    assert got["baptista k=8"] == (rc.coefficient if rc.connected else "disconnected")
    assert "ricci coefficients" not in analyze(traj, sections=["ricci"], k=5)


def test_help_lists_every_option_of_the_views_as_they_declare_it(tmp_path: Path) -> None:
    """``analyze --help`` lists every option of the views that need no model, with the values
    the view itself allows, read in a fresh process that loads no view and writes no cache."""
    import os
    import subprocess
    import sys

    from layerflow.views import get_view

    code = ("import sys; from click.testing import CliRunner; from layerflow.cli import cli; "
            "r = CliRunner().invoke(cli, ['analyze', '--help'], terminal_width=400); "
            "print(r.output); print(sorted(m for m in sys.modules if m.endswith('.view')))")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.rstrip().endswith("[]")  # no view module was imported
    assert list(tmp_path.iterdir()) == []
    for name in VIEWS:
        view = get_view(name)
        for opt in view.options:
            flag = f"--{opt.name.replace('_', '-')}"
            assert (flag in out) != view.needs_model, flag
            allowed = opt.allowed()
            if not view.needs_model and allowed is not None:
                shown = "|".join(map(str, allowed)) if opt.kind != "strs" else \
                    ", ".join(map(str, allowed))
                assert shown in out, flag


def test_cli_table_prints_three_significant_figures(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from layerflow.cli import cli

    # the corpus's closed form (see _corpus): LSS = 2 / |â + b̂| = sqrt(2) = 1.41421…
    p = _corpus(n=400).save(tmp_path / "t.npz", compress=False)
    res = CliRunner().invoke(cli, ["analyze", str(p), "--k", "5", "--max-points", "200"],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in res.output.splitlines() if line.count("│") >= 3}
    assert rows["lss_mean"] == "1.41"  # three significant figures, not six
