"""η against Ric, local and per-layer coefficients: the drawn points are the result's numbers, and
the Pearson correlation of the drawn points (computed here) is the coefficient the figure states."""

from __future__ import annotations

import numpy as np
import pytest

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.ricci import RicciCoefficient

from ._data import assert_same_up_to_sign, pca_reference


@pytest.fixture(scope="module")
def ricci_res(curvy: lf.Trajectory) -> RicciCoefficient:
    res = lf.ricci.ricci_coefficient(curvy, k=8)
    assert np.isfinite(res.coefficient)
    return res


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    xc, yc = x - x.mean(), y - y.mean()
    return float((xc @ yc) / np.sqrt((xc @ xc) * (yc @ yc)))


def test_ricci_points_are_the_pairs_and_reproduce_rho(ricci_res: RicciCoefficient) -> None:
    ax = lf.plot.ricci_coefficient(ricci_res)
    pts = np.asarray(ax.collections[0].get_offsets())
    L = ricci_res.eta.shape[0]
    np.testing.assert_array_equal(pts[:, 0], ricci_res.scalar_curvature[:L])
    np.testing.assert_array_equal(pts[:, 1], ricci_res.eta)
    np.testing.assert_allclose(_pearson(pts[:, 1], pts[:, 0]), ricci_res.coefficient, rtol=1e-12)
    assert ax.texts[0].get_text() == f"ρ = {ricci_res.coefficient:.3f}"
    assert [t.get_text() for t in ax.texts[1:]] == [str(i) for i in range(L)]
    assert "k=8, forman" in ax.get_title()


def test_ricci_from_a_trajectory_passes_the_options(curvy: lf.Trajectory) -> None:
    ax = lf.plot.ricci_coefficient(curvy, k=10, curvature="augmented", annotate=False)
    res = lf.ricci.ricci_coefficient(curvy, k=10, curvature="augmented")
    assert ax.texts[0].get_text() == f"ρ = {res.coefficient:.3f}"
    assert len(ax.texts) == 1


def test_ricci_protocol_that_leaves_the_input_pair_out(curvy: lf.Trajectory) -> None:
    res = lf.ricci.ricci_coefficient(curvy, k=8, protocol="baptista")
    assert res.first_pair == 1
    ax = lf.plot.ricci_coefficient(res)
    used = np.asarray(ax.collections[0].get_offsets())
    left = np.asarray(ax.collections[1].get_offsets())
    np.testing.assert_array_equal(used[:, 1], res.eta[1:])
    np.testing.assert_array_equal(left, [[res.scalar_curvature[0], res.eta[0]]])
    np.testing.assert_allclose(_pearson(used[:, 0], used[:, 1]), res.coefficient, rtol=1e-12)


def test_ricci_disconnected_network_states_the_reason() -> None:
    rng = np.random.default_rng(0)
    far = np.vstack([rng.normal(size=(15, 2)), 100 + rng.normal(size=(15, 2))])
    near = rng.normal(size=(30, 2))
    t = lf.Trajectory([near, near * 1.1, far, far * 1.2, far * 1.3])
    res = lf.ricci.ricci_coefficient(t, k=3)
    assert not res.connected
    ax = lf.plot.ricci_coefficient(res)
    assert ax.texts[0].get_text() == "ρ undefined"
    assert ax.texts[-1].get_text() == res.reason
    assert "pair(s) with infinite η not drawn" in ax.get_title()
    drawn = np.asarray(ax.collections[0].get_offsets())
    assert np.isfinite(drawn).all() and drawn.shape[0] == int(np.isfinite(res.eta).sum())


def test_local_coefficients_colour_the_input(curvy: lf.Trajectory) -> None:
    res = lf.ricci.local_coefficients(curvy, k=8)
    ax = lf.plot.local_coefficients(curvy, res)
    sc = ax.collections[0]
    np.testing.assert_array_equal(sc.get_offsets(), curvy.states[0])  # 2-D input, drawn as is
    np.testing.assert_array_equal(np.ma.filled(sc.get_array(), np.nan), res.values)
    assert sc.get_clim() == (-1.0, 1.0)
    assert f"{res.n_undefined} undefined" in ax.get_title()


def test_local_coefficients_of_a_wider_state_use_its_pca(curvy: lf.Trajectory) -> None:
    ax = lf.plot.local_coefficients(curvy, state=3, k=8)
    want, _ = pca_reference([curvy.states[3]])
    assert_same_up_to_sign(ax.collections[0].get_offsets(), want[0])
    res = lf.ricci.local_coefficients(curvy, k=8)
    np.testing.assert_array_equal(np.ma.filled(ax.collections[0].get_array(), np.nan),
                                  res.values)


def test_local_coefficients_refuse_bad_input(curvy: lf.Trajectory) -> None:
    res = lf.ricci.local_coefficients(curvy, k=8)
    with pytest.raises(ConfigError, match=r"got a result and options \['k'\]"):
        lf.plot.local_coefficients(curvy, res, k=8)
    with pytest.raises(ConfigError, match="expected LocalCoefficients, got RicciCoefficient"):
        lf.plot.local_coefficients(curvy, lf.ricci.ricci_coefficient(curvy, k=8))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="result has 60 samples but the trajectory has 30"):
        lf.plot.local_coefficients(curvy.subsample(30), res)
    with pytest.raises(ConfigError, match=r"state=6: expected an index in 0…5"):
        lf.plot.local_coefficients(curvy, res, state=6)
    with pytest.raises(ConfigError, match="needs a layerflow Trajectory; got LocalCoefficients"):
        lf.plot.local_coefficients(res)  # type: ignore[arg-type]


def test_layer_coefficients_bars_are_the_values(curvy: lf.Trajectory) -> None:
    res = lf.ricci.layer_coefficients(curvy, k=8)
    ax = lf.plot.layer_coefficients(res)
    np.testing.assert_array_equal([p.get_height() for p in ax.patches], res.values)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(res.layer_names)
    ax2 = lf.plot.layer_coefficients(curvy, k=8)
    np.testing.assert_array_equal([p.get_height() for p in ax2.patches], res.values)
