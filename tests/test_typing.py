"""The public face as a type checker sees it: ``lf.stats``, ``lf.views``, ``lf.training`` and
the lazily imported packages carry their real types (mypy on the snippets in tests/typing/)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy", reason="mypy is not installed")

_ROOT = Path(__file__).resolve().parents[1]
_SNIPPETS = _ROOT / "tests" / "typing"


def _mypy(*files: Path) -> subprocess.CompletedProcess[str]:
    """mypy under the project's configuration, ``layerflow`` read from src/ (its cache is the
    one ``mypy`` keeps in the checkout, so a run after ``mypy`` is quick)."""
    env = {**os.environ, "MYPYPATH": str(_ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                           str(_ROOT / "pyproject.toml"), "--no-error-summary",
                           *map(str, files)], capture_output=True, text=True, cwd=_ROOT,
                          env=env, timeout=900)


def test_the_public_face_has_real_types() -> None:
    good = _SNIPPETS / "public_face.py"
    bad = _SNIPPETS / "public_face_errors.py"
    out = _mypy(good, bad)
    reported = sorted({int(m.group(1)) for m in re.finditer(
        r"^tests/typing/public_face_errors\.py:(\d+): error:", out.stdout, re.M)})
    marked = [i for i, line in enumerate(bad.read_text().splitlines(), 1)
              if "# error:" in line]
    assert len(marked) == 5
    assert reported == marked, out.stdout + out.stderr
    other = [ln for ln in out.stdout.splitlines()
             if ": error:" in ln and not ln.startswith("tests/typing/public_face_errors.py")]
    assert other == [], out.stdout
