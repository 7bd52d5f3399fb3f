"""`layerflow.analyze`: the view registry, its errors, and the CLI generated from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import layerflow as lf
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


def test_coefficients_at_every_protocol_and_k_are_shown() -> None:
    """The coefficient at each swept k and protocol is in its own section, equal to the
    library's; one with none names why."""
    rng = np.random.default_rng(0)
    states = [rng.normal(size=(40, 3))]
    for _ in range(4):
        states.append(np.tanh(states[-1] @ rng.normal(size=(3, 3))))
    traj = lf.Trajectory(states)
    out = analyze(traj, sections=["ricci"], k=5, ks=[5, 8, 60], protocols=["layerflow",
                                                                              "baptista"])
    got = out["ricci coefficients"]
    assert list(got) == ["layerflow k=5", "layerflow k=8", "layerflow k=60", "baptista k=5",
                         "baptista k=8", "baptista k=60"]
    assert got["layerflow k=60"] == got["baptista k=60"] == "k >= N"
    rc = lf.ricci.ricci_coefficient(traj, k=8, protocol="baptista")
    assert got["baptista k=8"] == (rc.coefficient if rc.connected else "disconnected")
    assert "ricci coefficients" not in analyze(traj, sections=["ricci"], k=5)
