"""The Ricci view: its coefficient rows and columns equal the library's functions, per protocol
and k."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.views import get_view


def _traj(n: int = 90, seed: int = 0) -> lf.Trajectory:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    states = [X]
    for _ in range(4):
        states.append(np.tanh(states[-1] @ rng.normal(size=(3, 3)) * 0.7))
    return lf.Trajectory(states)


def test_columns_equal_ricci_coefficient_for_each_protocol_and_k() -> None:
    view = get_view("ricci")
    traj = _traj()
    opts = view.resolve({"k": 10, "ks": [10, 20], "protocols": ["layerflow", "baptista"]})
    res = view.measure(traj, **opts)
    rows = {(c["protocol"], c["k"]): c for c in res.coefficients}
    assert list(rows) == [("layerflow", 10), ("layerflow", 20), ("baptista", 10),
                          ("baptista", 20)]
    for proto, first in (("layerflow", 0), ("baptista", 1)):
        for k in (10, 20):
            rc = lf.ricci.ricci_coefficient(traj, k=k, protocol=proto)
            got = rows[(proto, k)]
            assert got["rho"] == rc.coefficient and got["reason"] == ""
            assert got["first_pair"] == first
            eta = [r["value"] for r in res.layers
                   if r["metric"] == "eta" and r["protocol"] == proto and r["k"] == k]
            np.testing.assert_array_equal(eta, rc.eta)
    assert res.scalars["ricci_rho"] == rows[("layerflow", 10)]["rho"]
    assert res.scalars["ricci_protocol"] == "layerflow"
    names = [n for n, _ in view.scalar_columns(opts)]
    assert set(res.scalars) <= set(names)
    assert not [n for n in names if re.search(r"_k\d|baptista", n)]  # no structure in a name
    assert {r["protocol"] for r in res.layers} == {"layerflow", "baptista"}


def test_ks_that_do_not_fit_are_nan_and_named() -> None:
    res = get_view("ricci").measure(_traj(n=40), k=10, ks=[10, 50],
                                    protocols=["layerflow", "baptista"])
    rows = {(c["protocol"], c["k"]): c for c in res.coefficients}
    for proto, first in (("layerflow", 0), ("baptista", 1)):
        assert math.isnan(rows[(proto, 50)]["rho"])
        assert rows[(proto, 50)]["reason"] == "k >= N"
        assert rows[(proto, 50)]["first_pair"] == first
        assert not math.isnan(rows[(proto, 10)]["rho"]) and rows[(proto, 10)]["reason"] == ""
    assert res.scalars["ricci_skipped_ks"] == "k=50 (N=40)"
    assert not [r for r in res.layers if r["k"] == 50]


def test_undefined_coefficients_say_why() -> None:
    """A disconnected graph and too few layer pairs are named in the rows' reason (the library's
    own verdicts: ``connected`` and the number of pairs)."""
    rng = np.random.default_rng(1)
    two = np.concatenate([rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 100.0])
    apart = lf.Trajectory([two, two * 2.0, two * 3.0, two * 4.0, two * 5.0])
    res = get_view("ricci").measure(apart, k=3)
    (row,) = res.coefficients
    assert not lf.ricci.ricci_coefficient(apart, k=3).connected
    assert math.isnan(row["rho"]) and row["reason"] == "disconnected"
    short = lf.Trajectory([rng.normal(size=(30, 2)) for _ in range(3)])  # L = 2 pairs
    res = get_view("ricci").measure(short, k=5)
    (row,) = res.coefficients
    assert math.isnan(row["rho"]) and row["reason"] == "too few pairs"


def test_options_are_checked_against_the_declaration() -> None:
    view = get_view("ricci")
    with pytest.raises(ConfigError, match=r"^k: 40 is not one of ks=\[10, 20\]"):
        view.resolve({"k": 40, "ks": [10, 20]})
    with pytest.raises(ConfigError, match=r"protocols\[1\]: 'r-code' is not allowed"):
        view.resolve({"protocols": ["layerflow", "r-code"]})
    with pytest.raises(ConfigError, match="curvature: 'nope' is not allowed; expected one of "
                                          "forman, augmented, ollivier"):
        view.resolve({"curvature": "nope"})
    with pytest.raises(ConfigError, match="kk: unknown option of the ricci view"):
        view.resolve({"kk": 3})


def test_k_and_the_protocol_default_to_one_declared_value_everywhere() -> None:
    """Every Ricci function, the view and the overview figure default to DEFAULT_K (the
    paper's k = 30) and DEFAULT_PROTOCOL ("layerflow"), as declared once."""
    import inspect

    from layerflow.plot._overview import overview
    from layerflow.ricci._view import measure_ricci

    assert lf.ricci.DEFAULT_K == 30 and lf.ricci.DEFAULT_PROTOCOL == "layerflow"
    r = lf.ricci
    for fn in (r.ricci_coefficient, r.summary, r.knn_graph, r.knn_indices, r.local_coefficients,
               r.layer_coefficients, measure_ricci, overview):
        assert inspect.signature(fn).parameters["k"].default == 30, fn.__name__
    for fn in (r.ricci_coefficient, r.ricci_k_scan):
        assert inspect.signature(fn).parameters["protocol"].default == "layerflow", fn.__name__
    resolved = get_view("ricci").resolve({})
    assert resolved["k"] == 30 and resolved["protocols"] == ["layerflow"]
    assert get_view("ricci").resolve({"ks": [10, 20]})["k"] == 10  # 30 not swept: the smallest
