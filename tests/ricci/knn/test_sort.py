"""The (distance, index) sort of the exact kNN re-rank against NumPy's lexsort."""

from __future__ import annotations

import numpy as np
import pytest

from layerflow.ricci._knn.kernels import RADIX_MIN, sort_pairs, sort_work


def _sorted(v: np.ndarray, ix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ix, v))  # by value, then index
    return v[order], ix[order]


@pytest.mark.parametrize("n", [0, 1, 2, RADIX_MIN - 1, RADIX_MIN, 379, 2000])
def test_sort_pairs_equals_lexsort(n: int) -> None:
    rng = np.random.default_rng(n)
    for values in (
        rng.uniform(0.0, 3.0, size=n),  # distinct, one binade or two
        rng.integers(0, 5, size=n).astype(np.float64),  # many exact ties, +0.0
        np.exp(rng.normal(0, 30, size=n)),  # a wide range of exponents
        np.full(n, 2.5),  # all equal: the indices decide
    ):
        v = values.copy()
        if n > 3:
            v[[0, n // 2]] = np.inf  # overflowed squared distances sort last
            v[1] = np.nextafter(v[2], np.inf)  # one rounding unit apart
        ix = rng.permutation(4 * n + 1)[:n].astype(np.int64)
        tv, ti, counts = sort_work(n + 1)
        a, b = v.copy(), ix.copy()
        sort_pairs(a, b, n, tv, ti, counts)
        ref_v, ref_i = _sorted(v, ix)
        np.testing.assert_array_equal(a, ref_v)
        np.testing.assert_array_equal(b, ref_i)


def test_sort_pairs_leaves_the_tail_alone() -> None:
    # only the first n entries are sorted; the buffers may be longer than the list
    v = np.array([3.0, 1.0, 2.0, 0.5, 9.0])
    ix = np.array([0, 1, 2, 3, 4], dtype=np.int64)
    sort_pairs(v, ix, 3, *sort_work(5))
    np.testing.assert_array_equal(v, [1.0, 2.0, 3.0, 0.5, 9.0])
    np.testing.assert_array_equal(ix, [1, 2, 0, 3, 4])
