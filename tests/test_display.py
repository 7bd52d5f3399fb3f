"""Results that show themselves: short reprs whatever N, an HTML table, to_frame equal to the
fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import layerflow as lf
from layerflow._display import ResultDisplay, format_value


def _traj(n: int, seed: int = 0) -> lf.Trajectory:
    rng = np.random.default_rng(seed)
    states = [rng.normal(size=(n, 3))]
    for _ in range(5):
        states.append(states[-1] + 0.3 * rng.normal(size=(n, 3)))
    return lf.Trajectory(states, labels=np.arange(n) % 2)


def _results(t: lf.Trajectory) -> dict[str, Any]:
    k = 6
    return {
        "lss": lf.transport.line_shape_score(t),
        "ots": lf.transport.ot_score(t),
        "w2": lf.transport.wasserstein_path(t),
        "angles": lf.transport.turning_angles(t),
        "gw": lf.transport.gw_ot_score(t, m=min(t.n_samples, 40)),
        "ricci": lf.ricci.ricci_coefficient(t, k=k),
        "local": lf.ricci.local_coefficients(t, k=k),
        "layer": lf.ricci.layer_coefficients(t, k=k),
        "sweep": lf.ricci.ricci_k_scan(t, ks=(k, k + 2)),
        "mass": lf.ricci.path_mass(lf.ricci.knn_graph(t.states[0], k=k)),
        "curve": lf.maps.track_curvature(t),
    }


@pytest.fixture(scope="module")
def small() -> dict[str, Any]:
    return _results(_traj(30))


@pytest.fixture(scope="module")
def large() -> dict[str, Any]:
    return _results(_traj(600, seed=1))


def test_reprs_are_short_whatever_n(small: dict[str, Any], large: dict[str, Any]) -> None:
    for name in small:
        a, b = repr(small[name]), repr(large[name])
        assert len(b) <= 300, (name, b)
        assert abs(len(a) - len(b)) <= 20, (name, a, b)  # only the digits of the numbers differ
        assert "array([" not in b and "\n" not in b, (name, b)


def test_reprs_name_the_headline_values(small: dict[str, Any]) -> None:
    lss, w2, ricci = small["lss"], small["w2"], small["ricci"]
    assert repr(lss).startswith(f"LineShapeResult(mean={lss.mean:.4g}, median={lss.median:.4g}, ")
    assert "per_sample=<array (30,)>" in repr(lss)
    assert f"geodesic_ratio={w2.geodesic_ratio:.4g}" in repr(w2)
    assert "note=" not in repr(w2)  # an empty note is left out
    assert f"coefficient={ricci.coefficient:.4g}, k=6, curvature='forman'" in repr(ricci)
    assert "eta=<array (5,)>" in repr(ricci)
    sweep = small["sweep"]
    assert repr(sweep) == (
        f"RicciKScan(ks=(6, 8), global_={{6: {sweep.global_[6].coefficient:.4g}, "
        f"8: {sweep.global_[8].coefficient:.4g}}})"
    )
    # classes with their own repr keep it
    assert repr(small["mass"]).startswith("PathMass(value=")
    assert repr(_traj(4)) == ("Trajectory(N=4, widths=[3, 3, 3, 3, 3, 3], layers=['input', "
                              "'layer1', 'layer2', 'layer3', 'layer4', 'layer5'])")


def test_frames_equal_the_fields(small: dict[str, Any]) -> None:
    lss = small["lss"].to_frame()
    assert list(lss.columns) == ["per_sample"] and lss.index.name == "sample"
    np.testing.assert_array_equal(lss["per_sample"], small["lss"].per_sample)

    r = small["ricci"]
    f = r.to_frame()
    assert list(f.columns) == ["name", "scalar_curvature", "geodesic_mass", "geodesic_stderr",
                               "eta"]
    assert list(f["name"]) == list(r.layer_names) and f.index.name == "layer"
    for col in ("scalar_curvature", "geodesic_mass", "geodesic_stderr"):
        np.testing.assert_array_equal(f[col], getattr(r, col))
    np.testing.assert_array_equal(f["eta"].iloc[:-1], r.eta)  # η_l has L values, l = 0 … L−1
    assert np.isnan(f["eta"].iloc[-1])

    w2 = small["w2"]
    f = w2.to_frame()
    np.testing.assert_array_equal(f["steps"], w2.steps)
    assert list(f.index) == list(range(w2.run[0], w2.run[1]))  # the state each step leaves

    ang = small["angles"]
    f = ang.to_frame()  # the angle at state start + l, l = 1 … n−1
    assert np.isnan(f["per_state"].iloc[0])
    np.testing.assert_array_equal(f["per_state"].iloc[1:], ang.per_state)

    cur = small["curve"]
    f = cur.to_frame()
    np.testing.assert_array_equal(f["speed"], cur.speed)
    np.testing.assert_array_equal(f["curvature"].iloc[1:], cur.curvature)

    for key, col in (("local", "values"), ("layer", "values")):
        np.testing.assert_array_equal(small[key].to_frame()[col], small[key].values)
    assert list(small["layer"].to_frame()["name"]) == list(small["layer"].layer_names)

    sweep = small["sweep"].to_frame()
    assert list(sweep["k"]) == [6, 8]
    np.testing.assert_array_equal(
        sweep["coefficient"], [small["sweep"].global_[k].coefficient for k in (6, 8)])

    ots = small["ots"].to_frame()  # scalars only: one row of the headline values
    assert len(ots) == 1 and ots["score"].iloc[0] == small["ots"].score
    assert small["mass"].to_frame()["value"].iloc[0] == float(small["mass"])

    t = _traj(5)
    f = t.to_frame()
    assert list(f["name"]) == list(t.layer_names) and list(f["widths"]) == list(t.widths)


def test_html_is_a_small_table(small: dict[str, Any], large: dict[str, Any]) -> None:
    for name in small:
        html = large[name]._repr_html_()
        assert html.startswith("<div><strong>") and "<table" in html, name
        assert len(html) < 8000, (name, len(html))  # the frame is cut to a few rows
    html = small["ricci"]._repr_html_()
    assert "<th style='text-align:left'>coefficient</th>" in html
    assert f"<td style='text-align:left'>{small['ricci'].coefficient:.4g}</td>" in html
    assert "geodesic_mass" in html  # the per-layer frame below the headline table


def test_jacobian_and_training_results() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 3))
    X = torch.randn(25, 2, generator=torch.Generator().manual_seed(0))
    diag = lf.maps.jacobian_diagnostics(model, X, layers=["0", "1", "2"])
    assert repr(diag) == (f"JacobianDiagnostics(fraction_all={diag.fraction_all:.4g}, "
                          "n_applicable=2, cond_max=1e+08, layers=<3 results>)")
    f = diag.to_frame()
    assert list(f["name"]) == ["0", "1", "2"]
    np.testing.assert_array_equal(f["fraction_diffeomorphic"],
                                  [lay.fraction_diffeomorphic for lay in diag.layers])
    assert list(f["applicable"]) == [True, True, False]
    lay = diag.layers[1]
    g = lay.to_frame()
    for col in ("logabsdet", "orientation_preserved", "condition", "diffeomorphic"):
        np.testing.assert_array_equal(g[col], getattr(lay, col))
    assert "logabsdet=<array (25,)>" in repr(lay)
    assert diag.layers[2].to_frame().empty  # not applicable: no per-sample values

    ds = lf.load_dataset("moons", n=80, noise=0.1, seed=0)
    net = lf.build_model(lf.ModelSpec("resnet", width=4, depth=2), in_dim=2, n_classes=2, seed=0)
    res = lf.train(net, ds, lf.TrainConfig(epochs=2, batch_size=20, device="cpu"))
    text = repr(res)
    assert text.startswith(f"TrainResult(status='ok', train_acc={res.train_acc:.4g}, ")
    assert "Linear" not in text and len(text) < 300  # the model is not printed
    f = res.to_frame()
    assert f.index.name == "step" and len(f) == res.steps
    np.testing.assert_array_equal(f["ce_history"], res.ce_history)
    np.testing.assert_array_equal(f["transport_cost_history"], res.transport_cost_history)
    assert "lambda_history" not in f.columns  # no transport objective: no λ recorded


def test_format_value_bounds_every_kind() -> None:
    assert format_value(np.float64(0.123456789)) == "0.1235"
    assert format_value(float("nan")) == "nan" and format_value(float("-inf")) == "-inf"
    assert format_value(np.int64(3)) == "3" and format_value(np.bool_(True)) == "True"
    assert format_value(np.zeros((4, 2))) == "<array (4, 2)>"
    assert len(format_value("x" * 500)) <= 82
    assert format_value(tuple(range(100))) == "(0, 1, 2, 3, 4, 5, … (100 in all))"
    assert format_value([1.0, 2.0]) == "[1, 2]"
    assert format_value({"a": 1}) == "<1 entries>"
    assert format_value(None) == "None"


def test_rows_must_be_one_dimensional() -> None:
    @dataclass(frozen=True)
    class Bad(ResultDisplay, headline=("x",), rows=("grid",)):
        x: float
        grid: np.ndarray

    bad = Bad(1.0, np.zeros((3, 2)))
    assert repr(bad) == "Bad(x=1, grid=<array (3, 2)>)"
    with pytest.raises(TypeError, match=r"Bad.grid has shape \(3, 2\); rows must be 1-D"):
        bad.to_frame()
    assert isinstance(Bad(2.0, np.zeros(3)).to_frame(), pd.DataFrame)
