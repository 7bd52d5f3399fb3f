"""LSS histogram and W2 path: the artists carry the result's numbers, and on tracks with a closed
form (a translation) they carry that closed form."""

from __future__ import annotations

import numpy as np
import pytest

import layerflow as lf
from layerflow._errors import ConfigError


def _bar_heights(ax: object) -> np.ndarray:
    return np.array([p.get_height() for p in ax.patches])  # type: ignore[attr-defined]


def test_line_shape_histogram_counts_the_finite_per_sample_values(curvy: lf.Trajectory) -> None:
    res = lf.transport.line_shape_score(curvy)
    ax = lf.plot.line_shape(res, bins=12)
    counts, edges = np.histogram(res.per_sample[np.isfinite(res.per_sample)], bins=12)
    np.testing.assert_array_equal(_bar_heights(ax), counts)
    np.testing.assert_allclose([p.get_x() for p in ax.patches], edges[:-1])
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [res.mean, res.mean])
    np.testing.assert_allclose(ax.lines[1].get_xdata(), [res.median, res.median])
    assert f"mean {res.mean:.3g}" in ax.get_legend().get_texts()[0].get_text()


def test_line_shape_from_a_trajectory_calls_the_metric(curvy: lf.Trajectory) -> None:
    ax = lf.plot.line_shape(curvy, run=(2, 5))
    res = lf.transport.line_shape_score(curvy, run=(2, 5))
    np.testing.assert_allclose(ax.lines[0].get_xdata()[0], res.mean)
    assert "states 2–5" in ax.get_title()


def test_line_shape_of_straight_tracks_is_one_and_nan_tracks_are_counted() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(20, 2))
    v = rng.normal(size=(20, 2))
    states = [X + t * v for t in (0.0, 1.0, 3.0, 3.5)]  # straight tracks, uneven speed
    for s in states[1:]:
        s[0] = X[0]  # sample 0 never moves: its LSS is NaN
    ax = lf.plot.line_shape(lf.Trajectory(states), bins=5)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1.0, 1.0])  # LSS = 1 on a line
    assert _bar_heights(ax).sum() == 19
    assert "(1 NaN not shown)" in ax.get_title()


def test_wasserstein_path_line_is_the_steps(curvy: lf.Trajectory) -> None:
    res = lf.transport.wasserstein_path(curvy)
    ax = lf.plot.wasserstein_path(res)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), res.steps)
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), np.arange(4))
    np.testing.assert_allclose(ax.lines[1].get_ydata(), res.end_to_end / 4)
    assert f"geodesic ratio {res.geodesic_ratio:.3g}" in ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1→2", "2→3", "3→4", "4→5"]


def test_wasserstein_path_of_a_translation_is_a_constant_speed_geodesic() -> None:
    # μ_{l+1} = μ_l shifted by c: W2(μ_l, μ_{l+1}) = |c| exactly, and the path is a geodesic
    rng = np.random.default_rng(4)
    X = rng.normal(size=(25, 3))
    c = np.array([0.3, -0.4, 1.2])
    ax = lf.plot.wasserstein_path(lf.Trajectory([X + i * c for i in range(5)]))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.linalg.norm(c), rtol=1e-9)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), np.linalg.norm(c), rtol=1e-9)
    assert "geodesic ratio 1," in ax.get_title()


def test_wasserstein_path_says_when_the_ratio_is_undefined() -> None:
    X = np.random.default_rng(5).normal(size=(10, 2))
    ax = lf.plot.wasserstein_path(lf.Trajectory([X, X + 1.0, X]))  # back where it started
    assert "geodesic ratio undefined" in ax.get_title()


def test_transport_figures_refuse_bad_input(curvy: lf.Trajectory) -> None:
    res = lf.transport.line_shape_score(curvy)
    with pytest.raises(ConfigError, match=r"got a LineShapeResult and options \['run'\]"):
        lf.plot.line_shape(res, run=(1, 5))
    with pytest.raises(ConfigError, match="needs a Trajectory or a LineShapeResult; got ndarray"):
        lf.plot.line_shape(np.zeros(3))
    with pytest.raises(ConfigError, match="bins=0"):
        lf.plot.line_shape(res, bins=0)
    with pytest.raises(ConfigError, match="needs a Trajectory or a WassersteinPathResult; got "
                                        "LineShapeResult"):
        lf.plot.wasserstein_path(res)
