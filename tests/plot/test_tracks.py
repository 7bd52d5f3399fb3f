"""Tracks and layers: the drawn points are the shared PCA projection, computed here independently
(eigen-decomposition of the covariance of all states stacked)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.plot import shared_pca

from ._data import assert_same_up_to_sign, pca_reference


def test_import_of_plot_does_not_import_matplotlib() -> None:
    code = "import sys, layerflow as lf; lf.plot; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_shared_pca_matches_the_covariance_eigenvectors(curvy: lf.Trajectory) -> None:
    states = list(curvy.states[1:])
    coords, explained = shared_pca(states)
    want, want_ex = pca_reference(states)
    assert coords.shape == (5, 60, 2)
    assert_same_up_to_sign(coords, want)
    np.testing.assert_allclose(explained, want_ex, rtol=1e-9)


def test_shared_pca_is_shared_a_fixed_point_lands_on_the_same_spot() -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(30, 4))
    B = A.copy()
    B[10:] += rng.normal(size=(20, 4))  # rows 0..9 do not move
    coords, _ = shared_pca([A, B])
    np.testing.assert_array_equal(coords[0, :10], coords[1, :10])
    assert not np.allclose(coords[0, 10:], coords[1, 10:])


def test_shared_pca_sign_convention_and_padding() -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3)) * [5.0, 2.0, 0.1]
    coords, _ = shared_pca([X])
    flipped, _ = shared_pca([-X])
    # the largest loading of each axis is positive, so -X gives the mirrored coordinates
    np.testing.assert_allclose(flipped, -coords, atol=1e-12)
    line = rng.normal(size=(25, 1))
    c1, ex1 = shared_pca([line])
    np.testing.assert_allclose(np.abs(c1[0, :, 0]), np.abs(line[:, 0] - line.mean()))
    np.testing.assert_array_equal(c1[0, :, 1], 0.0)
    np.testing.assert_allclose(ex1, [1.0, 0.0])


@pytest.mark.parametrize(
    ("states", "n", "match"),
    [
        ([], 2, "no states"),
        ([np.zeros((5, 2)), np.zeros((5, 3))], 2, r"one shape \(N, d\)"),
        ([np.zeros((5, 2)), np.zeros((4, 2))], 2, r"one shape \(N, d\)"),
        ([np.zeros(5)], 2, r"one shape \(N, d\)"),
        ([np.zeros((5, 2))], 0, "n_components=0"),
    ],
)
def test_shared_pca_refuses_bad_input(states: list[np.ndarray], n: int, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        shared_pca(states, n)


def test_tracks_draw_every_track_through_the_shared_projection(curvy: lf.Trajectory) -> None:
    ax = lf.plot.tracks(curvy, n_tracks=None)
    run = curvy.equal_width_run()
    assert run == (1, 5)
    want, explained = pca_reference(list(curvy.states[1:6]))  # (S, N, 2)
    segs = ax.collections[0].get_segments()
    assert len(segs) == 60
    got = np.stack(segs)  # (N, S, 2)
    assert_same_up_to_sign(np.transpose(got, (1, 0, 2)), want)
    # start (hollow) and end (filled) markers are the first and last states' projections
    assert_same_up_to_sign(ax.collections[1].get_offsets(), want[0])
    assert_same_up_to_sign(ax.collections[2].get_offsets(), want[-1])
    np.testing.assert_array_equal(ax.collections[2].get_array(), curvy.labels)
    assert ax.get_xlabel() == f"PC1 ({explained[0]:.0%})"
    assert "lift → d" in ax.get_title()


def test_tracks_subsample_is_the_seeded_choice(curvy: lf.Trajectory) -> None:
    ax = lf.plot.tracks(curvy, n_tracks=7, seed=3)
    idx = np.sort(np.random.default_rng(3).choice(60, size=7, replace=False))
    want, _ = pca_reference(list(curvy.states[1:6]))
    got = np.stack(ax.collections[0].get_segments())
    assert got.shape == (7, 5, 2)
    assert_same_up_to_sign(np.transpose(got, (1, 0, 2)), want[:, idx])


def test_tracks_named_run_and_given_axes(curvy: lf.Trajectory) -> None:
    fig = Figure()
    ax = fig.subplots()
    out = lf.plot.tracks(curvy, run=(2, 4), n_tracks=None, ax=ax)
    assert out is ax
    want, _ = pca_reference(list(curvy.states[2:5]))
    got = np.stack(ax.collections[0].get_segments())
    assert_same_up_to_sign(np.transpose(got, (1, 0, 2)), want)


def test_tracks_refuse_bad_input(curvy: lf.Trajectory) -> None:
    with pytest.raises(ConfigError, match="n_tracks=0"):
        lf.plot.tracks(curvy, n_tracks=0)
    with pytest.raises(ConfigError, match="needs a layerflow Trajectory; got list"):
        lf.plot.tracks([np.zeros((3, 2))])  # type: ignore[arg-type]
    no_run = lf.Trajectory([np.zeros((4, 1)), np.ones((4, 2)), np.ones((4, 3))])
    with pytest.raises(lf.ConfigError, match="no two consecutive states have equal width"):
        lf.plot.tracks(no_run)


def test_layers_share_one_projection_per_width(curvy: lf.Trajectory) -> None:
    axes = lf.plot.layers(curvy)
    assert len(axes) == 6
    wide, _ = pca_reference(list(curvy.states[1:]))  # every 3-D state, fitted together
    narrow, _ = pca_reference([curvy.states[0]])
    assert_same_up_to_sign(axes[0].collections[0].get_offsets(), narrow[0])
    for j in range(1, 6):
        assert_same_up_to_sign(axes[j].collections[0].get_offsets(), wide[j - 1])
        np.testing.assert_array_equal(axes[j].collections[0].get_array(), curvy.labels)
        # panels of one width share their limits, so movement between them is visible
        assert axes[j].get_xlim() == axes[1].get_xlim()
        assert axes[j].get_ylim() == axes[1].get_ylim()
    assert axes[3].get_title() == "b (d=3)"


def test_layers_projection_is_fitted_on_all_states_of_the_width(curvy: lf.Trajectory) -> None:
    axes = lf.plot.layers(curvy, states=[5])
    wide, _ = pca_reference(list(curvy.states[1:]))
    assert_same_up_to_sign(axes[0].collections[0].get_offsets(), wide[4])


def test_layers_pick_evenly_spaced_states_with_first_and_last(curvy: lf.Trajectory) -> None:
    axes = lf.plot.layers(curvy, max_panels=3)
    # linspace(0, 5, 3) = 0, 2.5, 5; 2.5 rounds half to even: states 0, 2, 5
    assert [a.get_title().split(" ")[0] for a in axes] == ["input", "a", "d"]


def test_layers_without_labels_draw_one_colour() -> None:
    t = lf.Trajectory([np.arange(12.0).reshape(6, 2), np.arange(12.0).reshape(6, 2) ** 2])
    axes = lf.plot.layers(t)
    assert axes[0].collections[0].get_array() is None
    assert axes[0].get_legend() is None


def test_layers_refuse_bad_input(curvy: lf.Trajectory) -> None:
    with pytest.raises(ConfigError, match=r"states=\[9\]: expected indices in 0…5"):
        lf.plot.layers(curvy, states=[9])
    with pytest.raises(ConfigError, match="max_panels=0"):
        lf.plot.layers(curvy, max_panels=0)
    fig = Figure()
    with pytest.raises(ConfigError, match="ax has 2 Axes; this figure draws 6 panels"):
        lf.plot.layers(curvy, ax=fig.subplots(1, 2))


def test_layers_own_projection_is_each_states_own_pca(curvy: lf.Trajectory) -> None:
    axes = lf.plot.layers(curvy, states=[0, 2, 5], projection="own")
    for a, s in zip(axes, [0, 2, 5], strict=True):
        want, explained = pca_reference([curvy.states[s]])  # this state alone
        assert_same_up_to_sign(a.collections[0].get_offsets(), want[0])
        assert a.get_xlabel() == f"PC1 ({explained[0]:.0%})"
        assert a.get_ylabel() == f"PC2 ({explained[1]:.0%})"
    # each panel keeps its own limits (its own coordinates), unlike the shared projection
    assert axes[1].get_xlim() != axes[2].get_xlim()


def test_panel_states_are_evenly_spaced_with_first_and_last() -> None:
    # round(linspace(0, 9, 5)) = round(0, 2.25, 4.5, 6.75, 9) = 0, 2, 4, 7, 9 (half to even)
    assert lf.plot.panel_states(10, 5) == [0, 2, 4, 7, 9]
    assert lf.plot.panel_states(4, 5) == [0, 1, 2, 3]
    assert lf.plot.panel_states(6) == [0, 1, 2, 3, 4, 5]  # DEFAULT_MAX_PANELS = 6
    # round(linspace(0, 6, 6)) = round(0, 1.2, 2.4, 3.6, 4.8, 6)
    assert lf.plot.panel_states(7) == [0, 1, 2, 4, 5, 6]
    with pytest.raises(ConfigError, match="max_panels=True"):
        lf.plot.panel_states(4, True)


def test_layers_refuse_an_unknown_projection(curvy: lf.Trajectory) -> None:
    with pytest.raises(ConfigError, match=r"projection='mine': expected one of \['shared', 'own'\]"):
        lf.plot.layers(curvy, projection="mine")
