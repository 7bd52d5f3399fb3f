"""Package-level contracts: a light import, the public names, the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import layerflow as lf
from layerflow.cli import cli


def test_import_does_not_pull_heavy_optional_modules() -> None:
    code = (
        "import sys, layerflow\n"
        "bad = [m for m in ('dask', 'distributed', 'ray', 'matplotlib', 'torch') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_public_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = lf.no_such_thing  # type: ignore[attr-defined]


def test_public_names_resolve() -> None:
    for name in ("Trajectory", "capture", "load_dataset", "train", "TrainConfig", "Dataset"):
        assert callable(getattr(lf, name)), name
    for sub in ("transport", "ricci", "maps", "data", "models"):
        assert getattr(lf, sub).__name__ == f"layerflow.{sub}"


def _commands() -> list[str]:
    return sorted(cli.commands)


@pytest.mark.parametrize("command", [None, *_commands()])
def test_every_command_has_help(command: str | None) -> None:
    args = ["--help"] if command is None else [command, "--help"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_cli_lists_the_four_commands_of_the_spec() -> None:
    assert {"run", "analyze", "report", "datasets"} <= set(cli.commands)


def test_python_dash_m_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "layerflow", "--version"], capture_output=True, text=True, check=True
    )
    assert lf.__version__ in out.stdout


_ROOT = Path(__file__).resolve().parents[1]
_TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".txt", ".toml", ".html", ".css", ".js", ".cfg"}


def _shipped_text_files() -> list[Path]:
    """The text files of src/, docs/, examples/, benchmarks/ and README.md."""
    files = [_ROOT / "README.md"]
    for folder in ("src", "docs", "examples", "benchmarks"):
        files += [p for p in sorted((_ROOT / folder).rglob("*"))
                  if p.is_file() and p.suffix in _TEXT_SUFFIXES and "__pycache__" not in p.parts]
    return files


def test_no_reference_to_an_unshipped_spec() -> None:
    # the repository ships no SPEC.md: code, docs and --help say what a definition is
    files = _shipped_text_files()
    assert len(files) > 50  # the walk found the tree
    hits = [f"{p.relative_to(_ROOT)}:{i}: {line.strip()}"
            for p in files for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if "SPEC §" in line or "SPEC.md" in line or re.search(r"\(SPEC\b", line)]
    assert hits == [], "\n".join(hits)


def test_no_project_history_in_the_code() -> None:
    # docstrings and comments say what the code does now, not which issue or version led there
    pattern = re.compile(r"\bissue \d+|\bearlier version\b", re.IGNORECASE)
    files = [p for p in _shipped_text_files() if p.is_relative_to(_ROOT / "src")]
    hits = [f"{p.relative_to(_ROOT)}:{i}: {line.strip()}"
            for p in files for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line)]
    assert hits == [], "\n".join(hits)
