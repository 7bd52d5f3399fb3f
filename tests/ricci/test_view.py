"""The Ricci view: its columns equal the library's functions, per protocol and k."""

from __future__ import annotations

import math

import numpy as np
import pytest

import layerflow as lf
from layerflow.views import OptionError, get_view


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
    for proto, sfx in (("layerflow", ""), ("baptista", "_baptista")):
        for k in (10, 20):
            rc = lf.ricci.ricci_coefficient(traj, k=k, protocol=proto)
            got = res.scalars[f"ricci_rho{sfx}_k{k}"]
            assert (math.isnan(got) and math.isnan(rc.coefficient)) or got == rc.coefficient
            eta = [r["value"] for r in res.layers if r["metric"] == f"eta{sfx}" and r["k"] == k]
            np.testing.assert_array_equal(eta, rc.eta)
    assert res.scalars["ricci_rho"] == res.scalars["ricci_rho_k10"]
    assert res.scalars["ricci_rho_baptista"] == res.scalars["ricci_rho_baptista_k10"]
    assert res.scalars["ricci_protocol"] == "layerflow"
    names = [n for n, _ in view.scalar_columns(opts)]
    assert set(res.scalars) <= set(names)


def test_ks_that_do_not_fit_are_nan_and_named() -> None:
    res = get_view("ricci").measure(_traj(n=40), k=10, ks=[10, 50])
    assert math.isnan(res.scalars["ricci_rho_k50"])
    assert res.scalars["ricci_skipped_ks"] == "k=50 (N=40)"
    assert not math.isnan(res.scalars["ricci_rho_k10"])


def test_options_are_checked_against_the_declaration() -> None:
    view = get_view("ricci")
    with pytest.raises(OptionError, match=r"^k: 40 is not one of ks=\[10, 20\]"):
        view.resolve({"k": 40, "ks": [10, 20]})
    with pytest.raises(OptionError, match=r"protocols\[1\]: 'r-code' is not allowed"):
        view.resolve({"protocols": ["layerflow", "r-code"]})
    with pytest.raises(OptionError, match="curvature: 'nope' is not allowed; expected one of "
                                          "forman, augmented, ollivier"):
        view.resolve({"curvature": "nope"})
    with pytest.raises(OptionError, match="kk: unknown option of the ricci view"):
        view.resolve({"kk": 3})
