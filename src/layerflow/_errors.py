"""The errors layerflow raises, one class per situation a caller would handle differently.

::

    LayerflowError (ValueError)
    ├── ConfigError          a bad option, configuration or argument value
    ├── DataError            a file or data set that is missing, unreadable, malformed or unsafe
    │   ├── FetchChecksumError   a download (or cached file) differs from the published one
    │   └── FetchOfflineError    files not cached and not downloadable
    ├── BudgetError          a computation refused because it would exceed its time or memory budget
    └── NotComputableError   valid input for which the quantity is undefined (a disconnected
                             kNN graph, an optimal-transport solver that cannot reach optimality)

Every class derives from :class:`LayerflowError`, itself a ``ValueError``: a caller can catch all
of them with one ``except lf.LayerflowError`` (or ``except ValueError``). Messages repeat the bad
value and say what was expected.
"""

from __future__ import annotations

from typing import Any, overload


class LayerflowError(ValueError):
    """Bad input to layerflow: the message names the value and what was expected."""


class ConfigError(LayerflowError):
    """An option, configuration field or argument has a bad value.

    Raised as ``ConfigError(message)`` or ``ConfigError(key, message)``; ``key`` names the
    offending entry (a dotted path in a sweep config, an option of a view) and prefixes the
    message as ``"key: message"``; it is ``""`` when not given.
    """

    key: str

    @overload
    def __init__(self, message: str, /) -> None: ...

    @overload
    def __init__(self, key: str, message: str, /) -> None: ...

    def __init__(self, key_or_message: str, message: str | None = None, /) -> None:
        key, text = ("", key_or_message) if message is None else (key_or_message, message)
        self.key = key
        super().__init__(f"{key}: {text}" if key else text)


class DataError(LayerflowError):
    """A file or data set is missing, unreadable, malformed, unsafe (pickled code) or too large
    (a data set's files, an IDX or ``.npz`` file, a weights file, a saved trajectory, a results
    store)."""


class FetchChecksumError(DataError):
    """A downloaded (or cached) file's size or SHA-256 differs from the published one."""


class FetchOfflineError(DataError):
    """The files are not in the cache and could not be downloaded (offline, refused, missing)."""


class BudgetError(LayerflowError):
    """A computation was refused: its estimated time or memory exceeds the budget.

    ``estimate`` holds the cost estimate that was refused where one exists (for the Jacobian
    diagnostics a :class:`layerflow.maps._budget.JacobianCost`, so a caller can read the per-layer
    figures instead of parsing the message); ``kind`` is ``"time"`` or ``"memory"``, the budget
    that was exceeded.
    """

    def __init__(self, message: str, estimate: Any = None, kind: str = "memory") -> None:
        super().__init__(message)
        self.estimate = estimate
        self.kind = kind


class NotComputableError(LayerflowError):
    """The input is valid but the quantity is undefined for it, or its solver cannot reach it
    (a disconnected kNN graph under ``on_disconnected="raise"``, a network simplex that stops
    before optimality)."""
