"""Real data offline: scikit-learn digits, procedural MNIST-1D, MNIST/Fashion-MNIST IDX folders."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits as sk_digits
from sklearn.linear_model import LogisticRegression

from layerflow._errors import ConfigError, DataError, FetchOfflineError
from layerflow.data import load_dataset
from layerflow.data._real import mnist1d_templates


def sorted_rows(X: np.ndarray) -> np.ndarray:
    return X[np.lexsort(X.T[::-1])]


# ------------------------------------------------------------------------------ digits
def test_digits_all_classes() -> None:
    ds = load_dataset("digits", seed=0)
    assert ds.X_train.shape[1] == 64 and ds.X_train.shape[0] + ds.X_test.shape[0] == 1797
    assert ds.n_classes == 10
    assert ds.X_train.min() >= 0.0 and ds.X_train.max() <= 1.0 and ds.X_train.max() == 1.0


def test_digits_pair_is_relabelled_and_matches_sklearn() -> None:
    bunch = sk_digits()
    ds = load_dataset("digits:6,8", seed=1)
    assert ds.name == "digits:6,8" and ds.n_classes == 2
    X = np.concatenate([ds.X_train, ds.X_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test])
    for new, old in enumerate((6, 8)):
        expected = bunch.data[bunch.target == old] / 16.0
        assert (y == new).sum() == expected.shape[0]
        np.testing.assert_allclose(sorted_rows(X[y == new]), sorted_rows(expected), atol=1e-7)


def test_digits_order_of_pair_sets_labels() -> None:
    a = load_dataset("digits:6,8", seed=1)
    b = load_dataset("digits:8,6", seed=1)
    assert int((a.y_train == 0).sum() + (a.y_test == 0).sum()) == int(
        (b.y_train == 1).sum() + (b.y_test == 1).sum()
    )


def test_digits_reproducible_and_subsampled() -> None:
    a = load_dataset("digits:3,5", n=100, seed=4)
    b = load_dataset("digits:3,5", n=100, seed=4)
    c = load_dataset("digits:3,5", n=100, seed=5)
    assert a.X_train.shape[0] + a.X_test.shape[0] == 100
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("digits:6,10", "class 10 is not present"),
        ("digits:6,6", "repeat a class"),
        ("digits:6", "at least two classes"),
        ("digits:a,b", "'a,b'"),
    ],
)
def test_digits_bad_classes(name: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_dataset(name)


def test_digits_n_too_large() -> None:
    available = int(np.isin(sk_digits().target, [0, 1]).sum())
    with pytest.raises(ConfigError, match=f"n=1000 but only {available} samples"):
        load_dataset("digits:0,1", n=1000)


# ---------------------------------------------------------------------------- MNIST-1D
def test_mnist1d_shapes_balance_and_seed() -> None:
    a = load_dataset("mnist1d", n=500, seed=0)
    assert a.X_train.shape == (400, 40) and a.X_test.shape == (100, 40)
    assert np.bincount(a.y_train).tolist() == [40] * 10
    b = load_dataset("mnist1d", n=500, seed=0)
    c = load_dataset("mnist1d", n=500, seed=1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)


def test_mnist1d_pair() -> None:
    ds = load_dataset("mnist1d:3,5", n=500, seed=0)
    assert ds.name == "mnist1d:3,5"
    assert ds.X_train.shape[0] + ds.X_test.shape[0] == 100
    assert set(np.unique(ds.y_train)) == {0, 1}


def test_mnist1d_templates() -> None:
    t = mnist1d_templates()
    assert t.shape == (10, 12)
    np.testing.assert_allclose(t[:, 0], 0.0)
    # whitened before the shift, then divided by 6: each row's std is 1/6
    np.testing.assert_allclose(t.std(axis=1), 1.0 / 6.0)
    # template 0 by hand: the first and the largest value of [5,6,6.5,6.75,7,7,7,7,6.75,6.5,6,5]
    d0 = np.array([5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5])
    np.testing.assert_allclose(t[0].max(), (7 - 5) / d0.std() / 6.0)


def test_mnist1d_classes_carry_signal() -> None:
    """Chance is 10 %; a linear model beats it by far (the paper reports ~32 % for logistic
    regression on 4000 samples) and stays far from 100 % (the set is meant to be hard)."""
    ds = load_dataset("mnist1d", n=2000, seed=0)
    acc = LogisticRegression(max_iter=2000).fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test)
    assert 0.2 < acc < 0.6


def test_mnist1d_noise_free_samples_are_zero_outside_the_pattern() -> None:
    quiet = load_dataset("mnist1d", n=100, noise=0.0, seed=0)
    noisy = load_dataset("mnist1d", n=100, noise=1.0, seed=0)
    # with no noise, the padding is exactly linear (the shear of a zero signal) → second
    # differences vanish on a good part of every sample; with noise they do not
    d2q = np.abs(np.diff(quiet.X_train.astype(np.float64), 2, axis=1))
    d2n = np.abs(np.diff(noisy.X_train.astype(np.float64), 2, axis=1))
    assert np.median((d2q < 1e-5).mean(axis=1)) > 0.2
    assert np.median((d2n < 1e-5).mean(axis=1)) < 0.05


@pytest.mark.parametrize(("kwargs", "pattern"), [({"n": 5}, "n=5"), ({"noise": -1}, "noise=-1")])
def test_mnist1d_bad_arguments(kwargs: dict[str, int], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_dataset("mnist1d", **kwargs)


# ----------------------------------------------------------------------- IDX folders
def idx(code: int, arr: np.ndarray) -> bytes:
    char = {0x08: "B", 0x0C: "i", 0x0B: "h"}[code]
    head = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + b"".join(struct.pack(">" + char, int(v)) for v in arr.reshape(-1))


def make_folder(folder: Path, rng: np.random.Generator, gz: bool, n_train: int = 40,
                n_test: int = 20, dotted: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n, stem in (("train", n_train, "train"), ("test", n_test, "t10k")):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        for kind, code, arr, nd in (("images", 0x08, images, 3), ("labels", 0x08, labels, 1)):
            name = f"{stem}-{kind}-idx{nd}-ubyte"
            if dotted:
                name = name.replace("-idx", ".idx")
            blob = idx(code, arr)
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(blob))
            else:
                (folder / name).write_bytes(blob)
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("base", ["mnist", "fmnist"])
def test_idx_folder_pair(tmp_path: Path, rng: np.random.Generator, gz: bool, base: str) -> None:
    files = make_folder(tmp_path / "d", rng, gz)
    ds = load_dataset(f"{base}:7,1@{tmp_path / 'd'}")
    assert ds.name == f"{base}:7,1@{tmp_path / 'd'}"
    for split, X, y in (("train", ds.X_train, ds.y_train), ("test", ds.X_test, ds.y_test)):
        images, labels = files[split]
        keep = np.isin(labels, [7, 1])
        np.testing.assert_allclose(X, images[keep].reshape(-1, 784) / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y, np.where(labels[keep] == 7, 0, 1))
    assert ds.X_train.shape[1] == 784


def test_idx_folder_all_classes_dotted_names_and_subsample(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    files = make_folder(tmp_path, rng, gz=False, dotted=True)
    ds = load_dataset(f"mnist@{tmp_path}", n=15, seed=0)
    assert ds.n_classes == 10 and ds.X_train.shape == (15, 784)
    assert ds.X_test.shape == (20, 784)
    np.testing.assert_array_equal(ds.y_test, files["test"][1])


def test_idx_folder_missing_file_lists_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset(f"fmnist:5,9@{tmp_path}")
    msg = str(info.value)
    for cand in ("'train-images-idx3-ubyte'", "'train-images-idx3-ubyte.gz'",
                 "'train-images.idx3-ubyte'", "'train-images.idx3-ubyte.gz'", str(tmp_path)):
        assert cand in msg


def test_idx_folder_errors(tmp_path: Path, rng: np.random.Generator) -> None:
    from layerflow.data._real import split_classes_and_dir

    with pytest.raises(ConfigError, match="names no folder"):
        split_classes_and_dir("7,1", "mnist")
    with pytest.raises(FetchOfflineError, match="download=False"):  # no folder: the cache, offline
        load_dataset("mnist:7,1", root=str(tmp_path / "cache"), download=False)
    with pytest.raises(ConfigError, match="empty folder"):
        load_dataset("mnist:7,1@")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(f"mnist@{tmp_path / 'missing'}")
    make_folder(tmp_path, rng, gz=False)
    with pytest.raises(ConfigError, match="class 12 is not present"):
        load_dataset(f"mnist:7,12@{tmp_path}")


def test_idx_folder_class_absent_from_files(tmp_path: Path, rng: np.random.Generator) -> None:
    make_folder(tmp_path, rng, gz=False, n_train=5)  # labels 0..4 only
    with pytest.raises(ConfigError, match="class 7 is not present in the training labels"):
        load_dataset(f"mnist:7,1@{tmp_path}")


def test_idx_folder_inconsistent_files(tmp_path: Path, rng: np.random.Generator) -> None:
    make_folder(tmp_path, rng, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(0x08, np.zeros(39, dtype=np.uint8)))
    with pytest.raises(DataError, match=r"40 images but .* 39 labels"):
        load_dataset(f"mnist@{tmp_path}")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(0x08, np.full(40, 11, dtype=np.uint8)))
    with pytest.raises(DataError, match=r"labels in 11…11; expected 0…9"):
        load_dataset(f"mnist@{tmp_path}")
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx(0x08, np.zeros((40, 2), dtype=np.uint8)))
    with pytest.raises(DataError, match=r"shape \(40, 2\); expected integer labels"):
        load_dataset(f"mnist@{tmp_path}")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx(0x0B, np.zeros((40, 784), dtype=np.int16)))
    with pytest.raises(DataError, match="expected uint8 images"):
        load_dataset(f"mnist@{tmp_path}")
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03garbage")
    with pytest.raises(DataError, match="truncated header"):
        load_dataset(f"mnist@{tmp_path}")
