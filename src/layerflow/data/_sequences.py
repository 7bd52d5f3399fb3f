"""Generated token-sequence tasks for transformers (seeded, offline): ``tokens:TASK``.

A sample is a sequence of ``length`` token ids in ``0 … vocab-1`` and one label per sequence.
:class:`~layerflow.data.Dataset` holds 2-D float arrays, so ``X`` has shape ``(n, length)`` with
the ids stored as float32 (exact: every integer below 2²⁴ is); layerflow's transformer
(``ModelSpec("transformer", vocab=…)``) casts them back to int64 for its embedding.

Tasks (:data:`SEQUENCE_TASKS`, variants as data):

- ``sorted`` (default; vocab 10, length 8, 2 classes): half the sequences are sorted
  (non-decreasing, label 1), the other half are sorted sequences with **one adjacent pair of
  unequal tokens swapped** (label 0). Both classes hold the same multisets of tokens, so the
  label is in the order alone: a bag of tokens cannot solve it, a model must compare
  neighbouring positions (attention).
- ``majority`` (vocab 2, odd length 9, 2 classes): uniform random bits; the label is the more
  frequent token. Solvable from the bag of tokens (a baseline that needs no attention).

Every set: ``n`` sequences drawn with ``numpy.random.default_rng(seed)``, a stratified seeded
train/test split (``test_fraction``), no scaling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from layerflow._errors import ConfigError
from layerflow._suggest import did_you_mean
from layerflow.data._dataset import Dataset
from layerflow.data._split import check_n, check_seed, check_test_fraction, make_dataset


def sorted_or_swapped(n: int, length: int, vocab: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n // 2`` sequences with one adjacent swap (label 0), then ``n − n // 2`` sorted ones
    (label 1); ids int64 of shape ``(n, length)``.

    Each sequence is ``length`` ids drawn uniformly and sorted; for a label-0 sequence one
    position ``j`` with ``x_j < x_{j+1}`` is chosen uniformly and the pair is swapped (sequences
    of one repeated id, which have no such pair, are drawn again).
    """
    X = np.sort(rng.integers(0, vocab, size=(n, length)), axis=1)
    n0 = n // 2
    while True:
        flat = X[:n0, :-1] == X[:n0, 1:]
        redo = flat.all(axis=1)
        if not redo.any():
            break
        X[:n0][redo] = np.sort(rng.integers(0, vocab, size=(int(redo.sum()), length)), axis=1)
    unequal = X[:n0, :-1] < X[:n0, 1:]
    keys = np.where(unequal, rng.random(unequal.shape), -1.0)
    j = keys.argmax(axis=1)  # a uniform choice among the unequal adjacent pairs
    rows = np.arange(n0)
    X[rows, j], X[rows, j + 1] = X[rows, j + 1], X[rows, j].copy()
    y = np.concatenate([np.zeros(n0, dtype=np.int64), np.ones(n - n0, dtype=np.int64)])
    return X, y


def majority(n: int, length: int, vocab: int,
             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform random bit sequences of odd ``length``; label = the more frequent bit."""
    X = rng.integers(0, 2, size=(n, length))
    return X, (2 * X.sum(axis=1) > length).astype(np.int64)


@dataclass(frozen=True)
class SequenceTask:
    """A generated task: ``generate(n, length, vocab, rng) -> (ids (n, length), labels (n,))``,
    its default ``vocab`` and ``length``, and a ``check(length, vocab)`` returning what is wrong
    with a size (empty when nothing is)."""

    generate: Callable[[int, int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    vocab: int
    length: int
    description: str
    check: Callable[[int, int], str]


def _check_sorted(length: int, vocab: int) -> str:
    if length < 2 or vocab < 2:
        return "needs length >= 2 and vocab >= 2 (a swap needs two unequal tokens)"
    return ""


def _check_majority(length: int, vocab: int) -> str:
    if vocab != 2:
        return f"is a task over bits: vocab must be 2, not {vocab}"
    if length % 2 == 0:
        return f"needs an odd length (no ties), not {length}"
    return ""


#: task name -> generator, default sizes and what it asks
SEQUENCE_TASKS: dict[str, SequenceTask] = {
    "sorted": SequenceTask(sorted_or_swapped, 10, 8,
                           "sorted (1) or sorted with one adjacent swap (0)", _check_sorted),
    "majority": SequenceTask(majority, 2, 9, "the more frequent of two tokens", _check_majority),
}


def _size(value: int | None, default: int, what: str, name: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < 1:
        raise ConfigError(f"{name}: {what}={value!r}; expected an int >= 1")
    return int(value)


def load_sequences(
    arg: str | None = None,
    *,
    n: int = 2000,
    length: int | None = None,
    vocab: int | None = None,
    seed: int = 0,
    test_fraction: float = 0.25,
) -> Dataset:
    """``tokens:TASK`` (``arg`` = TASK, default ``"sorted"``): ``n`` generated sequences.

    ``length`` and ``vocab`` default to the task's (:data:`SEQUENCE_TASKS`). ``X`` has shape
    ``(·, length)``: token ids as float32; ``info`` records ``task``, ``vocab`` and ``length``
    (what ``ModelSpec("transformer", vocab=…)`` and ``in_dim`` need).
    """
    task_name = "sorted" if arg is None or arg == "" else arg
    if task_name not in SEQUENCE_TASKS:
        raise ConfigError(f"tokens: unknown task {task_name!r}"
                           f"{did_you_mean(task_name, SEQUENCE_TASKS)}; expected one of "
                           f"{', '.join(SEQUENCE_TASKS)}")
    task = SEQUENCE_TASKS[task_name]
    name = f"tokens:{task_name}"
    n = check_n(n, name, minimum=4)
    seed = check_seed(seed, name)
    test_fraction = check_test_fraction(test_fraction, name)
    length = _size(length, task.length, "length", name)
    vocab = _size(vocab, task.vocab, "vocab", name)
    problem = task.check(length, vocab)
    if problem:
        raise ConfigError(f"{name} {problem}")
    rng = np.random.default_rng(seed)
    X, y = task.generate(n, length, vocab, rng)
    return make_dataset(
        X.astype(np.float64), y, name=name, test_fraction=test_fraction, rng=rng,
        standardise=False,
        info={"task": task_name, "n": n, "length": length, "vocab": vocab, "seed": seed,
              "test_fraction": test_fraction, "inputs": "token ids"},
    )
