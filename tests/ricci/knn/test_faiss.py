"""The faiss candidate path of the exact kNN: the same answer as a brute-force search, on data
built so that float32 distances cannot tell the neighbours apart."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from layerflow.ricci import _knn, knn_graph, knn_indices

from ..reference import ref_knn, ref_nng

faiss = pytest.importorskip("faiss")


def _near_tie_clouds() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {
        # continuous, wide
        "gauss": rng.normal(size=(400, 300)),
        # integer coordinates far off the origin: exact distances are integers that tie
        # often; float32 keys of the raw values could not even see them
        "offset grid": rng.integers(0, 3, size=(300, 40)).astype(float) + 2.0**30,
        # duplicates: distance 0, ties broken by index
        "duplicates": np.repeat(rng.normal(size=(75, 20)), 4, axis=0),
        # one-hot rows plus 1e-7 noise: every distance is √2 within far less than float32's
        # rounding, so no row is certified by the float32 candidates
        "equidistant": np.eye(300) + 1e-7 * rng.normal(size=(300, 300)),
    }


@pytest.mark.parametrize("name", list(_near_tie_clouds()))
def test_faiss_path_equals_brute_force(name: str) -> None:
    X = _near_tie_clouds()[name]
    arr = np.ascontiguousarray(X, dtype=np.float64)
    for k in (1, 7, 30):
        seen: list[tuple[str, int]] = []
        idx, sqd = _knn.exact_knn(arr, k, knn="faiss", trace=seen)
        assert seen[0][0] == "faiss"  # the back-end ran (rows it left: float64 blocks)
        np.testing.assert_array_equal(idx, ref_knn(X, k))
        idx_b, sqd_b = knn_indices(X, k, knn="blas")
        np.testing.assert_array_equal(idx, idx_b)
        np.testing.assert_array_equal(sqd, sqd_b)
        np.testing.assert_array_equal(knn_indices(X, k, knn="faiss")[0], idx)


def test_uncertified_rows_are_redone_exactly() -> None:
    # near-equidistant rows cannot be certified from float32 distances: the BLAS path with
    # float64 keys redoes them, and only them
    X = _near_tie_clouds()["equidistant"]
    seen: list[tuple[str, int]] = []
    idx, _ = _knn.faiss_knn(X, 5, trace=seen)
    np.testing.assert_array_equal(idx, ref_knn(X, 5))
    assert seen[0][0] == "faiss" and seen[0][1] > 0
    assert len(seen) > 1 and {step for step, _ in seen[1:]} == {"float64"}
    seen.clear()
    _knn.faiss_knn(np.random.default_rng(0).normal(size=(500, 64)), 5, trace=seen)
    assert seen == [("faiss", 0)]  # continuous data: every row certified


def test_ties_kept_through_the_faiss_path() -> None:
    g = np.stack(np.meshgrid(np.arange(20), np.arange(20)), -1).reshape(-1, 2).astype(float)
    G = knn_graph(g, 5, degree="directed", ties="keep", knn="faiss")
    assert G.nnz == 2972
    X = _near_tie_clouds()["offset grid"]
    np.testing.assert_array_equal(
        knn_graph(X, 6, degree="directed", ties="keep", knn="faiss").toarray(),
        ref_nng(X, 6, sqrt=False),
    )


def test_coefficients_are_the_same_through_faiss(monkeypatch: pytest.MonkeyPatch) -> None:
    from layerflow.ricci import INPUT_CACHE, ricci_coefficient

    rng = np.random.default_rng(1)
    states = [rng.normal(size=(250, 40))]
    for _ in range(4):
        states.append(np.maximum(states[-1] @ rng.normal(size=(40, 40)) / 6, 0))
    ref = ricci_coefficient(states, k=8, protocol="baptista", knn="blas")
    INPUT_CACHE.clear()  # the input state's measures would come from the cache
    calls: list[int] = []
    real = _knn.faiss_knn

    def spy(arr, K, trace=None):  # type: ignore[no-untyped-def]
        calls.append(int(arr.shape[0]))
        return real(arr, K, trace)

    # the public function takes no trace: a spy shows faiss searched every state
    monkeypatch.setattr(_knn, "faiss_knn", spy)
    res = ricci_coefficient(states, k=8, protocol="baptista", knn="faiss")
    assert calls == [250] * 5
    np.testing.assert_array_equal(res.scalar_curvature, ref.scalar_curvature)
    np.testing.assert_array_equal(res.geodesic_mass, ref.geodesic_mass)


def test_automatic_choice() -> None:
    # the measured regions: symmetric keys for wide states, faiss for large narrower ones
    assert _knn.choose_knn("auto", 20_000, 768, 30) == "symmetric"
    assert _knn.choose_knn("auto", 20_000, 50, 30) == "faiss"
    assert _knn.choose_knn("auto", 2_000, 50, 30) == "blas"
    assert _knn.choose_knn("auto", 100_000, _knn.FAISS_MIN_D - 1, 30) == "blas"
    assert _knn.choose_knn("auto", 1_000, 3_000, 30) == "blas"  # small N: the row path
    assert _knn.choose_knn("blas", 20_000, 768, 30) == "blas"  # a named back-end is kept


def test_faiss_is_imported_only_when_used() -> None:
    code = (
        "import sys, numpy as np, layerflow, layerflow.ricci as r\n"
        "r.ricci_coefficient([np.random.default_rng(0).normal(size=(60, 3))] * 4, k=5)\n"
        "assert 'faiss' not in sys.modules, 'faiss imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
