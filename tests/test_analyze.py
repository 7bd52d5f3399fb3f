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
    from layerflow.cli import _view_params

    monkeypatch.setattr(ricci_view, "DEFAULT_K", 17)
    (k,) = [p for p in _view_params() if p.name == "k"]
    assert k.help is not None and k.help.endswith("default: 17]")
