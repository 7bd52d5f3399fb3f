"""The core from states to the per-layer measures of the global coefficients: the nested route
(Forman's closed form, exact geodesics) equals the built-graph route and networkx; one search
serves several protocols; the input state's measures are kept in a visible cache."""

from __future__ import annotations

import numpy as np
import pytest

from layerflow.ricci import _coefficients as coefficients
from layerflow.ricci._core import (
    INPUT_CACHE,
    PROTOCOLS,
    Family,
    RicciOptions,
    layer_graphs,
    neighbour_tables,
    trajectory_states,
)
from layerflow.ricci._path_mass import exact_path_mass, path_mass_from_arrays

from .reference import random_relu_states, ref_ricci

FAMILIES = (
    Family(PROTOCOLS["layerflow"], "union"),
    Family(PROTOCOLS["layerflow"], "directed"),
    Family(PROTOCOLS["baptista"], "directed"),
)
FIELDS = ("scalar_curvature", "geodesic_mass", "geodesic_stderr", "eta")


def global_coefficients(states, names, ks, families, curvature, geodesics="auto",  # type: ignore[no-untyped-def]
                        n_sources=None):
    opts = RicciOptions(tuple(sorted(set(ks))), tuple(families), curvature, "nan", geodesics,
                        n_sources)
    return coefficients._coefficients(states, names, opts)


def built_coefficient(tables, names, k, fam, curvature, geodesics):  # type: ignore[no-untyped-def]
    """The coefficient from graphs built one by one (no nested graphs, no closed form reuse)."""
    opts = RicciOptions((k,), (fam,), curvature, "nan", geodesics)
    graphs = layer_graphs(tables, k, fam.degree, fam.protocol.ties)
    ric = np.array([G.scalar_curvature(curvature, 0.5) for G in graphs])
    gm = [path_mass_from_arrays(G.indptr, G.indices, geodesics, None, 0) for G in graphs]
    return coefficients._from_layers(ric, gm, names, k, opts, fam.protocol, fam.degree)


def _quantised(n: int, seed: int) -> list[np.ndarray]:
    return [np.round(s / 0.25) * 0.25 for s in random_relu_states(n, seed, depth=5)]


def _assert_same(a: object, b: object) -> None:
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    for f in ("coefficient",):
        x, y = getattr(a, f), getattr(b, f)
        assert x == y or (np.isnan(x) and np.isnan(y))
    for f in ("reason", "disconnected_layers", "connected", "exact", "n_samples", "protocol",
              "degree", "k", "first_pair", "ties"):
        assert getattr(a, f) == getattr(b, f), f


@pytest.mark.parametrize("make", [lambda: random_relu_states(140, 4), lambda: _quantised(150, 5)])
def test_nested_route_equals_the_built_graph_route(make) -> None:  # type: ignore[no-untyped-def]
    states, names = trajectory_states(make())
    ks = (2, 5, 9, 30)
    nested, tables = global_coefficients(states, names, ks, FAMILIES, "forman")
    assert tables is None  # the nested route keeps no tables
    tables = neighbour_tables(states, names, max(ks), "keep")
    for fam, got in zip(FAMILIES, nested, strict=True):
        for k in ks:
            _assert_same(got[k], built_coefficient(tables, names, k, fam, "forman", "exact"))


def test_nested_route_equals_networkx() -> None:
    states = random_relu_states(90, 7, depth=4)
    s, names = trajectory_states(states)
    out, _ = global_coefficients(s, names, (5, 8), FAMILIES[:2], "forman", "exact")
    for f, directed in ((0, False), (1, True)):
        for k in (5, 8):
            ref = ref_ricci(states, k, directed=directed)
            np.testing.assert_array_equal(out[f][k].scalar_curvature, ref["ric"])
            np.testing.assert_array_equal(out[f][k].geodesic_mass, ref["g"])
            np.testing.assert_allclose(out[f][k].coefficient, ref["rho"], rtol=0, atol=1e-12)


def test_other_curvatures_and_sampled_geodesics_take_the_built_route() -> None:
    states, names = trajectory_states(random_relu_states(80, 1, depth=3))
    for curvature, geodesics in (("augmented", "exact"), ("forman", "sampled")):
        out, tables = global_coefficients(states, names, (4,), FAMILIES[:1], curvature,
                                          geodesics, 16)
        assert tables is not None and out[0][4].curvature == curvature
        assert out[0][4].exact == (geodesics == "exact")


def test_exact_geodesics_and_tables_rule() -> None:
    assert exact_path_mass("auto", 20_000, None) and not exact_path_mass("auto", 20_001, None)
    assert exact_path_mass("exact", 10**6, None) and not exact_path_mass("sampled", 500, 100)
    assert exact_path_mass("sampled", 500, 500) and exact_path_mass("sampled", 500, None)
    assert RicciOptions((3,), FAMILIES[:2]).table_rule == "by_index"
    assert RicciOptions((3,), FAMILIES).table_rule == "keep"


def test_the_input_state_is_kept_by_content() -> None:
    INPUT_CACHE.clear()
    assert (INPUT_CACHE.hits, INPUT_CACHE.misses) == (0, 0)
    a = random_relu_states(120, 3, depth=3)
    b = [a[0], *random_relu_states(120, 4, depth=3)[1:]]  # same input, other layers
    sa, na = trajectory_states(a)
    sb, nb_ = trajectory_states(b)
    fa, _ = global_coefficients(sa, na, (4, 9), FAMILIES, "forman")
    assert (INPUT_CACHE.hits, INPUT_CACHE.misses) == (0, 1) and len(INPUT_CACHE) == 1
    fb, _ = global_coefficients(sb, nb_, (4, 9), FAMILIES, "forman")
    assert (INPUT_CACHE.hits, INPUT_CACHE.misses) == (1, 1)  # the input came from the cache
    INPUT_CACHE.clear()
    assert len(INPUT_CACHE) == 0 and (INPUT_CACHE.hits, INPUT_CACHE.misses) == (0, 0)
    fresh, _ = global_coefficients(sb, nb_, (4, 9), FAMILIES, "forman")
    assert (INPUT_CACHE.hits, INPUT_CACHE.misses) == (0, 1)
    for f in range(len(FAMILIES)):
        for k in (4, 9):
            _assert_same(fb[f][k], fresh[f][k])
            assert fa[f][k].geodesic_mass[0] == fb[f][k].geodesic_mass[0]
    # other ks or another input are other keys; the cache keeps maxsize entries
    for seed in range(INPUT_CACHE.maxsize + 2):
        s, n = trajectory_states(random_relu_states(60, 100 + seed, depth=1))
        global_coefficients(s, n, (3,), FAMILIES[:1], "forman")
    assert len(INPUT_CACHE) == INPUT_CACHE.maxsize
    from layerflow.ricci import clear_caches

    clear_caches()
    assert len(INPUT_CACHE) == 0
