"""Every code block of README runs as written: each is executed (or, for the install and CI
commands, is the exact command CI runs) by a test that names its section."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TESTS = [ROOT / "tests" / "test_readme.py", ROOT / "tests" / "data" / "test_fetch.py", Path(__file__)]


def _sections() -> list[tuple[str, str, str]]:
    """(heading, language, code) of every fenced block, under the nearest heading above it."""
    out = []
    heading = ""
    for part in re.split(r"(```[a-z]*\n.*?```)", README, flags=re.S):
        m = re.match(r"```([a-z]*)\n(.*?)```", part, re.S)
        if m:
            out.append((heading, m.group(1), m.group(2).strip()))
        else:
            heads = re.findall(r"^(#{2,3} .+)$", part, re.M)
            heading = heads[-1] if heads else heading
    return out


def _block(heading: str) -> str:
    (code,) = [c for h, _, c in _sections() if h == heading]
    return code


#: blocks whose tests come with the work that fixes them (the conv block, the transformer block);
#: delete an entry once a test in TESTS names its section
def test_every_block_is_run_by_a_test_that_names_its_section() -> None:
    text = "\n".join(p.read_text() for p in TESTS)
    blocks = _sections()
    assert len(blocks) >= 8
    for heading, lang, _ in blocks:
        assert lang in ("bash", "python"), (heading, lang)
        assert f'"{heading}"' in text, f"no test runs the {lang} block under {heading!r}"


def test_the_documentation_block_is_the_strict_offline_build_the_tests_run() -> None:
    code = _block("## Documentation")
    assert code.split("#")[0].strip() == 'pip install -e ".[docs]" && mkdocs build --strict'
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert "mkdocs" in " ".join(extras["docs"])
    site_test = (ROOT / "tests" / "docs" / "test_site.py").read_text()
    assert "'mkdocs', 'build', '--strict'" in site_test


def test_the_development_block_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    for line in _block("## Development").splitlines():
        command = line.split("#")[0].strip()
        for part in command.split("&&"):
            part = part.strip()
            if part.endswith("--runslow"):
                assert part.removesuffix(" --runslow") in ci  # CI runs the default tests
            else:
                assert part in ci, part


@pytest.mark.slow  # the whole default study: about a minute on two idle cores
def test_the_main_job_runs_as_written(tmp_path: Path) -> None:
    code = _block("## The main job")
    assert code == "layerflow run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    cli = [sys.executable, "-c", "from layerflow.cli import main; main()"]
    res = subprocess.run(cli + code.split()[2:], capture_output=True, text=True, cwd=tmp_path,
                         env=env, timeout=3000)
    assert res.returncode == 0, res.stderr[-3000:]
    report = Path("results") / "default" / "report.html"
    assert (tmp_path / report).is_file()
    assert res.stdout.splitlines()[-1].startswith(f"report: {report} (")
    assert res.stdout.startswith("136 networks (0 already done; 136 ok)")


def test_study_numbers_reads_the_time_and_means_from_the_store(tmp_path: Path) -> None:
    import importlib.util

    import pandas as pd

    from layerflow.sweep import ResultStore, run_sweep

    spec = importlib.util.spec_from_file_location("study_numbers",
                                                  ROOT / "benchmarks" / "study_numbers.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cfg = {"name": "t", "seeds": 2, "datasets": ["moons"],
           "models": [{"kind": "mlp", "width": 4, "depth": 2}],
           "analysis": {"metrics": ["ricci"], "k": 5, "test_points": 20}}
    run_sweep(cfg, tmp_path, task="toy", backend="serial")
    line, table = mod.study_numbers(tmp_path)
    runs = ResultStore(tmp_path).runs()
    span = runs["finished_at"].max() - (runs["finished_at"] - runs["seconds"]).min()
    assert line == (f"{tmp_path}: {len(runs)} of {len(runs)} networks finished; sweep time "
                    f"{mod.format_number(float(span))} s (training + analysis)")
    ok = runs[runs["status"] == "ok"]
    assert table.loc[("moons", "plain"), "ricci_rho"] == mod.format_number(
        float(pd.to_numeric(ok[ok["trained"]]["ricci_rho"]).mean()))
