"""Package-level contracts: a light import, the public names, the command line."""

from __future__ import annotations

import os
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


@pytest.mark.parametrize("command", [None, "analyze", "run", "report", "datasets"])
def test_help_imports_neither_torch_nor_numba(command: str | None, tmp_path: Path) -> None:
    """``--help`` reads the views' option declarations without loading the views: no torch,
    Numba, NumPy or SciPy, and no cache folder standing in for them."""
    args = ["--help"] if command is None else [command, "--help"]
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from layerflow.cli import cli\n"
        f"r = CliRunner().invoke(cli, {args!r})\n"
        "assert r.exit_code == 0 and 'Usage:' in r.output, r.output\n"
        "heavy = ('torch', 'numba', 'numpy', 'scipy', 'pandas')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True)
    assert out.stdout.strip() == ""
    assert list(tmp_path.iterdir()) == []


def test_view_packages_import_their_names_on_first_use() -> None:
    """``import layerflow.ricci`` (and transport, maps) loads none of their modules; a name is
    imported when read, and the package lists every name of ``__all__``."""
    code = (
        "import sys, layerflow.ricci, layerflow.transport, layerflow.maps\n"
        "before = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'torch'))\n"
        "from layerflow.ricci import ricci_coefficient\n"
        "print(before, 'numpy' in sys.modules, ricci_coefficient.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[] True layerflow.ricci._coefficients"
    for name in ("ricci", "transport", "maps"):
        pkg = getattr(lf, name)
        assert set(pkg.__all__) <= set(dir(pkg))
        for public in pkg.__all__:
            getattr(pkg, public)
    assert lf.ricci._graphs.__name__ == "layerflow.ricci._graphs"  # a private submodule, read as before
    with pytest.raises(AttributeError, match=r"'layerflow\.ricci' has no attribute 'no_such'"):
        _ = lf.ricci.no_such  # type: ignore[attr-defined]
    with pytest.raises(AttributeError, match="has no attribute '__wrapped__'"):
        _ = lf.ricci.__wrapped__  # type: ignore[attr-defined]


def test_a_lazy_face_refuses_a_public_name_it_cannot_provide(tmp_path: Path) -> None:
    """A name in ``__all__`` that no ``TYPE_CHECKING`` import provides fails on import."""
    pkg = tmp_path / "lazyface"
    pkg.mkdir()
    (pkg / "part.py").write_text("VALUE = 3\n")
    (pkg / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from layerflow._lazy import lazy_face\n"
        "if TYPE_CHECKING:\n"
        "    from .part import VALUE as renamed\n"
        "__all__ = ['renamed', 'missing']\n"
        "lazy_face(__name__, __file__)\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "try:\n    import lazyface\nexcept ValueError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ("lazyface: missing in __all__ but neither imported under "
                                  "TYPE_CHECKING nor defined")
    (pkg / "__init__.py").write_text(
        (pkg / "__init__.py").read_text().replace(", 'missing'", ""))
    code = "import sys; sys.path.insert(0, sys.argv[1]); import lazyface; print(lazyface.renamed)"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "3"


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


_STRICT_FLAGS = ("disallow_any_generics", "disallow_subclassing_any", "disallow_untyped_calls",
                 "disallow_untyped_defs", "disallow_incomplete_defs", "check_untyped_defs",
                 "disallow_untyped_decorators", "warn_return_any", "strict_equality",
                 "extra_checks")


def _public_modules() -> set[str]:
    """Every package of src/layerflow and every module its ``__init__`` imports from (the
    modules defining what the packages export, the lazily imported ones included)."""
    import ast

    src = _ROOT / "src"

    def exists(module: str) -> bool:
        path = src / module.replace(".", "/")
        return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()

    out: set[str] = set()
    for init in sorted((src / "layerflow").rglob("__init__.py")):
        package = ".".join(init.parent.relative_to(src).parts)
        out.add(package)
        for node in ast.walk(ast.parse(init.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom):
                parts = package.split(".")
                module = (".".join([*parts[: len(parts) - node.level + 1],
                                    *([node.module] if node.module else [])])
                          if node.level else node.module or "")
                names = [module, *(f"{module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value.split(":")[0]]  # lazy tables: "layerflow.x[:attr]"
            out |= {n for n in names
                    if n.startswith("layerflow") and not n.endswith(".") and exists(n)}
    return out


def test_mypy_is_strict_on_the_public_face() -> None:
    """pyproject's strict override names every public module, with every per-module flag of
    ``mypy --strict``."""
    import tomllib

    config = tomllib.loads((_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    (strict,) = [o for o in config["overrides"] if o.get("disallow_untyped_defs")]
    assert {f: strict.get(f) for f in _STRICT_FLAGS} == dict.fromkeys(_STRICT_FLAGS, True)
    assert strict["implicit_reexport"] is False
    public = _public_modules()
    assert {"layerflow", "layerflow.views", "layerflow.stats", "layerflow.ricci._coefficients",
            "layerflow._trajectory"} <= public
    assert sorted(public - set(strict["module"])) == []
