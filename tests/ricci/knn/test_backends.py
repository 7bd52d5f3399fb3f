from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from layerflow.ricci import knn_indices

from ..reference import ref_knn


@pytest.mark.parametrize(("n", "d", "k"), [(20, 2, 3), (150, 5, 10), (400, 30, 30), (64, 1, 7)])
def test_knn_indices_match_sklearn_and_brute_force(n: int, d: int, k: int) -> None:
    X = np.random.default_rng(n + d).normal(size=(n, d))
    idx, sqd = knn_indices(X, k)
    np.testing.assert_array_equal(idx, ref_knn(X, k))
    dist, nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X).kneighbors(X)
    np.testing.assert_array_equal(idx, nn[:, 1:])  # no ties in continuous data: self first
    np.testing.assert_allclose(np.sqrt(sqd), dist[:, 1:], rtol=1e-9, atol=1e-12)


def test_ties_and_duplicates_follow_the_documented_rule() -> None:
    # integer grid with many equal distances and exact duplicates
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(60, 2)).astype(float)
    for k in (1, 5, 20):
        idx, sqd = knn_indices(X, k)
        np.testing.assert_array_equal(idx, ref_knn(X, k))
        assert (idx != np.arange(60)[:, None]).all()  # self excluded by index
    # all points equal: neighbours are the lowest other indices
    idx, sqd = knn_indices(np.zeros((6, 2)), 3)
    np.testing.assert_array_equal(idx[0], [1, 2, 3])
    np.testing.assert_array_equal(idx[4], [0, 1, 2])
    np.testing.assert_array_equal(sqd, 0.0)


def test_near_ties_from_cancellation_are_resolved_exactly() -> None:
    # far-off-centre data where BLAS ‖x‖²+‖y‖²−2xy loses digits
    rng = np.random.default_rng(1)
    X = 1e6 + rng.normal(size=(120, 3)) * 1e-3
    idx, _ = knn_indices(X, 8)
    np.testing.assert_array_equal(idx, ref_knn(X, 8))


def test_one_dimensional_input_and_torch_like_input() -> None:
    x = np.arange(10.0)
    idx, _ = knn_indices(x, 2)
    np.testing.assert_array_equal(idx[0], [1, 2])
    np.testing.assert_array_equal(idx[5], [4, 6])


def _blas(X: np.ndarray, k: int, **kw: object) -> tuple[np.ndarray, np.ndarray, list]:
    """The BLAS back-end on X, with the (key dtype, rows sent to the exact second pass) of
    every row block it ran."""
    from layerflow.ricci import _knn

    seen: list[tuple[str, int]] = []
    idx, sqd = _knn.blas_knn(np.ascontiguousarray(X, dtype=np.float64), k, trace=seen, **kw)
    return idx, sqd, seen


def test_float32_and_float64_keys_give_identical_results() -> None:
    rng = np.random.default_rng(7)
    for X in (rng.normal(size=(300, 12)), 1e6 + rng.normal(size=(150, 3)) * 1e-3):
        idx32, d32, seen = _blas(X, 9)
        assert {dt for dt, _ in seen} == {"float32"}
        idx64, d64, seen = _blas(X, 9, single=False)
        assert {dt for dt, _ in seen} == {"float64"}
        np.testing.assert_array_equal(idx32, idx64)
        np.testing.assert_array_equal(d32, d64)
        np.testing.assert_array_equal(idx32, ref_knn(X, 9))
        pub_idx, pub_d = knn_indices(X, 9)  # the public function runs this back-end here
        np.testing.assert_array_equal(pub_idx, idx32)
        np.testing.assert_array_equal(pub_d, d32)


@pytest.mark.parametrize("scale", [1e-150, 1e150, 1e-30, 1e30])
def test_extreme_scales_are_exact(scale: float) -> None:
    # beyond 2^±400 the keys are float64 (float32 could over- or underflow); within, float32
    X = np.random.default_rng(3).normal(size=(120, 4)) * scale
    idx, sqd, seen = _blas(X, 6)
    expected = "float64" if scale in (1e-150, 1e150) else "float32"
    assert {dt for dt, _ in seen} == {expected}
    np.testing.assert_array_equal(idx, ref_knn(X, 6))
    np.testing.assert_array_equal(knn_indices(X, 6)[0], idx)
    ref_d = ((X[:, None, :] - X[idx]) ** 2).sum(axis=2)
    np.testing.assert_allclose(sqd, ref_d, rtol=1e-12)


