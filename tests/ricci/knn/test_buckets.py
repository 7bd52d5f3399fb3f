"""The kNN relation at several k as births (knn_buckets) against brute force: ``ref_knn``
(exact ranks, ties to the smaller index) and cccd's rule ``ref_nng`` on squared distances."""

from __future__ import annotations

import numpy as np
import pytest

from layerflow.ricci._knn.buckets import bucket_table

from ..reference import random_relu_states, ref_knn, ref_nng


def _arcs(table, rule: str, c: int, n: int) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    b = table.births[rule]
    rows, cols = np.nonzero(b <= c)
    out = {(int(i), int(table.idx[i, p])) for i, p in zip(rows, cols, strict=True)}
    x_ptr, x_idx, x_birth = table.extras[rule]
    for i in range(n):
        if x_birth[i] <= c:
            out |= {(i, int(j)) for j in x_idx[x_ptr[i] : x_ptr[i + 1]]}
    return out


def _ref_arcs(X: np.ndarray, k: int, rule: str) -> set[tuple[int, int]]:
    if rule == "keep":
        r, c = np.nonzero(ref_nng(X, k, sqrt=False))
        return {(int(i), int(j)) for i, j in zip(r, c, strict=True)}
    nb = ref_knn(X, k)
    return {(i, int(j)) for i in range(X.shape[0]) for j in nb[i]}


def _ref_tied(X: np.ndarray, k: int) -> bool:
    D = np.zeros((X.shape[0],) * 2)
    for t in range(X.shape[1]):
        D += (X[:, None, t] - X[None, :, t]) ** 2
    np.fill_diagonal(D, np.inf)
    Ds = np.sort(D, axis=1)
    return k < X.shape[0] - 1 and bool((Ds[:, k - 1] == Ds[:, k]).any())


def _circle() -> np.ndarray:
    pts = [(x, y) for x in range(-8, 9) for y in range(-8, 9) if x * x + y * y == 65]
    far = np.random.default_rng(0).normal(size=(30, 2)) * 3 + 40
    return np.vstack([[(0.0, 0.0)], np.array(pts, dtype=float), far])


CASES = {
    "relu": (random_relu_states(300, seed=1, depth=3)[3], (5, 12, 60)),
    "relu-input": (random_relu_states(200, seed=2, depth=1)[0], (1, 2, 20, 150)),
    "quantised": (np.round(random_relu_states(250, seed=3, depth=2)[2] / 0.5) * 0.5,
                  (3, 10, 40)),
    "duplicates": (np.repeat(np.random.default_rng(4).normal(size=(40, 3)), 4, axis=0),
                   (2, 3, 5, 9)),
    "grid": (np.stack(np.meshgrid(np.arange(15.0), np.arange(14.0)), -1).reshape(-1, 2),
             (1, 2, 4, 8, 20)),
    "circle": (_circle(), (2, 3)),
    "all-but-one": (np.random.default_rng(5).normal(size=(60, 4)), (10, 59)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_births_give_the_brute_force_relation(name: str) -> None:
    X, ks = CASES[name]
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    table = bucket_table(X, ks)
    for c, k in enumerate(ks):
        for rule in ("by_index", "keep"):
            assert _arcs(table, rule, c, n) == _ref_arcs(X, k, rule), (rule, k)
        assert bool(table.tied[c]) == _ref_tied(X, k), k
    assert (table.births["by_index"] >= table.births["keep"]).all()  # ties only join earlier


def test_uncertified_rows_are_ranked_exactly() -> None:
    # near-equidistant points (one-hot rows plus 1e-7 noise): float32 keys cannot separate them,
    # rows fall back to the exact ranking and later blocks switch to float64 keys
    n = 300
    X = np.eye(n) + 1e-7 * np.random.default_rng(5).normal(size=(n, n))
    ks = (3, 7)
    seen: list[tuple[str, int]] = []
    table = bucket_table(X, ks, block=100, trace=seen)
    kinds = [dt for dt, _ in seen]
    assert len(kinds) == 3 and kinds[0] == "float32" and kinds[-1] == "float64"
    for c, k in enumerate(ks):
        for rule in ("by_index", "keep"):
            assert _arcs(table, rule, c, n) == _ref_arcs(X, k, rule)
