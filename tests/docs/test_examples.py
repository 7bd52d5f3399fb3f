"""The conv and transformer examples run offline, warnings as errors, and print what they say."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# every socket refuses to connect: an example that fetches anything fails
_OFFLINE = (
    "import runpy, socket, sys\n"
    "def _offline(*a, **k):\n"
    "    raise OSError('network access in an example')\n"
    "socket.socket.connect = _offline\n"
    "socket.create_connection = _offline\n"
    "socket.getaddrinfo = _offline\n"
    "runpy.run_path(sys.argv[1], run_name='__main__')\n"
)


def _run(name: str, tmp_path: Path) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-W", "error", "-c", _OFFLINE,
                          str(ROOT / "examples" / f"{name}.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    assert m is not None, (pattern, text)
    return float(m.group(1))


@pytest.mark.parametrize("name", ["conv_resnet_digits", "transformer_tokens"])
def test_example_is_a_gallery_script(name: str) -> None:
    text = (ROOT / "examples" / f"{name}.py").read_text(encoding="utf-8")
    assert text.startswith("# %% [markdown]\n# # ")


def test_conv_resnet_example_trains_with_the_penalty_and_reads_every_view(tmp_path: Path) -> None:
    out = _run("conv_resnet_digits", tmp_path)
    assert _number(r"test accuracy ([\d.]+)", out) > 0.9
    assert 1.0 <= _number(r"(?m)^LSS ([\d.]+)", out)
    assert "pooled: LSS" in out and "ρ flattened" in out


def test_transformer_example_reads_token_tracks(tmp_path: Path) -> None:
    out = _run("transformer_tokens", tmp_path)
    assert _number(r"test accuracy ([\d.]+)", out) > 0.9
    assert _number(r"LSS ([\d.]+)", out) >= 1.0
    assert 0.0 <= _number(r"OTS ([\d.]+)", out) <= 1.0
    assert _number(r"kinetic energy ([\d.]+)", out) > 0.0