def test_near_equidistant_points_take_the_exact_second_pass() -> None:
    # one-hot rows plus 1e-7 noise: all distances are ~sqrt(2) and differ by far less than the
    # float32 rounding bound, so rows go to the exact second pass and the remaining blocks
    # switch to float64 keys; the result is still the brute-force one
    n = 500
    X = np.eye(n) + 1e-7 * np.random.default_rng(5).normal(size=(n, n))
    idx, _, seen = _blas(X, 5, block=100)  # blocks of 100 rows
    np.testing.assert_array_equal(idx, ref_knn(X, 5))
    assert len(seen) == 5
    assert seen[0][0] == "float32" and seen[0][1] > 0
    assert seen[-1][0] == "float64"


def test_block_rows_rule_gives_the_same_neighbours() -> None:
    # wide points that do not fit in cache get blocks of >= 256 rows; the answer is unchanged
    from layerflow.ricci import _knn

    assert _knn.block_rows(20_000, 768) == 256 and _knn.block_rows(20_000, 50) == 13
    assert _knn.block_rows(300, 5) == 300
    assert _knn.block_rows(600, 20, entries=600 * 3) == 3
    assert _knn.block_rows(600, 20, entries=600 * 3, cache_bytes=0, min_rows=7) == 7
    X = np.random.default_rng(4).normal(size=(600, 20))
    small = knn_indices(X, 6, knn="blas")
    for block in (3, 7):
        big, _, seen = _blas(X, 6, block=block)
        assert len(seen) == -(-600 // block)
        np.testing.assert_array_equal(small[0], big)
    np.testing.assert_array_equal(small[0], ref_knn(X, 6))


@pytest.mark.parametrize("k", [47, 48, 150, 300, 399])
def test_large_k_sorts_by_radix_and_stays_exact(k: int) -> None:
    # from 48 candidates on, the re-rank sorts by radix (sort_kernels), and a row keeps all of
    # its few extra nominated candidates instead of selecting exactly k + margin
    rng = np.random.default_rng(k)
    for X in (rng.normal(size=(400, 6)), np.round(rng.normal(size=(400, 3)) * 2) / 2):
        idx, sqd = knn_indices(X, k)
        np.testing.assert_array_equal(idx, ref_knn(X, k))
        ref_d = np.zeros(idx.shape)
        for t in range(X.shape[1]):  # left-to-right sums, as the exact ranks are defined
            ref_d += (X[:, None, t] - X[idx, t]) ** 2
        np.testing.assert_array_equal(sqd, ref_d)


def test_back_ends_are_chosen_by_argument() -> None:
    from layerflow._errors import ConfigError
    from layerflow.ricci import KNN_METHODS, _knn

    assert set(KNN_METHODS) == {"auto", "blas", "symmetric", "faiss"}
    # "auto": half the Gram matrix for wide, large states; the row keys for small or narrow ones
    assert _knn.choose_knn("auto", 20_000, 768, 30) == "symmetric"
    assert _knn.choose_knn("auto", 1_000, 3_000, 30) == "blas"
    assert _knn.choose_knn("auto", 2_000, 50, 30) == "blas"
    assert _knn.choose_knn("symmetric", 50, 3, 5) == "symmetric"
    X = np.random.default_rng(8).normal(size=(80, 4))
    for method in ("auto", "blas", "symmetric"):
        np.testing.assert_array_equal(knn_indices(X, 5, knn=method)[0], ref_knn(X, 5))
    with pytest.raises(ConfigError, match=r"knn='brute': expected one of \['auto'"):
        knn_indices(X, 5, knn="brute")


def test_faiss_back_end_needs_faiss(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from layerflow._errors import ConfigError
    from layerflow.ricci import _graphs as graphs
    from layerflow.ricci import knn_graph, ricci_coefficient

    monkeypatch.setitem(sys.modules, "faiss", None)  # as if not installed
    assert not graphs.faiss_installed()
    X = np.random.default_rng(8).normal(size=(40, 3))
    with pytest.raises(ConfigError, match="knn='faiss' needs faiss-cpu"):
        knn_graph(X, 5, knn="faiss")
    with pytest.raises(ConfigError, match="knn='faiss' needs faiss-cpu"):
        ricci_coefficient([X, X, X, X], 5, knn="faiss")
