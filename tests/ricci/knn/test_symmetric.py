"""Candidates from half the Gram matrix: the same exact neighbours as a brute-force search."""

from __future__ import annotations

import numpy as np
import pytest

from layerflow.ricci import _knn, knn_graph, knn_indices
from layerflow.ricci._knn.candidates import symmetric_candidates

from ..reference import ref_knn, ref_nng


def test_candidates_are_the_smallest_keys_and_the_threshold_the_next() -> None:
    # brute force on the keys themselves: row i's m candidates are its m smallest keys
    # (self excluded) and the threshold the (m+1)-th, whatever the block size
    rng = np.random.default_rng(0)
    X = rng.normal(size=(97, 5))
    sqs = (X * X).sum(axis=1)
    keys = sqs[None, :] - 2.0 * (X @ X.T)
    np.fill_diagonal(keys, np.inf)
    for block in (1, 10, 97):
        cand, thr = symmetric_candidates(X, sqs, 6, block)
        for i in range(97):
            order = np.sort(keys[i])
            np.testing.assert_allclose(np.sort(keys[i, cand[i]]), order[:6], rtol=0, atol=1e-12)
            np.testing.assert_allclose(thr[i], order[6], rtol=0, atol=1e-12)
            assert i not in cand[i] and len(set(cand[i].tolist())) == 6


@pytest.mark.parametrize("name", ["gauss", "offset grid", "duplicates", "equidistant"])
def test_symmetric_path_equals_brute_force(name: str) -> None:
    rng = np.random.default_rng(5)
    X = {
        "gauss": rng.normal(size=(500, 40)),
        "offset grid": rng.integers(0, 3, size=(400, 12)).astype(float) + 2.0**30,
        "duplicates": np.repeat(rng.normal(size=(100, 8)), 4, axis=0),
        "equidistant": np.eye(300) + 1e-7 * rng.normal(size=(300, 300)),
    }[name]
    row = [knn_indices(X, k, knn="blas") for k in (1, 9, 30)]
    arr = np.ascontiguousarray(X, dtype=np.float64)
    for (idx_r, sqd_r), k in zip(row, (1, 9, 30), strict=True):
        seen: list[tuple[str, int]] = []
        idx, sqd = _knn.exact_knn(arr, k, knn="symmetric", trace=seen)
        assert seen[0][0] == "symmetric"  # the back-end ran (rows it left: float64 blocks)
        assert {step for step, _ in seen[1:]} <= {"float64"}
        assert len(seen) > 1 or seen[0][1] == 0
        np.testing.assert_array_equal(idx, ref_knn(X, k))
        np.testing.assert_array_equal(idx, idx_r)
        np.testing.assert_array_equal(sqd, sqd_r)
        pub_idx, pub_sqd = knn_indices(X, k, knn="symmetric")  # the public face, same answer
        np.testing.assert_array_equal(pub_idx, idx)
        np.testing.assert_array_equal(pub_sqd, sqd)


def test_kept_ties_through_the_symmetric_path() -> None:
    g = np.stack(np.meshgrid(np.arange(20), np.arange(20)), -1).reshape(-1, 2).astype(float)
    assert knn_graph(g, 5, degree="directed", ties="keep", knn="symmetric").nnz == 2972
    X = np.random.default_rng(2).integers(0, 4, size=(300, 3)).astype(float)
    np.testing.assert_array_equal(
        knn_graph(X, 7, degree="directed", ties="keep", knn="symmetric").toarray(),
        ref_nng(X, 7, sqrt=False),
    )


def test_coefficients_are_the_same_through_every_back_end() -> None:
    # the nested route (Forman, exact geodesics) reads births from the BLAS keys on "blas" and a
    # sorted exact table on the others; the built-graph route (augmented) a sorted table always
    from layerflow.ricci import INPUT_CACHE, ricci_k_scans

    rng = np.random.default_rng(1)
    states = [rng.integers(0, 4, size=(180, 6)).astype(float)]
    for _ in range(4):
        states.append(np.maximum(states[-1] @ rng.normal(size=(6, 6)), 0).round(1))
    for kind in ("forman", "augmented"):
        INPUT_CACHE.clear()
        ref = ricci_k_scans(states, (3, 8), kind, local=False, knn="blas")
        INPUT_CACHE.clear()
        res = ricci_k_scans(states, (3, 8), kind, local=False, knn="symmetric")
        for proto in ref:
            for k in (3, 8):
                a, b = ref[proto].global_[k], res[proto].global_[k]
                np.testing.assert_array_equal(a.scalar_curvature, b.scalar_curvature)
                np.testing.assert_array_equal(a.geodesic_mass, b.geodesic_mass)
