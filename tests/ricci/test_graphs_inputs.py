from __future__ import annotations

import numpy as np
import pytest

from layerflow._errors import ConfigError
from layerflow.ricci import knn_graph, knn_indices


@pytest.mark.parametrize(
    ("X", "k", "match"),
    [
        (np.zeros((10, 2)), 10, r"k=10 needs more than 10 points; the point cloud has 10"),
        (np.zeros((10, 2)), 0, r"k=0: expected k >= 1"),
        (np.zeros((10, 2)), 2.5, r"k=2.5: expected an int"),
        (np.zeros((10, 2)), True, r"k=True: expected an int"),
        (np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 4.0]]), 1, r"NaN values in 1 of 3 rows"),
        (np.array([[0.0, np.inf], [1.0, 2.0], [3.0, 4.0]]), 1, r"infinite values"),
        (np.zeros((0, 2)), 1, r"shape \(0, 2\)"),
        (np.zeros((3, 2, 2)), 1, r"expected a 2-D array"),
        (np.array([["a"], ["b"]]), 1, r"dtype <U1"),
        (np.array([object(), object()], dtype=object), 1, r"dtype object"),
    ],
)
def test_knn_errors_name_the_bad_value(X: np.ndarray, k: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        knn_graph(X, k)  # type: ignore[arg-type]


def test_unreadable_points() -> None:
    class Bad:
        def __array__(self, *a: object, **k: object) -> np.ndarray:
            raise RuntimeError("nope")

    with pytest.raises(ConfigError, match="could not be read as an array"):
        knn_graph(Bad(), 2)  # type: ignore[arg-type]


def test_layer_name_in_k_error() -> None:
    with pytest.raises(
        ConfigError, match=r"k=5 needs more than 5 points; layer 3 \('fc3'\) has 5"
    ):
        knn_indices(np.zeros((5, 2)), 5, layer="layer 3 ('fc3')")


def test_a_coefficient_call_validates_k_and_points_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # the public edge checks k against N once (not once per layer and again per neighbour
    # search); the neighbour searches take the checked arrays as they are
    from layerflow.ricci import _core, ricci_coefficient
    from layerflow.ricci import _graphs as graphs

    calls: list[str] = []

    def spy(name, real):  # type: ignore[no-untyped-def]
        def f(*a, **kw):  # type: ignore[no-untyped-def]
            calls.append(name)
            return real(*a, **kw)

        return f

    monkeypatch.setattr(_core, "check_k", spy("k", graphs.check_k))
    monkeypatch.setattr(_core, "check_points", spy("points", graphs.check_points))
    states = [np.random.default_rng(i).normal(size=(40, 3)) for i in range(5)]
    ricci_coefficient(states, k=4)
    assert calls == ["points"] * 5 + ["k"]


@pytest.mark.parametrize("ks", [(5.7, 10), (True, 5), ("7",)])
def test_sweeps_refuse_ks_that_are_not_ints(ks: tuple[object, ...]) -> None:
    from layerflow.ricci import ricci_k_scan

    states = [np.random.default_rng(i).normal(size=(40, 3)) for i in range(5)]
    with pytest.raises(ConfigError, match=f"k={ks[0]!r}: expected an int >= 1"):
        ricci_k_scan(states, ks=ks)


@pytest.mark.parametrize("n_sources", [0, -3, 2.5, True])
def test_coefficients_refuse_a_bad_number_of_sources(n_sources: object) -> None:
    from layerflow.ricci import ricci_coefficient, ricci_k_scan

    states = [np.random.default_rng(i).normal(size=(40, 3)) for i in range(5)]
    with pytest.raises(ConfigError, match=f"n_sources={n_sources!r}: expected an int >= 2"):
        ricci_coefficient(states, k=5, geodesics="sampled", n_sources=n_sources)
    with pytest.raises(ConfigError, match="n_sources="):
        ricci_k_scan(states, ks=(5,), geodesics="sampled", n_sources=n_sources)
