"""Figures are drawn with the Agg backend (no display) and closed after every test."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import layerflow as lf

from ._data import curvy_trajectory


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def curvy() -> lf.Trajectory:
    return curvy_trajectory()
