"""The one data structure: what a network does to N samples, layer by layer (SPEC §1).

A :class:`Trajectory` holds the states ``X_0, X_1, …, X_L``, each an array of shape ``(N, d_l)``;
row ``i`` of every state is the same sample. ``X_0`` is the (flattened) input, then one state per
captured layer. Metrics take a trajectory and return small result objects; they never see a model
or a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from layerflow._atomic import atomic_open
from layerflow._display import ResultDisplay
from layerflow.errors import LayerflowError
from layerflow.tokens import as_array, token_rows

__all__ = ["Trajectory", "TrajectoryError"]

_FORMAT = "layerflow.trajectory/1"
_MetaValue = str | int | float | bool | None
_MAX_LOAD_BYTES = 1 << 32  # largest uncompressed archive Trajectory.load reads by default


class TrajectoryError(LayerflowError):
    """A trajectory (or a file claiming to hold one) is malformed."""


def _to_numpy(x: Any, what: str) -> np.ndarray:
    """A NumPy array (any dtype but object) by :func:`layerflow.tokens.as_array`."""
    return as_array(x, what, TrajectoryError, real=False)


def nonfinite_rows(arr: np.ndarray) -> str:
    """Describe the non-finite rows of a 2-D array (``""`` when every value is finite).

    E.g. ``"NaN values in 3 of 40 rows (first bad row: 7)"``; shared by every entry point that
    refuses non-finite points, so they all say it the same way.
    """
    bad = ~np.isfinite(arr)
    if not bad.any():
        return ""
    rows = np.flatnonzero(bad.any(axis=1))
    kind = "NaN" if np.isnan(arr).any() else "infinite"
    return f"{kind} values in {rows.size} of {arr.shape[0]} rows (first bad row: {int(rows[0])})"


def _as_state(x: Any, index: int, name: str) -> np.ndarray:
    what = f"state {index} ({name!r})"
    arr = _to_numpy(x, what)
    if arr.dtype.kind not in "biuf":
        raise TrajectoryError(f"{what} has dtype {arr.dtype}; expected a real numeric array")
    if arr.ndim == 0:
        raise TrajectoryError(f"{what} is a scalar; expected an array of shape (N, d)")
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.shape[1] == 0:
        raise TrajectoryError(f"{what} has width 0; expected at least one feature")
    bad = nonfinite_rows(arr)
    if bad:
        raise TrajectoryError(f"{what} has {bad}; states must be finite")
    return np.ascontiguousarray(arr)


def _row_index(x: Any, what: str, n: int) -> np.ndarray | None:
    """An optional per-row index array: integers >= 0 of shape ``(n,)``, read-only int64."""
    if x is None:
        return None
    arr = _to_numpy(x, what)
    if arr.dtype.kind not in "iu" or arr.shape != (n,):
        raise TrajectoryError(
            f"{what} has shape {arr.shape} and dtype {arr.dtype}; expected integers of shape "
            f"({n},), one per row"
        )
    if arr.size and int(arr.min()) < 0:
        raise TrajectoryError(f"{what} has a negative value ({int(arr.min())}); expected >= 0")
    out = arr.astype(np.int64)  # a copy
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Trajectory(ResultDisplay, headline=("n_samples", "n_layers", "widths", "layer_names"),
                 rows=("widths",), index="state", names="layer_names"):
    """States ``X_0 … X_L`` of N samples through a network.

    Parameters
    ----------
    states
        Sequence of L+1 arrays (NumPy or torch), each of shape ``(N, d_l)``; arrays with more than
        two dimensions are flattened to ``(N, -1)``, 1-D arrays become ``(N, 1)``.
    labels
        Optional array of shape ``(N,)``.
    layer_names
        Optional L+1 distinct names; defaults to ``"input", "layer1", …``.
    metadata
        Free key/value pairs (str, int, float, bool or None values), e.g. model and data names.
    sample_index, position
        Optional integer arrays of shape ``(N,)`` for per-token trajectories (one row per token,
        SPEC §1): row i is token ``position[i]`` of input sequence ``sample_index[i]``. Kept by
        :meth:`rows`, :meth:`subsample`, :meth:`select`, :meth:`save` and :meth:`load`.

    Raises
    ------
    TrajectoryError
        If the states disagree on N, hold NaN/Inf, or the names/labels do not fit; the message names
        the offending layer.
    """

    states: tuple[np.ndarray, ...]
    labels: np.ndarray | None = None
    layer_names: tuple[str, ...] = ()
    metadata: Mapping[str, _MetaValue] = field(default_factory=dict)
    sample_index: np.ndarray | None = None
    position: np.ndarray | None = None

    def __init__(
        self,
        states: Sequence[Any],
        labels: Any = None,
        layer_names: Sequence[str] | None = None,
        metadata: Mapping[str, _MetaValue] | None = None,
        *,
        sample_index: Any = None,
        position: Any = None,
    ) -> None:
        if isinstance(states, np.ndarray) and states.ndim >= 2 and states.dtype != object:
            states = list(states)
        if not isinstance(states, Sequence) or isinstance(states, str | bytes):
            raise TrajectoryError(
                f"states must be a sequence of arrays, got {type(states).__name__}"
            )
        if len(states) == 0:
            raise TrajectoryError("states is empty; a trajectory needs at least the input state")
        if layer_names is None:
            names = ("input", *(f"layer{i}" for i in range(1, len(states))))
        else:
            names = tuple(str(n) for n in layer_names)
            if len(names) != len(states):
                raise TrajectoryError(
                    f"layer_names has {len(names)} names but there are {len(states)} states"
                )
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise TrajectoryError(f"layer_names must be distinct; repeated: {dup}")
        arrays = tuple(_as_state(s, i, names[i]) for i, s in enumerate(states))
        n = arrays[0].shape[0]
        if n == 0:
            raise TrajectoryError("the input state has 0 rows; a trajectory needs samples")
        for i, a in enumerate(arrays[1:], start=1):
            if a.shape[0] != n:
                raise TrajectoryError(
                    f"state {i} ({names[i]!r}) has {a.shape[0]} rows but state 0 "
                    f"({names[0]!r}) has {n}; every state must hold the same N samples"
                )
        lab = None
        if labels is not None:
            lab = _to_numpy(labels, "labels").reshape(-1) if np.ndim(labels) > 1 else _to_numpy(
                labels, "labels"
            )
            if lab.ndim != 1 or lab.shape[0] != n:
                raise TrajectoryError(
                    f"labels have shape {lab.shape}; expected ({n},) to match the states"
                )
        meta = dict(metadata or {})
        for k, v in meta.items():
            if not isinstance(k, str) or not (v is None or isinstance(v, str | int | float | bool)):
                raise TrajectoryError(
                    f"metadata[{k!r}] = {v!r}: keys must be str and values str, int, float, "
                    "bool or None"
                )
        for a in arrays:
            a.setflags(write=False)
        if lab is not None:
            lab = lab.copy()
            lab.setflags(write=False)
        object.__setattr__(self, "states", arrays)
        object.__setattr__(self, "labels", lab)
        object.__setattr__(self, "layer_names", names)
        object.__setattr__(self, "metadata", meta)
        object.__setattr__(self, "sample_index", _row_index(sample_index, "sample_index", n))
        object.__setattr__(self, "position", _row_index(position, "position", n))

    # ------------------------------------------------------------------ shape
    @property
    def n_samples(self) -> int:
        """N, the number of samples (rows of every state)."""
        return int(self.states[0].shape[0])

    @property
    def n_layers(self) -> int:
        """L, the number of captured layers (states minus the input)."""
        return len(self.states) - 1

    @property
    def widths(self) -> tuple[int, ...]:
        """Widths ``d_0 … d_L`` of the states."""
        return tuple(int(s.shape[1]) for s in self.states)

    def __len__(self) -> int:
        return len(self.states)

    def __repr__(self) -> str:
        return (
            f"Trajectory(N={self.n_samples}, widths={list(self.widths)}, "
            f"layers={list(self.layer_names)})"
        )

    # --------------------------------------------------------- equal widths
    def equal_width_runs(self) -> list[tuple[int, int]]:
        """Maximal runs of consecutive equal-width states with at least two states.

        Returns a list of ``(start, stop)`` state indices, both inclusive.
        """
        runs: list[tuple[int, int]] = []
        w = self.widths
        start = 0
        for i in range(1, len(w) + 1):
            if i == len(w) or w[i] != w[start]:
                if i - 1 > start:
                    runs.append((start, i - 1))
                start = i
        return runs

    def equal_width_run(self, run: tuple[int, int] | None = None) -> tuple[int, int]:
        """The run of states that transport metrics use.

        With ``run=None``, the longest run of consecutive equal-width states (the earliest one on a
        tie). A user-named ``(start, stop)`` (inclusive) is checked for equal widths.
        """
        runs = self.equal_width_runs()
        desc = ", ".join(
            f"{a}..{b} ({self.layer_names[a]}..{self.layer_names[b]}, width {self.widths[a]})"
            for a, b in runs
        )
        if run is None:
            if not runs:
                raise TrajectoryError(
                    f"no two consecutive states have equal width (widths {list(self.widths)}); "
                    "transport metrics need a run of equal-width states"
                )
            return max(runs, key=lambda r: (r[1] - r[0], -r[0]))
        try:
            start, stop = (int(run[0]), int(run[1]))
        except (TypeError, ValueError, IndexError) as exc:
            raise TrajectoryError(f"run={run!r}: expected a pair (start, stop) of ints") from exc
        if not (0 <= start < stop < len(self.states)):
            raise TrajectoryError(
                f"run={run!r} is out of range; expected 0 <= start < stop <= {len(self.states) - 1}"
            )
        ws = set(self.widths[start : stop + 1])
        if len(ws) != 1:
            raise TrajectoryError(
                f"run={run!r} spans widths {list(self.widths[start : stop + 1])}; runs of equal "
                f"width are: {desc or 'none'}"
            )
        return start, stop

    def stacked(self, run: tuple[int, int] | None = None) -> np.ndarray:
        """The states of an equal-width run stacked as one array of shape ``(n+1, N, d)``."""
        start, stop = self.equal_width_run(run)
        return np.stack(self.states[start : stop + 1])

    # --------------------------------------------------------------- subsets
    def select(self, start: int, stop: int) -> Trajectory:
        """States ``start … stop`` (inclusive) as a new trajectory."""
        if not (0 <= start <= stop < len(self.states)):
            raise TrajectoryError(
                f"select({start}, {stop}) is out of range for {len(self.states)} states"
            )
        return Trajectory(
            self.states[start : stop + 1],
            labels=self.labels,
            layer_names=self.layer_names[start : stop + 1],
            metadata=self.metadata,
            sample_index=self.sample_index,
            position=self.position,
        )

    def rows(self, index: Any) -> Trajectory:
        """The same rows of every state (an index array or boolean mask)."""
        idx = np.asarray(index)
        return Trajectory(
            [s[idx] for s in self.states],
            labels=None if self.labels is None else self.labels[idx],
            layer_names=self.layer_names,
            metadata=self.metadata,
            sample_index=None if self.sample_index is None else self.sample_index[idx],
            position=None if self.position is None else self.position[idx],
        )

    def subsample(self, m: int, seed: int = 0) -> Trajectory:
        """The same ``m`` randomly chosen rows of every state (seeded, order kept)."""
        n = self.n_samples
        if not isinstance(m, int | np.integer) or isinstance(m, bool) or not (1 <= m <= n):
            raise TrajectoryError(f"subsample m={m!r}: expected an int with 1 <= m <= N={n}")
        if m == n:
            return self
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=int(m), replace=False))
        return self.rows(idx)

    # ------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to ``.npz`` (no pickle), atomically: a reader never sees a half-written file."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        arrays: dict[str, np.ndarray] = {f"state_{i}": s for i, s in enumerate(self.states)}
        arrays["layer_names"] = np.array(self.layer_names, dtype=np.str_)
        header = {"format": _FORMAT, "n_states": len(self.states), "metadata": dict(self.metadata)}
        arrays["header"] = np.array(json.dumps(header), dtype=np.str_)
        if self.labels is not None:
            arrays["labels"] = self.labels
        for key in ("sample_index", "position"):
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        with atomic_open(path) as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], max_bytes: int | None = _MAX_LOAD_BYTES
    ) -> Trajectory:
        """Read a trajectory written by :meth:`save`, or any ``.npz`` of ``state_0, state_1, …``.

        Never unpickles: object arrays are refused with :class:`TrajectoryError`. Sizes declared
        in the archive are checked against the file and ``max_bytes`` (default 4 GiB; ``None``
        for no cap) before anything is allocated (:func:`layerflow.data.npzsafe.read_npz`).
        """
        from layerflow.data.npzsafe import read_npz

        path = Path(path)
        if not path.is_file():
            raise TrajectoryError(f"trajectory file {str(path)!r} does not exist")
        arrays = read_npz(
path, max_bytes=max_bytes, error=TrajectoryError)
        keys = set(arrays)
        meta: dict[str, Any] = {}
        if "header" in keys:
            try:
                header = json.loads(str(arrays["header"]))
            except (json.JSONDecodeError, ValueError) as exc:
                raise TrajectoryError(f"{str(path)!r}: header is not valid JSON: {exc}") from exc
            raw_meta = header.get("metadata", {}) if isinstance(header, dict) else None
            if not isinstance(raw_meta, dict):
                raise TrajectoryError(
                    f"{str(path)!r}: header is not valid JSON of the form "
                    f'{{"metadata": {{…}}}}; got {str(arrays["header"])[:80]!r}'
                )
            meta = raw_meta
        n_states = 0
        while f"state_{n_states}" in keys:
            n_states += 1
        if n_states == 0:
            raise TrajectoryError(
                f"{str(path)!r} holds no arrays named state_0, state_1, …; found {sorted(keys)}"
            )
        states = [arrays[f"state_{i}"] for i in range(n_states)]
        names = None
        if "layer_names" in keys:
            ln = arrays["layer_names"]
            if ln.ndim != 1:
                raise TrajectoryError(
                    f"{str(path)!r}: layer_names has shape {ln.shape}; expected ({n_states},)"
                )
            names = [str(x) for x in ln]
        labels = arrays.get("labels")
        return cls(states, labels=labels, layer_names=names, metadata=meta,
                   sample_index=arrays.get("sample_index"), position=arrays.get("position"))

    # ------------------------------------------------------------- sequences
    @classmethod
    def from_hidden_states(
        cls,
        hidden_states: Any,
        attention_mask: Any = None,
        labels: Any = None,
        per_token: bool = True,
        layer_names: Sequence[str] | None = None,
        metadata: Mapping[str, _MetaValue] | None = None,
    ) -> Trajectory:
        """A trajectory from a transformer's hidden states (SPEC §1), without importing it.

        ``hidden_states`` is what a Hugging Face model returns with ``output_hidden_states=True``:
        a tuple of L+1 arrays of shape ``(N, T, d)`` (the embeddings, then each layer's output),
        as torch tensors or NumPy arrays. With ``per_token=True`` (default) every token is a point
        (:func:`layerflow.tokens.token_rows`): ``N·T`` rows less those that ``attention_mask``
        (``(N, T)``, 1 for real tokens, 0 for padding) drops, with ``sample_index`` and
        ``position`` kept and ``labels`` given per sequence ``(N,)`` or per token ``(N, T)``.
        With ``per_token=False`` each sequence is one point of width ``T·d`` (no mask then).
        ``layer_names`` default to ``"embeddings", "layer1", …, "layerL"``.
        """
        if hasattr(hidden_states, "ndim") and getattr(hidden_states, "ndim", 0) == 4:
            hidden_states = list(hidden_states)  # stacked (L+1, N, T, d)
        if not isinstance(hidden_states, Sequence) or isinstance(hidden_states, str | bytes):
            raise TrajectoryError(
                f"hidden_states is a {type(hidden_states).__name__}; expected the tuple of "
                "(N, T, d) arrays a model returns with output_hidden_states=True"
            )
        arrays = [as_array(h, f"hidden_states[{i}]", TrajectoryError)
                  for i, h in enumerate(hidden_states)]
        if not arrays:
            raise TrajectoryError("hidden_states is empty; expected the L+1 states (N, T, d)")
        names = (list(layer_names) if layer_names is not None
                 else ["embeddings", *(f"layer{i}" for i in range(1, len(arrays)))])
        if len(names) != len(arrays):
            raise TrajectoryError(
                f"layer_names has {len(names)} names but there are {len(arrays)} hidden states"
            )
        meta = dict(metadata or {})
        if not per_token:
            if attention_mask is not None:
                raise TrajectoryError(
                    "attention_mask drops padded tokens, which needs per_token=True; with "
                    "per_token=False each sequence is one point of width T·d"
                )
            return cls(arrays, labels=labels, layer_names=names, metadata=meta)
        rows = token_rows(arrays, names, attention_mask, labels, TrajectoryError)
        return cls(rows.states, labels=rows.labels, layer_names=names,
                   metadata={**meta, "per_token": True}, sample_index=rows.sample_index,
                   position=rows.position)
