from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layerflow.report import ReportInput, render_report

from .html_pages import parse
from .store import (
    Rendered,
    make_layers,
    make_least_action,
    make_runs,
    make_trajectories,
)


def _store(folder: Path, rng: np.random.Generator) -> ReportInput:
    runs = pd.concat([make_runs(rng), make_least_action(rng)], ignore_index=True)
    return ReportInput(
        runs=runs, layers=make_layers(runs, rng),
        trajectories=make_trajectories(runs, folder / "trajectories", rng),
        config_text="name: hand-built\nseeds: [0, 1, 2]\n",
        versions={"layerflow": "0.1.0", "numpy": np.__version__}, source="hand-built",
    )


@pytest.fixture
def store(tmp_path: Path, rng: np.random.Generator) -> ReportInput:
    return _store(tmp_path, rng)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The hand-built store rendered once per module (rendering PNGs is the slow part)."""
    root = tmp_path_factory.mktemp("rendered")
    store = _store(root, np.random.default_rng(2024))
    rep = render_report(store, root / "out")
    return Rendered(store, rep, parse(rep.path.read_text(encoding="utf-8")), root / "out")
