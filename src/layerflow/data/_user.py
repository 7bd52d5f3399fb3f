"""A user's own data: ``npz:PATH`` and ``csv:PATH``.

Labels of any type (ints, integral floats, strings, booleans) are mapped to ``0 … k−1`` in sorted
order of the distinct values over both splits; ``info["labels"]`` keeps the original values.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from layerflow._errors import ConfigError, DataError
from layerflow.data._dataset import Dataset
from layerflow.data._npzsafe import read_npz
from layerflow.data._split import check_seed, check_test_fraction, make_dataset, subsample

#: largest user file read by default (1 GiB)
DEFAULT_MAX_BYTES = 1 << 30


def _features(X: np.ndarray, what: str) -> np.ndarray:
    if X.dtype.kind not in "biuf":
        raise DataError(f"{what} has dtype {X.dtype}; expected a real numeric array")
    if X.ndim == 0:
        raise DataError(f"{what} is a scalar; expected an array of shape (n, d)")
    X = X.reshape(X.shape[0], -1) if X.ndim > 1 else X[:, None]
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        bad = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise DataError(f"{what} holds NaN or infinite values (first bad row: {bad})")
    return X


def _labels(ys: list[np.ndarray], what: str) -> tuple[list[np.ndarray], list[Any]]:
    """Map the labels of all splits jointly to 0 … k−1."""
    for y in ys:
        if y.ndim != 1:
            raise DataError(f"{what}: labels have shape {y.shape}; expected (n,)")
        if y.dtype.kind == "f":
            if not np.isfinite(y).all() or not np.array_equal(y, np.round(y)):
                raise DataError(
                    f"{what}: labels are floats with non-integral or non-finite values "
                    f"(e.g. {y[~np.isfinite(y) | (y != np.round(y))][0]!r}); expected class labels"
                )
        elif y.dtype.kind not in "biuUS":
            raise DataError(f"{what}: labels have dtype {y.dtype}; expected ints or strings")
    if len({"str" if y.dtype.kind in "US" else "num" for y in ys}) > 1:
        raise DataError(
            f"{what}: labels of the splits cannot be compared: "
            f"{' and '.join(str(y.dtype) for y in ys)} (numbers and strings mixed)"
        )
    try:
        values = np.unique(np.concatenate(ys))
    except (TypeError, ValueError) as exc:  # e.g. non-ASCII bytes labels beside str labels
        raise DataError(
            f"{what}: labels of the splits cannot be compared "
            f"({' and '.join(str(y.dtype) for y in ys)}): {exc}"
        ) from exc
    if values.size < 2:
        raise DataError(
            f"{what}: labels hold {values.size} distinct value(s) {values.tolist()}; a "
            "classification task needs at least two classes"
        )
    mapped = [np.searchsorted(values, y).astype(np.int64) for y in ys]
    return mapped, values.tolist()


def _check_size(path: Path, max_bytes: int | None, what: str) -> None:
    if not path.is_file():
        raise DataError(f"{what}: file {str(path)!r} does not exist")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise DataError(f"{what}: file {str(path)!r} has {size} bytes, above max_bytes={max_bytes}")


def _finish(
    name: str, X: np.ndarray, y: np.ndarray, test: tuple[np.ndarray, np.ndarray] | None,
    labels: list[Any], n: int | None, seed: int, test_fraction: float, info: dict[str, Any],
) -> Dataset:
    rng = np.random.default_rng(seed)
    info = {**info, "labels": labels, "seed": seed}
    if test is not None:
        if test[0].shape[1] != X.shape[1]:
            raise DataError(
                f"{name}: X_test has {test[0].shape[1]} features but X has {X.shape[1]}"
            )
        X, y = subsample(X, y, n, rng, name)
        return Dataset(X, y, test[0], test[1], name=name, info=info)
    X, y = subsample(X, y, n, rng, name)
    return make_dataset(X, y, name=name, test_fraction=test_fraction, rng=rng, standardise=False,
                        info={**info, "test_fraction": test_fraction})


_Read = tuple[np.ndarray, np.ndarray, "tuple[np.ndarray, np.ndarray] | None", list[Any],
              dict[str, Any]]

_READERS: dict[str, tuple[str, Any]] = {}  # kind -> (what PATH is, reader); filled below


def load_file(
    kind: str,
    arg: str | None,
    *,
    n: int | None = None,
    seed: int = 0,
    test_fraction: float = 0.25,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Dataset:
    """``npz:PATH`` or ``csv:PATH``: a user's own arrays.

    Without a test split in the file one is drawn (stratified, seeded) with ``test_fraction``;
    ``n`` keeps a seeded random subset of the training rows; files above ``max_bytes`` are
    refused before they are read.
    """
    what, reader = _READERS[kind]
    if not arg:
        raise ConfigError(f"{kind}: no path; write '{kind}:PATH' with PATH {what}")
    seed = check_seed(seed, kind)
    test_fraction = check_test_fraction(test_fraction, kind)
    path = Path(arg).expanduser()
    name = f"{kind}:{arg}"
    _check_size(path, max_bytes, name)
    X, y, test, labels, info = reader(path, name, max_bytes)
    return _finish(name, X, y, test, labels, n, seed, test_fraction, info)


def _read_npz_file(path: Path, name: str, max_bytes: int | None) -> _Read:
    """Arrays ``X`` (n, …) and ``y`` (n,), optionally ``X_test`` and ``y_test``, read with
    :func:`layerflow.data._npzsafe.read_npz` (no pickle; object arrays refused; sizes checked
    before allocating)."""
    arrays = read_npz(path, max_bytes=max_bytes, error=DataError)
    for key in ("X", "y"):
        if key not in arrays:
            raise DataError(f"{name}: no array {key!r}; found {sorted(arrays)} (need X and y)")
    has_test = ("X_test" in arrays, "y_test" in arrays)
    if has_test[0] != has_test[1]:
        raise DataError(f"{name}: X_test and y_test must come together; found {sorted(arrays)}")
    X = _features(arrays["X"], f"{name}: X")
    ys = [arrays["y"]]
    Xt = None
    if has_test[0]:
        Xt = _features(arrays["X_test"], f"{name}: X_test")
        ys.append(arrays["y_test"])
    (y, *rest), labels = _labels(ys, name)
    if y.shape[0] != X.shape[0]:
        raise DataError(f"{name}: X has {X.shape[0]} rows but y has {y.shape[0]}")
    test = None
    if Xt is not None:
        if rest[0].shape[0] != Xt.shape[0]:
            raise DataError(
                f"{name}: X_test has {Xt.shape[0]} rows but y_test has {rest[0].shape[0]}"
            )
        test = (Xt, rest[0])
    return X, y, test, labels, {"path": str(path)}


def _has_header(first: list[str]) -> bool:
    for field in first:
        try:
            float(field)
        except ValueError:
            return True
    return False


def _read_csv_file(path: Path, name: str, max_bytes: int | None) -> _Read:
    """One sample per row, numeric features, the label in the column named ``label`` (if the
    file has a header with one) or else in the last column. A header is detected when some field
    of the first row is not a number; every row must have as many fields as the first."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.reader(fh) if r]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{name}: not a readable CSV file: {exc}") from exc
    if not rows:
        raise DataError(f"{name}: the file is empty")
    header = _has_header(rows[0])
    names = [c.strip() for c in rows[0]] if header else [f"column {j}" for j in range(len(rows[0]))]
    body = rows[1:] if header else rows
    width = len(rows[0])
    for i, r in enumerate(body):
        if len(r) != width:
            line = i + (2 if header else 1)
            raise DataError(
                f"{name}: not a readable CSV file: line {line} has {len(r)} fields, the first "
                f"row has {width}"
            )
    if width < 2:
        raise DataError(f"{name}: {width} column(s); expected features and a label")
    if len(body) < 2:
        raise DataError(f"{name}: {len(body)} data row(s); expected at least 2")
    lower = [c.lower() for c in names]
    label_j = lower.index("label") if header and "label" in lower else width - 1
    cells = np.array(body, dtype=str)
    feat_j = [j for j in range(width) if j != label_j]
    X = np.empty((len(body), len(feat_j)), dtype=np.float64)
    for k, j in enumerate(feat_j):
        try:
            X[:, k] = cells[:, j].astype(np.float64)
        except ValueError as exc:
            raise DataError(
                f"{name}: feature column {names[j]!r} is not numeric ({exc}); the label goes in "
                "the last column or a column named 'label'"
            ) from exc
    X = _features(X, name)
    raw = np.char.strip(cells[:, label_j])
    y_raw: np.ndarray = raw
    try:
        y_raw = raw.astype(np.int64)
    except ValueError:
        try:
            as_float = raw.astype(np.float64)
            if np.isfinite(as_float).all() and np.array_equal(as_float, np.round(as_float)):
                y_raw = as_float.astype(np.int64)
        except ValueError:
            pass
    (y,), labels = _labels([y_raw], name)
    return X, y, None, labels, {"path": str(path), "label_column": names[label_j]}


_READERS.update({"npz": ("an .npz file", _read_npz_file), "csv": ("a .csv file", _read_csv_file)})
