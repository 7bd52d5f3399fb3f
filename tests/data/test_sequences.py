"""Generated token-sequence tasks: labels recomputed here, seeded, refused sizes named."""

from __future__ import annotations

import numpy as np
import pytest

from layerflow._errors import ConfigError
from layerflow.data import Dataset, list_datasets, load_dataset
from layerflow.data._sequences import SEQUENCE_TASKS


def _all(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    return (np.concatenate([ds.X_train, ds.X_test]), np.concatenate([ds.y_train, ds.y_test]))


def test_sorted_labels_recomputed_and_classes_share_their_multisets() -> None:
    ds = load_dataset("tokens:sorted", n=600, seed=3)
    assert ds.name == "tokens:sorted" and ds.n_features == 8 and ds.n_classes == 2
    X, y = _all(ds)
    assert X.dtype == np.float32 and np.array_equal(X, np.round(X))
    ids = X.astype(np.int64)
    assert ids.min() >= 0 and ids.max() <= 9
    is_sorted = np.all(ids[:, :-1] <= ids[:, 1:], axis=1)
    np.testing.assert_array_equal(y, is_sorted.astype(np.int64))
    assert int(y.sum()) == 300  # n // 2 of each class
    for row in ids[y == 0]:  # exactly one adjacent swap away from its sorted self
        diff = np.flatnonzero(row != np.sort(row))
        assert diff.size == 2 and diff[1] == diff[0] + 1
    assert ds.info["vocab"] == 10 and ds.info["length"] == 8 and ds.info["task"] == "sorted"


def test_the_swap_is_uniform_over_positions() -> None:
    X, y = _all(load_dataset("tokens:sorted", n=8000, length=4, vocab=50, seed=0))
    ids = X.astype(np.int64)[y == 0]
    where = np.array([np.flatnonzero(r != np.sort(r))[0] for r in ids])
    counts = np.bincount(where, minlength=3) / where.size
    np.testing.assert_allclose(counts, 1 / 3, atol=0.03)


def test_majority_labels_recomputed() -> None:
    ds = load_dataset("tokens:majority", n=500, seed=1)
    X, y = _all(ds)
    ids = X.astype(np.int64)
    assert set(np.unique(ids)) <= {0, 1} and ids.shape[1] == 9
    np.testing.assert_array_equal(y, (ids.sum(axis=1) >= 5).astype(np.int64))


def test_seeded_and_the_default_task_is_sorted() -> None:
    a = load_dataset("tokens", n=100, seed=5)
    b = load_dataset("tokens:sorted", n=100, seed=5)
    c = load_dataset("tokens:sorted", n=100, seed=6)
    assert a.name == "tokens:sorted"
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(b.X_train, c.X_train)


def test_listed_for_layerflow_datasets() -> None:
    (entry,) = [e for e in list_datasets() if e.name == "tokens"]
    assert entry.example == "tokens:sorted" and "majority" in entry.description
    assert set(SEQUENCE_TASKS) == {"sorted", "majority"}


@pytest.mark.parametrize(
    ("name", "kwargs", "needle"),
    [
        ("tokens:sorting", {}, "unknown task 'sorting'"),
        ("tokens:majority", {"vocab": 3}, "vocab must be 2, not 3"),
        ("tokens:majority", {"length": 8}, "odd length"),
        ("tokens:sorted", {"length": 1}, "length >= 2"),
        ("tokens:sorted", {"length": 0}, "length=0"),
        ("tokens:sorted", {"vocab": 2.5}, "vocab=2.5"),
        ("tokens:sorted", {"n": 3}, "n=3"),
    ],
)
def test_bad_requests_are_named(name: str, kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_dataset(name, **kwargs)
    assert needle in str(info.value)
