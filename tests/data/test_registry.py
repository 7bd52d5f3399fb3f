"""The registry (names -> loaders), ``layerflow datasets``, and the Dataset container."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from click.testing import CliRunner

import layerflow as lf
from layerflow._errors import ConfigError
from layerflow.cli import cli
from layerflow.data import Dataset, list_datasets, load_dataset, register, unregister

REQUIRED = ["moons", "circles", "spirals", "swiss_roll", "nested_spheres", "entangled_spirals",
            "blobs_in_cube", "sinusoidal_sheets", "digits", "mnist1d", "mnist", "fmnist", "npz",
            "csv", "tokens", "mnist5k", "cifar10", "cifar100"]


def test_every_required_name_is_registered() -> None:
    names = [e.name for e in list_datasets()]
    assert names[: len(REQUIRED)] == REQUIRED
    for e in list_datasets():
        assert e.kind and e.description and e.example


def test_public_names() -> None:
    assert lf.load_dataset is load_dataset and lf.list_datasets is list_datasets
    assert lf.Dataset is Dataset and lf.ConfigError is ConfigError


def test_unknown_name_lists_available() -> None:
    with pytest.raises(ConfigError, match=r"unknown dataset 'mnsit' \(did you mean 'mnist'[^)]*\); "
                       "available: moons, circles") as info:
        load_dataset("mnsit:7,1@/x")
    for name in REQUIRED:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("moons:3", "dataset 'moons' takes no"),
        ("moons@dir", "dataset 'moons' takes no"),
        ("moons!", "expected NAME, NAME:ARG or NAME@DIR"),
        ("", "is not valid"),
        ("9lives", "is not valid"),
        ("csv", "needs more: e.g. 'csv:PATH'"),
    ],
)
def test_malformed_names(name: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        load_dataset(name)


def test_name_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match="is a int; expected a str"):
        load_dataset(3)  # type: ignore[arg-type]


def test_unknown_keyword_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'digits' does not take noise=0.1; it takes n, seed"):
        load_dataset("digits", noise=0.1)
    with pytest.raises(ConfigError, match="'moons' does not take widht=3"):
        load_dataset("moons", widht=3)


@pytest.fixture
def custom() -> Iterator[str]:
    def loader(arg: str | None, *, n: int = 6, seed: int = 0) -> Dataset:
        X = np.full((n, 2), float(seed))
        y = np.arange(n) % 2
        return Dataset(X, y, X[:2], y[:2], name=f"mine:{arg}" if arg else "mine",
                       info={"arg": arg})

    register("mine", loader, "custom", "a test set", "mine:x", takes_arg=True)
    yield "mine"
    unregister("mine")


def test_register_and_load_custom(custom: str) -> None:
    ds = load_dataset("mine:hello", n=4, seed=3)
    assert ds.info["arg"] == "hello" and ds.X_train.shape == (4, 2)
    np.testing.assert_allclose(ds.X_train, 3.0)
    assert "mine" in [e.name for e in list_datasets()]
    with pytest.raises(ConfigError, match="'mine' is already registered"):
        register("mine", lambda arg: None, "x", "y")  # type: ignore[arg-type,return-value]


def test_register_rejects_bad_entries() -> None:
    with pytest.raises(ConfigError, match="name 'a b'"):
        register("a b", lambda arg: None, "x", "y")  # type: ignore[arg-type,return-value]
    with pytest.raises(ConfigError, match="not callable"):
        register("zzz", 3, "x", "y")  # type: ignore[arg-type]


def test_loader_with_var_kwargs_gets_everything() -> None:
    seen: dict[str, object] = {}

    def loader(arg: str | None, **kwargs: object) -> Dataset:
        seen.update(kwargs)
        X = np.zeros((4, 1))
        return Dataset(X, np.arange(4) % 2, X, np.arange(4) % 2, name="kw")

    register("kw", loader, "custom", "kwargs")
    try:
        load_dataset("kw", anything=1)
    finally:
        unregister("kw")
    assert seen == {"anything": 1}


def test_cli_datasets_lists_every_entry() -> None:
    result = CliRunner().invoke(cli, ["datasets"], terminal_width=250, env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for e in list_datasets():
        assert e.name in result.output
        assert e.example in result.output


# -------------------------------------------------------------------------- Dataset container
def make(X: object, y: object, Xt: object = None, yt: object = None) -> Dataset:
    return Dataset(X, y, X if Xt is None else Xt, y if yt is None else yt, name="t")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        ((np.zeros(3), np.zeros(3)), r"X_train has shape \(3,\)"),
        ((np.zeros((3, 2)), np.zeros(4)), r"y_train has shape \(4,\); expected \(3,\)"),
        ((np.array([[np.nan, 0.0]]), np.zeros(1)), "X_train holds NaN"),
        ((np.zeros((3, 2)), np.zeros(3), np.zeros((2, 3)), np.zeros(2)), "train width 2 != test width 3"),
        ((np.zeros((2, 1)), np.array([-1, 0])), "got negative ones"),
    ],
)
def test_dataset_validation(args: tuple[object, ...], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        make(*args)


def test_subset_train_is_stratified_and_seeded() -> None:
    ds = load_dataset("moons", n=400, seed=0)
    sub = ds.subset_train(0.1, seed=2)
    assert np.bincount(sub.y_train).tolist() == [15, 15]
    np.testing.assert_array_equal(sub.X_test, ds.X_test)
    again = ds.subset_train(0.1, seed=2)
    np.testing.assert_array_equal(sub.X_train, again.X_train)
    # every kept row is a training row
    rows = {tuple(r) for r in ds.X_train.tolist()}
    assert all(tuple(r) in rows for r in sub.X_train.tolist())
    assert ds.subset_train(1.0) is ds
    with pytest.raises(ConfigError, match="fraction=0"):
        ds.subset_train(0)


def test_validation_split_is_held_out_before_the_train_fraction() -> None:
    """One validation split for every fraction: the same samples, never trained on."""
    import numpy as np

    from layerflow._errors import ConfigError
    from layerflow.data import load_dataset

    ds = load_dataset("moons", n=400, seed=3).hold_out_validation(0.25, seed=1)
    n_val = len(ds.y_val)
    assert n_val == sum(round(0.25 * c) for c in np.bincount(
        np.concatenate([ds.y_train, ds.y_val])))
    rows = {tuple(r) for r in ds.X_train}
    assert not rows & {tuple(r) for r in ds.X_val}
    small = ds.subset_train(0.05, seed=0)
    np.testing.assert_array_equal(small.X_val, ds.X_val)
    assert len(small.y_train) < len(ds.y_train)
    with pytest.raises(ConfigError, match="already held out"):
        ds.hold_out_validation(0.1)
    with pytest.raises(ConfigError, match=r"val_fraction=1\.5"):
        load_dataset("moons", n=100).hold_out_validation(1.5)


def test_training_reports_accuracy_on_the_held_out_split() -> None:
    import layerflow as lf

    ds = lf.load_dataset("moons", n=300, seed=0).hold_out_validation(0.2, seed=0)
    model = lf.build_model(lf.ModelSpec("mlp", width=8, depth=2), 2, 2, seed=0)
    res = lf.train(model, ds, lf.TrainConfig(epochs=2, seed=0))
    assert res.n_val == len(ds.y_val) and 0.0 <= res.val_acc <= 1.0
    with pytest.raises(lf.LayerflowError, match="already holds a validation split"):
        lf.train(model, ds, lf.TrainConfig(epochs=1, val_fraction=0.1))
