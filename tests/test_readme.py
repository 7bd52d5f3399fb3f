"""README is part of the contract: its Python example runs, and CI uses its own two commands."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _block(lang: str, after: str) -> str:
    section = README.split(after, 1)[1]
    match = re.search(rf"```{lang}\n(.*?)```", section, re.S)
    assert match, f"no ```{lang} block after {after!r}"
    return match.group(1).strip()


def test_ci_runs_the_readme_setup_and_test_commands() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    setup = _block("bash", "## Set-up")
    tests = _block("bash", "## Tests")
    assert "pip install torch==2.13.0" in setup
    assert setup in ci, "the CI script must install exactly as README says"
    assert tests in ci, "the CI script must run README's test command"


def test_python_example_runs_and_prints_what_it_promises(tmp_path: Path) -> None:
    code = _block("python", "## In Python")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=600, check=True).stdout
    acc = float(re.search(r"test accuracy ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    assert acc >= 0.95
    lss = float(re.search(r"LSS ([0-9.e+-]+)", out).group(1))  # type: ignore[union-attr]
    assert lss >= 1.0
    assert "W2 geodesic ratio" in out and "Ricci coefficient" in out


def test_store_example_reads_a_store_with_pandas_and_duckdb(tmp_path: Path) -> None:
    """README's store example, run on a store the sweep runner writes (the cheap toy task)."""
    from layerflow.sweep import run_sweep

    code = _block("python", "## The results store")
    cfg = {"name": "t", "seeds": 2, "datasets": ["moons"],
           "models": [{"kind": "mlp", "width": 4, "depth": 2}],
           "analysis": {"metrics": ["ricci"], "k": 5, "test_points": 20}}
    run_sweep(cfg, tmp_path / "results" / "default", task="toy", backend="serial")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300, check=True).stdout
    assert "rows: 2" in out, out


def _torchvision_importable() -> bool:
    if importlib.util.find_spec("torchvision") is None:
        return False
    probe = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _torchvision_importable(),
                    reason="torchvision is not installed (the vision extra)")
def test_torchvision_conv_example_runs_as_written(tmp_path: Path) -> None:
    """README's conv block: torchvision's resnet18, the penalty in a loop, stages, Jacobians."""
    code = _block("python", "### A conv net as torchvision builds it")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, cwd=tmp_path, timeout=600,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "gw_ots (('input -> layer1'" in out.stdout
    assert "widths 64 -> 128 differ" in out.stdout or "widths 3 -> 64 differ" in out.stdout
    assert "log|det J|" in out.stdout and "invertible" in out.stdout
