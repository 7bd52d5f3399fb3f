"""`layerflow run`: print the resolved config, run a tiny sweep, light imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from layerflow.cli import cli
from layerflow.sweep import ResultStore, load_config

TINY = """
name: tiny
seeds: 2
datasets: [{name: moons, n: 120}]
models: [{kind: mlp, width: 4, depth: 2}]
training: {lr: 0.01, epochs: 1, batch_size: 16}
analysis: {metrics: [ricci], k: 5, test_points: 20}
backend: serial
"""


def test_print_config_round_trips(tmp_path: Path) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    res = CliRunner().invoke(cli, ["run", str(p), "--print-config"])
    assert res.exit_code == 0, res.output
    assert load_config(yaml.safe_load(res.output)).to_dict() == load_config(p).to_dict()
    res = CliRunner().invoke(cli, ["run", "paper-ricci", "--print-config"])
    assert res.exit_code == 0 and "name: paper-ricci" in res.output


def test_run_tiny_sweep_then_skip(tmp_path: Path) -> None:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(p), "--out", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    assert "2 networks (0 already done; 2 ok)" in res.output
    assert sorted(ResultStore(out).runs()["seed"]) == [0, 1]
    res = CliRunner().invoke(cli, ["run", str(p), "--out", str(out), "--no-report"])
    assert "2 networks (2 already done; nothing new)" in res.output


def test_bad_config_is_a_clean_cli_error(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(TINY.replace("lr: 0.01", "lr: fast"))
    res = CliRunner().invoke(cli, ["run", str(p)])
    assert res.exit_code != 0 and "training.lr: lr='fast': expected a finite number" in res.output


def test_importing_sweep_loads_neither_dask_nor_ray() -> None:
    code = ("import sys, layerflow, layerflow.sweep; "
            "print([m for m in ('dask', 'distributed', 'ray') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_run_time_errors_are_clean_cli_errors(tmp_path: Path) -> None:
    """Errors that only run_sweep finds (a backend that is not installed, a dataset that does
    not load) end the command with their message, not a traceback, before anything is trained."""
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["run", str(p), "--out", str(out), "--backend", "ray"])
    assert res.exit_code == 1 and res.exception is not None
    assert "Error: the ray backend needs Ray, which is not installed" in res.output
    assert "Traceback" not in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("{name: moons, n: 120}", "{name: 'digits:6,6'}"))
    res = CliRunner().invoke(cli, ["run", str(bad), "--out", str(out), "--no-report"])
    assert res.exit_code == 1
    assert "Error: datasets[0]: 'digits:6,6' cannot be loaded" in res.output
    assert not (out / "store").exists()


def test_run_help_lists_every_builtin_study_with_its_line() -> None:
    from layerflow._studies import builtin_configs, study_description

    res = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["run", "--help"])
    assert res.exit_code == 0, res.output
    studies = res.output.split("Built-in studies (layerflow run NAME):", 1)[1]
    names = [ln.split()[0] for ln in studies.splitlines() if ln[:2] == "  " and ln[2:3] != " "]
    assert names == sorted(p.stem for p in (Path(__file__).parents[2] / "src" / "layerflow"
                                            / "configs").glob("*.yaml"))
    for name, path in builtin_configs().items():
        # the line is the opening comment's first clause, read here by hand
        assert f"{name}  " in studies and study_description(path) in " ".join(studies.split())
    assert study_description(builtin_configs()["least-action"]) == \
        "the low-data study of Karkar et al. 2020"


def test_a_misspelt_study_is_answered_with_the_name_meant() -> None:
    res = CliRunner().invoke(cli, ["run", "paper-rici", "--print-config"])
    assert res.exit_code != 0
    assert "did you mean 'paper-ricci'?" in res.output


def test_study_summary_of_a_config_without_comment(tmp_path: Path) -> None:
    from layerflow._studies import study_description

    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\n")
    assert study_description(p) == "(no description)"
    p.write_text("# mine: a study of things. More text.\nname: mine\n")
    assert study_description(p) == "a study of things"


def test_saved_trajectories_are_named_by_run_and_found_by_the_report(tmp_path: Path) -> None:
    from layerflow.report import load_input
    from layerflow.sweep import run_sweep

    cfg = yaml.safe_load(TINY)
    run_sweep(cfg, tmp_path, backend="serial")
    runs = ResultStore(tmp_path).runs()
    saved = sorted((tmp_path / "trajectories").glob("*.npz"))
    assert saved  # the first seed of each group
    for path in saved:
        rid = path.stem.rsplit("-", 1)[1]
        row = runs[runs["run_id"] == rid].iloc[0]
        arm = row["arm"] if row["trained"] else "untrained"
        assert path.name == f"moons-mlp-w4d2-{arm}-f1-seed{row['seed']}-{rid}.npz"
    assert load_input(tmp_path).trajectories == {p.stem.rsplit("-", 1)[1]: p for p in saved}
