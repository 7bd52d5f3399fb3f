"""`layerflow.analyze`: the view registry, its errors, and the CLI generated from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from layerflow import Trajectory
from layerflow.analyze import analyze
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


def test_the_k_flag_shows_the_views_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--k``'s help reads its default from ricci.view.DEFAULT_K (not a typed-in 30)."""
    import layerflow.ricci.view as ricci_view
    from layerflow.cli import _live_view_options

    monkeypatch.setattr(ricci_view, "DEFAULT_K", 17)
    (k,) = [o for o in _live_view_options() if o["name"] == "k"]
    assert k["default"] == 17


def test_help_lists_the_view_options_from_a_cache_keyed_on_the_modules(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``analyze --help`` lists every declared option; the declarations are kept in the cache
    folder, read back as written, and read again from the views when the file is unreadable."""
    import json
    import subprocess
    import sys

    from layerflow.cli import _live_view_options, _view_options

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    live = _live_view_options()
    assert _view_options() == json.loads(json.dumps(live))
    (cached,) = (tmp_path / "layerflow").glob("cli-view-options-*.json")
    assert json.loads(cached.read_text()) == json.loads(json.dumps(live))
    cached.write_text("{not json")
    assert _view_options() == json.loads(json.dumps(live))
    # with the cache warm, --help imports none of the views' heavy dependencies
    code = ("import sys; from click.testing import CliRunner; from layerflow.cli import cli; "
            "r = CliRunner().invoke(cli, ['analyze', '--help']); print(r.output); "
            "print(sorted(m for m in ('numpy', 'torch', 'scipy', 'numba') if m in sys.modules))")
    env = {**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.rstrip().endswith("[]")
    for opt in live:
        assert f"--{opt['name'].replace('_', '-')}" in out
