from __future__ import annotations

import numpy as np

from layerflow.ricci import (
    layer_coefficients,
    local_coefficients,
    ricci_coefficient,
    ricci_k_scan,
)

from .reference import random_relu_states


def test_sweep_equals_separate_runs() -> None:
    states = random_relu_states(100, 6)
    sw = ricci_k_scan(states, ks=(4, 9, 6))
    assert sw.ks == (4, 9, 6)
    for k in (4, 6, 9):
        one = ricci_coefficient(states, k=k)
        np.testing.assert_array_equal(sw.global_[k].geodesic_mass, one.geodesic_mass)
        np.testing.assert_array_equal(sw.global_[k].scalar_curvature, one.scalar_curvature)
        assert sw.global_[k].coefficient == one.coefficient or np.isnan(one.coefficient)
        np.testing.assert_array_equal(sw.local[k].values, local_coefficients(states, k=k).values)
        np.testing.assert_array_equal(sw.layer[k].values, layer_coefficients(states, k=k).values)
    sw_d = ricci_k_scan(states, ks=(5,), degree="directed", local=False)
    assert sw_d.local == {} and sw_d.layer == {}
    assert sw_d.global_[5].degree == "directed"


def test_sweeps_of_several_protocols_equal_separate_sweeps() -> None:
    import pytest

    from layerflow._errors import ConfigError
    from layerflow.ricci import ricci_k_scans

    states = [np.round(s / 0.25) * 0.25 for s in random_relu_states(110, 9)]  # with ties
    both = ricci_k_scans(states, ks=(3, 8), protocols=("baptista", "layerflow"),
                        degrees=(None, "directed"))
    assert list(both) == ["baptista", "layerflow"]
    for proto, degree in (("baptista", None), ("layerflow", "directed")):
        one = ricci_k_scan(states, ks=(3, 8), protocol=proto, degree=degree)
        for k in (3, 8):
            a, b = both[proto].global_[k], one.global_[k]
            assert (a.protocol, a.degree) == (b.protocol, b.degree)
            np.testing.assert_array_equal(a.geodesic_mass, b.geodesic_mass)
            np.testing.assert_array_equal(a.scalar_curvature, b.scalar_curvature)
            np.testing.assert_array_equal(both[proto].local[k].values, one.local[k].values)
            np.testing.assert_array_equal(both[proto].layer[k].values, one.layer[k].values)
    for kwargs, match in (
        ({"protocols": ()}, "distinct protocol names"),
        ({"protocols": ("layerflow", "layerflow")}, "distinct protocol names"),
        ({"protocols": ("layerflow",), "degrees": (None, None)}, "one each"),
        ({"protocols": ("nope",)}, "protocol"),
        ({"ks": ()}, "ks is empty"),
    ):
        with pytest.raises(ConfigError, match=match):
            ricci_k_scans(states, **{"ks": (3,), **kwargs})  # type: ignore[arg-type]


def test_the_shared_options_are_declared_once_and_misspelt_ones_are_named() -> None:
    import dataclasses

    import pytest

    from layerflow.ricci import ricci_k_scans
    from layerflow.ricci._core import RicciKeywords, RicciOptions

    # every shared keyword is a field of the one frozen options object, which holds its default
    fields = {f.name: f.default for f in dataclasses.fields(RicciOptions)}
    assert RicciKeywords.__optional_keys__ <= set(fields)
    states = random_relu_states(60, 2)
    for fn in (ricci_coefficient, ricci_k_scan, ricci_k_scans):
        with pytest.raises(TypeError, match=r"unexpected keyword argument 'geodesic' "
                                            r"\(did you mean 'geodesics'\?\)"):
            fn(states, **{"geodesic": "exact"})  # type: ignore[arg-type]
        with pytest.raises(TypeError, match=f"{fn.__name__}\\(\\) got an unexpected keyword"):
            fn(states, **{"bogus": 1})  # type: ignore[arg-type]
    from layerflow._errors import ConfigError

    with pytest.raises(ConfigError, match=r"final_norm='no': expected True or False"):
        ricci_k_scan(states, final_norm="no")  # type: ignore[arg-type]
    # a shared option given by keyword reaches the computation: sampled geodesics differ by seed
    a = ricci_k_scan(states, ks=(5,), local=False, geodesics="sampled", n_sources=8, seed=1)
    b = ricci_k_scan(states, ks=(5,), local=False, geodesics="sampled", n_sources=8, seed=2)
    assert not a.global_[5].exact
    assert not np.array_equal(a.global_[5].geodesic_mass, b.global_[5].geodesic_mass)
    one = ricci_coefficient(states, k=5, geodesics="sampled", n_sources=8, seed=1)
    np.testing.assert_array_equal(one.geodesic_mass, a.global_[5].geodesic_mass)
