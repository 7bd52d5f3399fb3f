"""The faiss candidate path of the exact kNN: the same answer as a brute-force search, on data
built so that float32 distances cannot tell the neighbours apart."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ricci_reference import ref_knn, ref_nng

from layerflow.ricci import knn, knn_graph, knn_indices

faiss = pytest.importorskip("faiss")


def _force_faiss(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Route every exact_knn call through faiss; returns the list of calls seen."""
    from layerflow.ricci import knn_faiss

    monkeypatch.setattr(knn, "FAISS_MIN_D", 1)
    monkeypatch.setattr(knn, "FAISS_MIN_N", 1)
    monkeypatch.setattr(knn, "SYMMETRIC_MIN_D", 10**9)
    calls: list[int] = []
    real = knn_faiss.faiss_knn

    def spy(arr, K):  # type: ignore[no-untyped-def]
        calls.append(int(arr.shape[0]))
        return real(arr, K)

    monkeypatch.setattr(knn_faiss, "faiss_knn", spy)
    return calls


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
def test_faiss_path_equals_brute_force(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    X = _near_tie_clouds()[name]
    calls = _force_faiss(monkeypatch)
    for k in (1, 7, 30):
        idx, sqd = knn_indices(X, k)
        np.testing.assert_array_equal(idx, ref_knn(X, k))
        monkeypatch.setattr(knn, "_USE_FAISS", False)
        idx_b, sqd_b = knn_indices(X, k)
        monkeypatch.setattr(knn, "_USE_FAISS", True)
        np.testing.assert_array_equal(idx, idx_b)
        np.testing.assert_array_equal(sqd, sqd_b)
    assert calls == [len(X)] * 3


def test_uncertified_rows_are_redone_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    # near-equidistant rows cannot be certified from float32 distances: the BLAS path with
    # float64 keys redoes them, and only them
    from layerflow.ricci import knn_faiss

    X = _near_tie_clouds()["equidistant"]
    redone: list[tuple[int, bool]] = []
    real = knn_faiss.blas_knn

    def spy(arr, K, rows=None, points=None, single=None):  # type: ignore[no-untyped-def]
        redone.append((0 if rows is None else len(rows), bool(single)))
        return real(arr, K, rows=rows, points=points, single=single)

    monkeypatch.setattr(knn_faiss, "blas_knn", spy)
    idx, _ = knn_faiss.faiss_knn(X, 5)
    np.testing.assert_array_equal(idx, ref_knn(X, 5))
    assert len(redone) == 1 and redone[0][0] > 0 and redone[0][1] is False
    redone.clear()
    knn_faiss.faiss_knn(np.random.default_rng(0).normal(size=(500, 64)), 5)
    assert redone == []  # continuous data: every row certified


def test_ties_kept_through_the_faiss_path(monkeypatch: pytest.MonkeyPatch) -> None:
    _force_faiss(monkeypatch)
    g = np.stack(np.meshgrid(np.arange(20), np.arange(20)), -1).reshape(-1, 2).astype(float)
    G = knn_graph(g, 5, degree="directed", ties="keep")
    assert G.nnz == 2972
    X = _near_tie_clouds()["offset grid"]
    np.testing.assert_array_equal(
        knn_graph(X, 6, degree="directed", ties="keep").toarray(), ref_nng(X, 6, sqrt=False)
    )


def test_coefficients_are_the_same_through_faiss(monkeypatch: pytest.MonkeyPatch) -> None:
    from layerflow.ricci import measures, ricci_coefficient

    rng = np.random.default_rng(1)
    states = [rng.normal(size=(250, 40))]
    for _ in range(4):
        states.append(np.maximum(states[-1] @ rng.normal(size=(40, 40)) / 6, 0))
    ref = ricci_coefficient(states, k=8, protocol="baptista")
    measures.clear_input_memo()  # the input state's measures would come from the memo
    calls = _force_faiss(monkeypatch)
    res = ricci_coefficient(states, k=8, protocol="baptista")
    assert calls == [250] * 5
    np.testing.assert_array_equal(res.scalar_curvature, ref.scalar_curvature)
    np.testing.assert_array_equal(res.geodesic_mass, ref.geodesic_mass)


def test_automatic_choice_and_absence(monkeypatch: pytest.MonkeyPatch) -> None:
    # the measured regions: symmetric keys for wide states, faiss for large narrower ones
    assert knn.use_symmetric(20_000, 768, 30) and knn.use_faiss(20_000, 50)
    assert not knn.use_symmetric(20_000, 50, 30) and not knn.use_faiss(2_000, 50)
    assert not knn.use_faiss(100_000, knn.FAISS_MIN_D - 1)
    assert not knn.use_symmetric(1_000, 3_000, 30)  # small N: the row path
    monkeypatch.setattr(knn, "_FAISS", False)  # as if faiss were not installed
    assert not knn.use_faiss(20_000, 50)


def test_faiss_is_imported_only_when_used() -> None:
    code = (
        "import sys, numpy as np, layerflow, layerflow.ricci as r\n"
        "r.ricci_coefficient([np.random.default_rng(0).normal(size=(60, 3))] * 4, k=5)\n"
        "assert 'faiss' not in sys.modules, 'faiss imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
