"""The error classes: one hierarchy in layerflow._errors, exported from layerflow, each raised by
the situation it names."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import layerflow as lf
from layerflow import _errors as errors
from layerflow._errors import (
    BudgetError,
    ConfigError,
    DataError,
    FetchChecksumError,
    FetchOfflineError,
    LayerflowError,
    NotComputableError,
)

# the documented tree: class -> its parent
TREE = {
    LayerflowError: ValueError,
    ConfigError: LayerflowError,
    DataError: LayerflowError,
    FetchChecksumError: DataError,
    FetchOfflineError: DataError,
    BudgetError: LayerflowError,
    NotComputableError: LayerflowError,
}
SRC = Path(lf.__file__).parent


def test_the_tree_is_as_documented_and_exported_from_layerflow() -> None:
    for cls, parent in TREE.items():
        assert cls.__bases__ == (parent,)
        assert getattr(lf, cls.__name__) is cls
        assert cls.__name__ in lf.__all__
    defined = {n for n, v in vars(errors).items() if isinstance(v, type)
               and issubclass(v, Exception) and v.__module__ == errors.__name__}
    assert defined == {c.__name__ for c in TREE}


def test_no_module_defines_a_public_error_class_of_its_own() -> None:
    pattern = re.compile(r"^class ([A-Z]\w*)\((\w*Error|ValueError|Exception)\)", re.M)
    found = {(p.relative_to(SRC).as_posix(), m.group(1))
             for p in SRC.rglob("*.py") for m in pattern.finditer(p.read_text(encoding="utf-8"))}
    assert found == {("_errors.py", c.__name__) for c in TREE}


def test_config_error_with_and_without_a_key() -> None:
    bare = ConfigError("k=0: expected an int >= 1")
    assert (str(bare), bare.key) == ("k=0: expected an int >= 1", "")
    keyed = ConfigError("analysis.k", "0: expected an int >= 1")
    assert (str(keyed), keyed.key) == ("analysis.k: 0: expected an int >= 1", "analysis.k")
    # an error crossing a process boundary (a sweep worker) keeps its message
    back = pickle.loads(pickle.dumps(keyed))
    assert type(back) is ConfigError and str(back) == str(keyed)


def test_a_bad_option_is_a_config_error_naming_its_key() -> None:
    with pytest.raises(ConfigError, match="unknown option of the ricci view") as info:
        lf.views.get_view("ricci").resolve({"kk": 3}, "analysis")
    assert info.value.key == "analysis.kk"
    with pytest.raises(ConfigError, match="unknown dataset 'mons'"):
        lf.load_dataset("mons")


def test_a_missing_or_malformed_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        lf.Trajectory.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip archive")
    with pytest.raises(DataError, match="not a readable"):
        lf.Trajectory.load(bad)


def test_a_budget_refusal_is_a_budget_error_with_its_kind() -> None:
    X = np.random.default_rng(0).normal(size=(300, 3))
    traj = lf.Trajectory([X, X * 2.0])
    with pytest.raises(BudgetError) as info:
        lf.transport.ot_score(traj, m=300, max_bytes=100_000)
    assert info.value.kind == "memory" and info.value.estimate is None


def test_an_undefined_quantity_is_not_computable() -> None:
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 100.0])
    with pytest.raises(NotComputableError, match="components"):
        lf.ricci.ricci_coefficient([X, X, X, X, X], k=3, on_disconnected="raise")
