"""R's pooled coefficient: a brute-force pooled correlation, and the R script's own computation
transcribed into numpy on the same arrays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import shortest_path
from scipy.stats import pearsonr

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.ricci import pooled_coefficient, ricci_coefficient
from layerflow.ricci._coefficients import RicciCoefficient

from .reference import ref_nng


def _hand_result(g: np.ndarray, ric: np.ndarray, k: int = 30, protocol: str = "baptista",
                 **kw: object) -> RicciCoefficient:
    """A result built by hand from geodesic masses and curvatures (L+1 states)."""
    disc = tuple((i, f"s{i}", 2) for i in np.flatnonzero(np.isinf(g)))
    first = 1 if protocol == "baptista" else 0
    opts: dict[str, object] = dict(
        coefficient=float("nan"), scalar_curvature=ric, geodesic_mass=g,
        geodesic_stderr=np.zeros_like(g), eta=g[1:] - g[:-1], connected=not disc,
        disconnected_layers=disc, k=k, curvature="forman",
        degree="directed" if protocol == "baptista" else "union", exact=True, reason="",
        protocol=protocol, ties="keep" if protocol == "baptista" else "by_index",
        first_pair=first,
    )
    opts.update(kw)
    return RicciCoefficient(**opts)  # type: ignore[arg-type]


def test_pooled_equals_a_brute_force_correlation() -> None:
    rng = np.random.default_rng(0)
    nets = {}
    for name, L in (("a", 5), ("b", 5), ("c", 7), ("d", 4)):
        nets[name] = _hand_result(rng.normal(1e4, 50, size=L + 1), rng.normal(-3e3, 80, L + 1))
    g_bad = rng.normal(1e4, 50, size=6)
    g_bad[3] = np.inf
    nets["broken"] = _hand_result(g_bad, rng.normal(size=6))
    res = pooled_coefficient(nets)
    # brute force: pairs l = 1 … L−1 of every connected network, concatenated
    xs, ys = [], []
    for name in ("a", "b", "c", "d"):
        g, ric = nets[name].geodesic_mass, nets[name].scalar_curvature
        L = len(g) - 1
        for layer in range(1, L):
            xs.append(g[layer + 1] - g[layer])
            ys.append(ric[layer])
    np.testing.assert_allclose(res.coefficient, pearsonr(xs, ys).statistic, rtol=0, atol=1e-12)
    assert res.n_pairs == len(xs) == 4 + 4 + 6 + 3
    assert res.n_networks == 4 and res.excluded == ("broken",) and res.n_excluded == 1
    assert res.excluded_reasons == ("layer 3 ('s3'): 2 components",)
    assert res.networks == ("a",) * 4 + ("b",) * 4 + ("c",) * 6 + ("d",) * 3
    np.testing.assert_array_equal(res.layers[:4], [1, 2, 3, 4])
    assert (res.protocol, res.k) == ("baptista", 30)
    # a sequence names networks by position; the same numbers
    seq = pooled_coefficient(list(nets.values()))
    assert seq.excluded == (4,) and seq.coefficient == res.coefficient
    # layerflow results pool their own pairs, the input pair included
    lfr = [_hand_result(r.geodesic_mass, r.scalar_curvature, protocol="layerflow")
           for r in nets.values()]
    pl = pooled_coefficient(lfr)
    assert pl.n_pairs == 5 + 5 + 7 + 4 and pl.protocol == "layerflow"


def test_pooled_with_every_network_excluded_or_too_few_pairs() -> None:
    g = np.array([10.0, np.inf, 12.0, 13.0, 14.0])
    res = pooled_coefficient([_hand_result(g, np.ones(5)), _hand_result(g, np.ones(5))])
    assert np.isnan(res.coefficient) and res.n_networks == 0 and res.excluded == (0, 1)
    assert res.reason == "every network (2) has an infinite geodesic mass"
    one = pooled_coefficient([_hand_result(np.array([1.0, 2.0, 4.0]), np.ones(3))])
    assert np.isnan(one.coefficient) and one.n_pairs == 1
    assert one.reason == "1 pairs; a correlation needs at least 3"


@pytest.mark.parametrize(
    ("results", "match"),
    [
        ([], r"results is empty"),
        ({}, r"results is empty"),
        ("ab", r"results\[0\] is a str; expected a RicciCoefficient"),
        (5, r"results is a int; expected a sequence or a mapping"),
        ([_hand_result(np.arange(5.0), np.ones(5)), _hand_result(np.arange(5.0), np.ones(5), k=120)],
         r"results mix k=30 \(results\[0\]\) and k=120 \(results\[1\]\)"),
        ({"x": _hand_result(np.arange(5.0), np.ones(5)),
          "y": _hand_result(np.arange(5.0), np.ones(5), protocol="layerflow")},
         r"results mix protocol='baptista' \(results\['x'\]\) and protocol='layerflow'"),
        ([_hand_result(np.arange(5.0), np.ones(5)),
          _hand_result(np.arange(5.0), np.ones(5), curvature="ollivier")],
         r"results mix curvature='forman'"),
    ],
)
def test_pooled_errors(results: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        pooled_coefficient(results)  # type: ignore[arg-type]
    if isinstance(results, list) and results and isinstance(results[0], RicciCoefficient):
        return
    one = _hand_result(np.arange(5.0), np.ones(5))
    with pytest.raises(ConfigError, match=r"results is a RicciCoefficient"):
        pooled_coefficient(one)  # type: ignore[arg-type]


# ------------------------------------------------------------------ the R script, in numpy
def r_script(x_test: np.ndarray, activation_list: list[list[np.ndarray]], k: int) -> dict:
    """fMNIST_kNN_RCoef_eval.r (anthbapt/Ricci-NN), one k, every network well-trained.

    Transcribed step by step: nng graphs of the activations but the last (the output) and of
    x_test; igraph degree (in + out); F_mat = 4 − outer(D, D, "+") masked by the adjacency;
    row sums; distances (igraph, mode "all") of consecutive graphs subtracted, row sums with
    na.rm = TRUE; aggregate by (layer, mod); models with an infinite per-layer mean removed;
    aa2 = cor(msc$ssr without layer 1, mfr$ssr without the last layer)."""
    sc_rows, fr_rows = [], []  # (layer, mod, per-point values)
    for mod, activations in enumerate(activation_list, start=1):
        gs1 = [ref_nng(av, k) for av in activations[:-1]]
        g01 = ref_nng(x_test, k)
        for i, A in enumerate(gs1, start=1):
            D = A.sum(axis=0) + A.sum(axis=1)
            F_mat = 4 - (D[:, None] + D[None, :]).astype(float)
            F_mat[A == 0] = 0
            fr_rows.append((i, mod, F_mat.sum(axis=1)))
        dists = [shortest_path(A, unweighted=True, directed=False) for A in [g01, *gs1]]
        for i in range(1, len(gs1) + 1):
            with np.errstate(invalid="ignore"):  # Inf − Inf is NaN in R too
                Ric1 = dists[i] - dists[i - 1]
                sc_rows.append((i, mod, np.nansum(Ric1, axis=1)))  # sum(x, na.rm = T)
    # aggregate(ssr ~ layer + mod, sc_data, mean): rows with NaN are dropped (na.omit)
    rmod = set()
    for _layer, mod, v in sc_rows:
        with np.errstate(invalid="ignore"):
            m = v[~np.isnan(v)].mean()
        if np.isinf(m):
            rmod.add(mod)
    msc = [(mod, layer, v[~np.isnan(v)].sum()) for layer, mod, v in sc_rows if mod not in rmod]
    mfr = [(mod, layer, v.sum()) for layer, mod, v in fr_rows if mod not in rmod]
    msc.sort()
    mfr.sort()
    max_layer = max(layer for _, layer, _ in mfr)
    x = np.array([s for _, layer, s in msc if layer != 1])
    y = np.array([s for _, layer, s in mfr if layer != max_layer])
    return {"estimate": float(np.corrcoef(x, y)[0, 1]), "removed": sorted(rmod), "msc": msc,
            "mfr": mfr, "x": x, "y": y}


def _networks(n: int = 60, n_nets: int = 5, depth: int = 6, seed: int = 0):
    """Quantised activations (many exact ties): an integer input, integer layers
    ``|h W + b|``, and an output layer at the end; network 2 splits into two far clusters in
    its layers 2 and 3 (so R and layerflow must both leave it out)."""
    rng = np.random.default_rng(seed)
    x_test = rng.integers(0, 10, size=(n, 2)).astype(float)
    nets = []
    for m in range(n_nets):
        h, acts = x_test, []
        for layer in range(depth):
            W = rng.integers(-3, 4, size=(h.shape[1], 5))
            h = np.abs(h @ W + rng.integers(0, 3, size=5)).astype(float)
            if m == 2 and layer in (1, 2):
                h = h + 1000.0 * (np.arange(n) < n // 2)[:, None]
            acts.append(h)
        acts.append(rng.normal(size=(n, 1)))  # the output, dropped by the protocol
        nets.append(acts)
    return x_test, nets


@pytest.mark.parametrize(("k", "seed"), [(5, 4), (6, 0), (9, 2)])
def test_pooled_coefficient_is_the_r_scripts_number(k: int, seed: int) -> None:
    x_test, nets = _networks(seed=seed)
    assert any(ref_nng(a, k).sum() > k * len(a) for a in nets[0][:-1])  # ties beyond k
    r = r_script(x_test, nets, k)
    # the user captures input + hidden layers (not the output): Trajectory([x_test, *hidden])
    results = [
        ricci_coefficient(lf.Trajectory([x_test, *acts[:-1]]), k=k, protocol="baptista")
        for acts in nets
    ]
    pooled = pooled_coefficient(results)
    # the same networks left out (R numbers them from 1)
    assert [m - 1 for m in r["removed"]] == list(pooled.excluded) and 2 in pooled.excluded
    kept = [res for m, res in enumerate(results) if m not in pooled.excluded]
    assert len(kept) >= 2 and pooled.n_networks == len(kept)
    np.testing.assert_allclose(pooled.coefficient, r["estimate"], rtol=0, atol=1e-12)
    # 6 hidden layers each: pairs l = 1 … 5
    assert pooled.n_pairs == len(r["x"]) == 5 * len(kept)
    # the per-layer quantities themselves: mfr = Ric_l (hidden layers), msc = 2·η_{l−1}
    np.testing.assert_array_equal(2 * np.concatenate([res.eta for res in kept]),
                                  [s for _, _, s in r["msc"]])
    np.testing.assert_array_equal(np.concatenate([res.scalar_curvature[1:] for res in kept]),
                                  [s for _, _, s in r["mfr"]])
    np.testing.assert_array_equal(2 * pooled.eta, r["x"])
    np.testing.assert_array_equal(pooled.scalar_curvature, r["y"])
