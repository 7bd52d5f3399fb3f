"""Synthetic sets: documented shapes, reproducibility, the exact geometry of the clean shapes,
standardisation, and that each is a sensible (learnable, where claimed non-linear) task."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from layerflow._errors import ConfigError
from layerflow.data import load_dataset
from layerflow.data._synthetic import GENERATORS, load_synthetic

NAMES = list(GENERATORS)
DIMS = {"moons": 2, "circles": 2, "spirals": 2, "swiss_roll": 3, "nested_spheres": 3,
        "entangled_spirals": 3, "blobs_in_cube": 3, "sinusoidal_sheets": 3}


def test_all_sets_registered() -> None:
    assert set(NAMES) == set(DIMS)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_labels_and_dtypes(name: str) -> None:
    ds = load_dataset(name, n=201, noise=0.05, seed=3, test_fraction=0.25)
    d = DIMS[name]
    # classes 100 / 101; per class round(0.25 n_c) go to test: 25 + 25
    assert ds.X_train.shape == (151, d) and ds.X_test.shape == (50, d)
    assert ds.y_train.shape == (151,) and ds.y_test.shape == (50,)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert set(np.unique(ds.y_train)) == {0, 1} and set(np.unique(ds.y_test)) == {0, 1}
    assert np.bincount(ds.y_train).tolist() == [75, 76]
    assert np.bincount(ds.y_test).tolist() == [25, 25]
    assert ds.n_classes == 2 and ds.n_features == d
    assert ds.name == name


@pytest.mark.parametrize("name", NAMES)
def test_reproducible_by_seed(name: str) -> None:
    a = load_dataset(name, n=100, seed=7)
    b = load_dataset(name, n=100, seed=7)
    c = load_dataset(name, n=100, seed=8)
    for split in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, split), getattr(b, split))
    assert not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize("name", NAMES)
def test_isotropic_standardisation_on_train(name: str) -> None:
    raw = load_synthetic(name, n=400, seed=1, standardise=False)
    std = load_synthetic(name, n=400, seed=1)
    Xr = raw.X_train.astype(np.float64)
    mu = Xr.mean(axis=0)
    s = np.sqrt(np.mean((Xr - mu) ** 2))
    np.testing.assert_allclose(std.X_train, (Xr - mu) / s, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std.X_test, (raw.X_test - mu) / s, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std.X_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.mean(std.X_train.astype(np.float64) ** 2), 1.0, rtol=1e-5)


def clean(name: str, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    ds = load_synthetic(name, n=n, noise=0.0, seed=2, standardise=False)
    X = np.concatenate([ds.X_train, ds.X_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test])
    return X, y


def test_moons_geometry() -> None:
    X, y = clean("moons")
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0, atol=1e-6)
    assert (X[y == 0, 1] >= -1e-6).all()
    np.testing.assert_allclose(np.linalg.norm(X[y == 1] - [1.0, 0.5], axis=1), 1.0, atol=1e-6)
    assert (X[y == 1, 1] <= 0.5 + 1e-6).all()


def test_circles_and_spheres_radii() -> None:
    X, y = clean("circles")
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1], axis=1), 0.5, atol=1e-6)
    X, y = clean("nested_spheres")
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 0.5, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1], axis=1), 1.0, atol=1e-6)
    # directions cover the sphere: the mean direction is near 0 for 200 uniform points
    assert np.linalg.norm(X[y == 1].mean(axis=0)) < 0.2


def test_spirals_geometry() -> None:
    X, y = clean("spirals")
    Z = X.copy()
    Z[y == 1] *= -1  # undo the rotation by π
    r = np.linalg.norm(Z, axis=1)
    theta = r * 3.5 * np.pi
    assert theta.min() >= np.pi / 2 - 1e-5 and theta.max() <= 3.5 * np.pi + 1e-5
    np.testing.assert_allclose(Z, r[:, None] * np.c_[np.cos(theta), np.sin(theta)], atol=1e-5)


def test_swiss_roll_geometry() -> None:
    X, y = clean("swiss_roll")
    t = np.linalg.norm(X[:, [0, 2]], axis=1) * 4.5 * np.pi
    np.testing.assert_allclose(X[:, 0] * 4.5 * np.pi, t * np.cos(t), atol=1e-4)
    np.testing.assert_allclose(X[:, 2] * 4.5 * np.pi, t * np.sin(t), atol=1e-4)
    assert (t[y == 0] <= 3 * np.pi + 1e-5).all() and (t[y == 1] >= 3 * np.pi - 1e-5).all()


def test_entangled_spirals_geometry() -> None:
    X, y = clean("entangled_spirals")
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), 1.0, atol=1e-6)
    theta = 4 * np.pi * (X[:, 2] + 1) / 2 + np.where(y == 1, np.pi, 0.0)
    np.testing.assert_allclose(X[:, :2], np.c_[np.cos(theta), np.sin(theta)], atol=1e-5)


def test_blobs_in_cube_geometry() -> None:
    X, y = clean("blobs_in_cube", n=600)
    centres = np.array([[-0.5] * 3, [0.5] * 3])
    dist = np.linalg.norm(X[:, None, :] - centres[None], axis=2).min(axis=1)
    assert (np.abs(X[y == 0]) <= 1 + 1e-6).all()
    assert (dist[y == 0] > 0.45 - 1e-6).all()
    assert (dist[y == 1] < 0.3 + 1e-6).all()
    # both blobs are populated evenly
    near_first = np.linalg.norm(X[y == 1] - centres[0], axis=1) < 0.3 + 1e-6
    assert abs(int(near_first.sum()) - int((~near_first).sum())) <= 1


def test_sinusoidal_sheets_geometry() -> None:
    X, y = clean("sinusoidal_sheets")
    offset = X[:, 2] - 0.3 * np.sin(np.pi * X[:, 0])
    sheet = np.rint(offset / 0.5 + 1.5)
    np.testing.assert_allclose(offset, 0.5 * (sheet - 1.5), atol=1e-5)
    assert set(sheet.astype(int).tolist()) == {0, 1, 2, 3}
    np.testing.assert_array_equal(sheet.astype(int) % 2, y)


@pytest.mark.parametrize("name", NAMES)
def test_learnable_by_nearest_neighbours(name: str) -> None:
    ds = load_dataset(name, n=800, noise=0.02, seed=0)
    acc = KNeighborsClassifier(5).fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test)
    assert acc > 0.95, f"{name}: kNN accuracy {acc}"


@pytest.mark.parametrize("name", ["circles", "spirals", "nested_spheres", "entangled_spirals",
                                  "blobs_in_cube", "sinusoidal_sheets"])
def test_not_linearly_separable(name: str) -> None:
    ds = load_dataset(name, n=800, noise=0.02, seed=0)
    acc = LogisticRegression().fit(ds.X_train, ds.y_train).score(ds.X_test, ds.y_test)
    assert acc < 0.85, f"{name}: a linear classifier reaches {acc}"


def test_noise_is_gaussian_with_the_given_scale() -> None:
    ds = load_synthetic("nested_spheres", n=4000, noise=0.03, seed=0, standardise=False)
    X = np.concatenate([ds.X_train, ds.X_test]).astype(np.float64)
    y = np.concatenate([ds.y_train, ds.y_test])
    # radial error of a point on the sphere of radius r with isotropic noise σ ≪ r is ≈ N(0, σ²)
    err = np.linalg.norm(X, axis=1) - np.where(y == 0, 0.5, 1.0)
    np.testing.assert_allclose(err.std(), 0.03, rtol=0.08)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n": 0}, "n=0"),
        ({"n": -5}, "n=-5"),
        ({"n": 3}, "n=3"),
        ({"n": 10.5}, "n=10.5"),
        ({"n": True}, "n=True"),
        ({"noise": -0.1}, "noise=-0.1"),
        ({"noise": float("nan")}, "noise=nan"),
        ({"noise": "lots"}, "noise='lots'"),
        ({"test_fraction": 0.0}, "test_fraction=0.0"),
        ({"test_fraction": 1.0}, "test_fraction=1.0"),
        ({"test_fraction": -0.2}, "test_fraction=-0.2"),
        ({"test_fraction": "x"}, "test_fraction='x'"),
        ({"seed": -1}, "seed=-1"),
        ({"seed": 1.5}, "seed=1.5"),
    ],
)
def test_bad_arguments_name_the_value(kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_dataset("moons", **kwargs)  # type: ignore[arg-type]


def test_split_that_leaves_a_side_empty() -> None:
    with pytest.raises(ConfigError, match="both splits need samples"):
        load_dataset("moons", n=4, test_fraction=0.01)
