"""README is part of the contract: its Python example runs, and CI uses its own two commands."""

from __future__ import annotations

import importlib.util
import os
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


def _blocks(after: str) -> list[str]:
    """Every ```python block of the section that starts with ``after``."""
    section = README.split(after, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return [m.strip() for m in re.findall(r"```python\n(.*?)```", section, re.S)]


def _run(code: str, cwd: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, cwd=cwd, timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_the_hugging_face_block_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    (code,) = _blocks("### A Hugging Face language model, token by token")
    out = _run(code, tmp_path)
    assert "'embeddings', 'transformer.h.0'" in out and "'final_norm')" in out
    assert "1..5 (embeddings..transformer.h.3)" in out
    assert "state 6 'final_norm' (final_norm" in out and "state 0 'input_ids'" in out
    assert out.strip().endswith("final_norm")


@pytest.mark.slow  # 600 training steps: about two minutes on two shared cores
def test_the_transformer_block_runs_as_written(tmp_path: Path) -> None:
    (code,) = _blocks("### A transformer, token by token")
    lss, rho = (float(v) for v in _run(code, tmp_path).split())
    assert lss >= 1.0 and -1.0 <= rho <= 1.0


def test_the_reproducible_block_runs_as_written(tmp_path: Path) -> None:
    (code,) = _blocks("### Reproducible runs")
    out = _run(code, tmp_path)
    assert "'threads': 1" in out and "'deterministic': True" in out


def _torchvision_importable() -> bool:
    if importlib.util.find_spec("torchvision") is None:
        return False
    probe = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _torchvision_importable(),
                    reason="torchvision is not installed (the vision extra)")
def test_torchvision_conv_example_runs_as_written(tmp_path: Path) -> None:
    """README's conv block: torchvision's resnet18, the penalty in a loop, stages, Jacobians."""
    code = _block("python",
                  "### A conv net as torchvision builds it: least action in your loop, every view per image")
    out = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                         text=True, cwd=tmp_path, timeout=600,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "gw_ots (('input -> layer1'" in out.stdout
    assert "widths 64 -> 128 differ" in out.stdout or "widths 3 -> 64 differ" in out.stdout
    assert "log|det J|" in out.stdout and "invertible" in out.stdout
