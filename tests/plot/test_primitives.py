"""The two drawing primitives: the artists carry exactly the numbers given (line, band, bars,
whiskers), and bad input is refused with the bad value named."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure

from layerflow._errors import ConfigError
from layerflow.plot import interval_bars, layer_curve


def _axes() -> object:
    return Figure().subplots()


def _band_points(ax: object) -> set[tuple[float, float]]:
    (band,) = [c for c in ax.collections if c.get_gid() == "interval"]  # type: ignore[attr-defined]
    return {(float(x), float(y)) for p in band.get_paths() for x, y in p.vertices}


def test_layer_curve_line_is_the_values_and_band_the_interval() -> None:
    rng = np.random.default_rng(0)
    y = rng.uniform(1, 2, size=6)
    lo, hi = y - rng.uniform(0.1, 0.3, 6), y + rng.uniform(0.1, 0.3, 6)
    x = np.array([1.0, 2, 3, 4, 5, 6])
    ax = layer_curve(y, lo, hi, x=x, label="residual", color="C3", ax=_axes())
    line = ax.lines[-1]
    np.testing.assert_array_equal(line.get_xdata(), x)
    np.testing.assert_array_equal(line.get_ydata(), y)
    assert line.get_label() == "residual" and line.get_marker() == "o"
    pts = _band_points(ax)
    for xi, l_i, h_i in zip(x, lo, hi, strict=True):
        assert (xi, l_i) in pts and (xi, h_i) in pts
    (band,) = ax.collections
    np.testing.assert_allclose(band.get_facecolor()[0][:3], to_rgba("C3")[:3])
    assert ax.get_legend_handles_labels()[1] == ["residual"]  # the band has no legend entry


def test_layer_curve_leaves_the_band_open_where_the_interval_is_nan() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    lo = np.array([0.5, 1.5, np.nan, 3.5, 4.5])
    ax = layer_curve(y, lo, y + 0.5, ax=_axes())
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(5))  # default x
    pts = _band_points(ax)
    assert not any(px == 2.0 for px, _ in pts)  # no band at layer 2
    assert {(0.0, 0.5), (1.0, 2.5), (3.0, 3.5), (4.0, 5.5)} <= pts


def test_layer_curve_without_an_interval_draws_no_band() -> None:
    ax = layer_curve([3.0, 1.0, 2.0], ax=_axes())
    assert len(ax.collections) == 0 and len(ax.lines) == 1


def test_interval_bars_heights_centres_and_whiskers() -> None:
    y = np.array([1.5, 2.5, 0.7, 1.1])
    lo = np.array([1.2, 2.0, np.nan, 1.3])  # bar 3's estimate lies below its interval
    hi = np.array([1.9, 2.9, np.nan, 1.6])
    colours = ["C0", "C1", "C2", "C3"]
    ax = interval_bars(y, lo, hi, x=[0.2, 1.2, 2.2, 3.2], width=0.4, color=colours, ax=_axes())
    bars, whiskers = ax.containers
    assert isinstance(bars, BarContainer) and isinstance(whiskers, ErrorbarContainer)
    np.testing.assert_array_equal([p.get_height() for p in bars], y)
    np.testing.assert_allclose([p.get_x() + p.get_width() / 2 for p in bars],
                               [0.2, 1.2, 2.2, 3.2])
    for p, c in zip(bars, colours, strict=True):
        np.testing.assert_allclose(p.get_facecolor(), to_rgba(c))
    (lines,) = whiskers.lines[2]
    assert lines.get_gid() == "interval"
    segs = [np.asarray(s) for s in lines.get_segments()]
    assert len(segs) == 3  # bar 2 has no interval: no whisker
    for s, (xi, l_i, h_i) in zip(segs, [(0.2, 1.2, 1.9), (1.2, 2.0, 2.9), (3.2, 1.3, 1.6)],
                                 strict=True):
        np.testing.assert_allclose(s, [[xi, l_i], [xi, h_i]])


def test_interval_bars_group_by_offset_and_without_interval() -> None:
    ax = _axes()
    interval_bars([0.9, 0.8], x=[-0.2, 0.8], width=0.4, color="C2", label="a", ax=ax)
    interval_bars([0.5, 0.6], x=[0.2, 1.2], width=0.4, color="C0", label="b", ax=ax)
    assert len(ax.containers) == 2
    np.testing.assert_array_equal([p.get_height() for p in ax.containers[1]], [0.5, 0.6])
    assert ax.get_legend_handles_labels()[1] == ["a", "b"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda ax: layer_curve([1.0, 2.0], low=[0.0, 1.0], ax=ax),
         "layer_curve got low alone; an interval needs both low and high"),
        (lambda ax: layer_curve([1.0, 2.0], high=[0.0, 1.0], ax=ax), "got high alone"),
        (lambda ax: layer_curve([1.0, 2.0], [0.0], [2.0], ax=ax),
         r"low has shape \(1,\); expected shape \(2,\)"),
        (lambda ax: layer_curve([1.0, 2.0], [0.0, 3.0], [2.0, 2.5], ax=ax),
         r"low > high at position 1 \(3 > 2.5\)"),
        (lambda ax: layer_curve(np.zeros((2, 2)), ax=ax),
         r"values has shape \(2, 2\); expected a non-empty 1-D array"),
        (lambda ax: layer_curve([1.0, 2.0], x=[0.0, 1.0, 2.0], ax=ax),
         r"x has shape \(3,\); expected shape \(2,\)"),
        (lambda ax: interval_bars([], ax=ax), r"values has shape \(0,\)"),
        (lambda ax: interval_bars([1.0, 2.0], color=["C0", "C1", "C2"], ax=ax),
         "color has 3 entries for 2 bars"),
        (lambda ax: interval_bars([1.0, 2.0], [1.0, 1.0], None, ax=ax), "got low alone"),
    ],
)
def test_primitives_refuse_bad_input(call: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        call(_axes())  # type: ignore[operator]


def test_one_rgb_tuple_is_one_colour_for_every_bar() -> None:
    ax = interval_bars([1.0, 2.0, 3.0], color=(0.1, 0.2, 0.3), ax=_axes())
    for p in ax.containers[0]:
        np.testing.assert_allclose(p.get_facecolor(), (0.1, 0.2, 0.3, 1.0))
