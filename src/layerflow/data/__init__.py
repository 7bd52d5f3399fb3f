"""Data sets (SPEC §5): synthetic, bundled, procedural, IDX files and a user's own arrays.

::

    from layerflow.data import load_dataset, list_datasets
    ds = load_dataset("moons", n=2000, noise=0.1, seed=0)      # Dataset(X_train, y_train, …)
    ds = load_dataset("digits:6,8")                            # classes 6, 8 relabelled 0, 1
    ds = load_dataset("fmnist:5,9@/data/fashion")              # IDX files, plain or .gz
    ds = load_dataset("npz:my_data.npz")                       # arrays X, y (no pickle)

Nothing is downloaded. ``list_datasets()`` (and ``layerflow datasets``) says what is available.
"""

from __future__ import annotations

from layerflow.data.dataset import Dataset, DatasetError, validation_indices
from layerflow.data.idx import IdxError, read_idx, write_idx
from layerflow.data.npzsafe import NpzError, read_npz
from layerflow.data.registry import (
    DatasetEntry,
    check_dataset,
    list_datasets,
    load_dataset,
    register,
    unregister,
)

__all__ = [
    "Dataset",
    "DatasetEntry",
    "DatasetError",
    "IdxError",
    "NpzError",
    "check_dataset",
    "list_datasets",
    "load_dataset",
    "read_idx",
    "read_npz",
    "register",
    "unregister",
    "validation_indices",
    "write_idx",
]
