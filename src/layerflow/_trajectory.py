"""The one data structure: what a network does to N samples, layer by layer.

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
from typing import Any, cast

import numpy as np

from layerflow._atomic import atomic_open
from layerflow._display import ResultDisplay
from layerflow._errors import ConfigError, DataError
from layerflow._tokens import as_array, token_rows

_FORMAT = "layerflow.trajectory/1"

#: what a state is: the model's input (``input``) or its token ids (``input_ids``: labels of
#: tokens, not coordinates), the token embeddings entering the first block (``embedding``), a
#: layer's or block's output (``block``), the final normalisation a language model applies after
#: its last block (``final_norm``), a pooled summary of a sequence (``pooled``)
KINDS = ("input", "input_ids", "embedding", "block", "final_norm", "pooled")

#: kinds the views leave out: token ids always (they are labels, not points), the final norm
#: unless asked for (it rescales every token, so its step dominates the transport and Ricci paths)
_LEFT_OUT = {"input_ids": "token ids are labels of tokens, not coordinates",
             "final_norm": "the final normalisation rescales every token, so its step dwarfs "
                           "the others"}
_MetaValue = str | int | float | bool | None
_MAX_LOAD_BYTES = 1 << 32  # largest uncompressed archive Trajectory.load reads by default


def _to_numpy(x: Any, what: str) -> np.ndarray:
    """A NumPy array (any dtype but object) by :func:`layerflow._tokens.as_array`."""
    return as_array(x, what, ConfigError, real=False)


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
        raise ConfigError(f"{what} has dtype {arr.dtype}; expected a real numeric array")
    if arr.ndim == 0:
        raise ConfigError(f"{what} is a scalar; expected an array of shape (N, d)")
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.dtype.kind != "f":
        arr = arr.astype(np.float64)
    if arr.shape[1] == 0:
        raise ConfigError(f"{what} has width 0; expected at least one feature")
    arr = np.ascontiguousarray(arr)
    _check_finite(arr, what)
    return arr


def _check_finite(arr: np.ndarray, what: str) -> None:
    """Refuse non-finite values, reading a large (possibly mapped) state in blocks of rows."""
    from layerflow._npzmap import release, row_blocks

    rows = max(1, (64 << 20) // max(1, arr.shape[1] * arr.itemsize))
    if arr.shape[0] <= rows:
        bad = nonfinite_rows(arr)
        if bad:
            raise ConfigError(f"{what} has {bad}; states must be finite")
        return
    for sl in row_blocks(arr.shape[0], rows):
        block = arr[sl]
        finite = bool(np.isfinite(block).all())
        release(block)
        if not finite:
            bad = nonfinite_rows(np.asarray(arr))  # the full description, as for small states
            raise ConfigError(f"{what} has {bad}; states must be finite")


def _row_index(x: Any, what: str, n: int) -> np.ndarray | None:
    """An optional per-row index array: integers >= 0 of shape ``(n,)``, read-only int64."""
    if x is None:
        return None
    arr = _to_numpy(x, what)
    if arr.dtype.kind not in "iu" or arr.shape != (n,):
        raise ConfigError(
            f"{what} has shape {arr.shape} and dtype {arr.dtype}; expected integers of shape "
            f"({n},), one per row"
        )
    if arr.size and int(arr.min()) < 0:
        raise ConfigError(f"{what} has a negative value ({int(arr.min())}); expected >= 0")
    out = arr.astype(np.int64)  # a copy
    out.setflags(write=False)
    return out


def _take(state: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``state[idx]``, a copy; the pages of a mapped state it touched are given back (the
    kernel maps the neighbours of every row read, so a scattered subsample would otherwise
    keep most of the state resident)."""
    from layerflow._npzmap import release

    out = state[idx]
    release(state)
    return cast(np.ndarray, out)


def _check_kinds(kinds: Sequence[str] | None, names: Sequence[str]) -> tuple[str, ...]:
    if kinds is None:
        return ("input", *(["block"] * (len(names) - 1)))
    if isinstance(kinds, str):
        raise ConfigError(f"kinds={kinds!r}: expected one kind per state, not a string")
    out = tuple(str(k) for k in kinds)
    if len(out) != len(names):
        raise ConfigError(f"kinds has {len(out)} entries but there are {len(names)} states")
    bad = [(n, k) for n, k in zip(names, out, strict=True) if k not in KINDS]
    if bad:
        raise ConfigError(f"state {bad[0][0]!r} has kind {bad[0][1]!r}; expected one of "
                              f"{', '.join(KINDS)}")
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
        Optional integer arrays of shape ``(N,)`` for per-token trajectories (one row per token):
        row i is token ``position[i]`` (its index among the real tokens of its sequence) of input
        sequence ``sample_index[i]``. Kept by :meth:`rows`, :meth:`subsample`, :meth:`select`,
        :meth:`concat`, :meth:`save` and :meth:`load`.
    kinds
        What each state is, one of :data:`KINDS` per state: ``input``, ``input_ids`` (token
        ids), ``embedding``, ``block``, ``final_norm`` (a language model's normalisation after
        its last block) or ``pooled``. Default: ``input`` for state 0, ``block`` for the others.
        The views leave ``input_ids`` states out, and ``final_norm`` states unless asked
        (:meth:`analysed`).

    Raises
    ------
    ConfigError
        If the states disagree on N, hold NaN/Inf, or the names/labels do not fit; the message names
        the offending layer.
    """

    states: tuple[np.ndarray, ...]
    labels: np.ndarray | None = None
    layer_names: tuple[str, ...] = ()
    metadata: Mapping[str, _MetaValue] = field(default_factory=dict)
    sample_index: np.ndarray | None = None
    position: np.ndarray | None = None
    kinds: tuple[str, ...] = ()

    def __init__(
        self,
        states: Sequence[Any],
        labels: Any = None,
        layer_names: Sequence[str] | None = None,
        metadata: Mapping[str, _MetaValue] | None = None,
        *,
        sample_index: Any = None,
        position: Any = None,
        kinds: Sequence[str] | None = None,
    ) -> None:
        if isinstance(states, np.ndarray) and states.ndim >= 2 and states.dtype != object:
            states = list(states)
        if not isinstance(states, Sequence) or isinstance(states, str | bytes):
            raise ConfigError(
                f"states must be a sequence of arrays, got {type(states).__name__}"
            )
        if len(states) == 0:
            raise ConfigError("states is empty; a trajectory needs at least the input state")
        if layer_names is None:
            names = ("input", *(f"layer{i}" for i in range(1, len(states))))
        else:
            names = tuple(str(n) for n in layer_names)
            if len(names) != len(states):
                raise ConfigError(
                    f"layer_names has {len(names)} names but there are {len(states)} states"
                )
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ConfigError(f"layer_names must be distinct; repeated: {dup}")
        arrays = tuple(_as_state(s, i, names[i]) for i, s in enumerate(states))
        n = arrays[0].shape[0]
        if n == 0:
            raise ConfigError("the input state has 0 rows; a trajectory needs samples")
        for i, a in enumerate(arrays[1:], start=1):
            if a.shape[0] != n:
                raise ConfigError(
                    f"state {i} ({names[i]!r}) has {a.shape[0]} rows but state 0 "
                    f"({names[0]!r}) has {n}; every state must hold the same N samples"
                )
        lab = None
        if labels is not None:
            lab = _to_numpy(labels, "labels").reshape(-1) if np.ndim(labels) > 1 else _to_numpy(
                labels, "labels"
            )
            if lab.ndim != 1 or lab.shape[0] != n:
                raise ConfigError(
                    f"labels have shape {lab.shape}; expected ({n},) to match the states"
                )
        meta = dict(metadata or {})
        for k, v in meta.items():
            if not isinstance(k, str) or not (v is None or isinstance(v, str | int | float | bool)):
                raise ConfigError(
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
        object.__setattr__(self, "kinds", _check_kinds(kinds, names))

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
    def analysed(self, final_norm: bool = False) -> tuple[tuple[int, ...], str]:
        """The states the views read, and a note naming those left out (``""`` if none).

        States of kind ``input_ids`` (token ids: labels of tokens, not coordinates) are always
        left out; a ``final_norm`` state (a language model's normalisation after its last block,
        which rescales every token) unless ``final_norm=True``.
        """
        keep: list[int] = []
        notes: list[str] = []
        for i, (name, kind) in enumerate(zip(self.layer_names, self.kinds, strict=True)):
            if kind == "input_ids" or (kind == "final_norm" and not final_norm):
                back = "; final_norm=True keeps it" if kind == "final_norm" else ""
                notes.append(f"state {i} {name!r} ({kind}: {_LEFT_OUT[kind]}{back})")
            else:
                keep.append(i)
        if not keep:
            raise ConfigError(f"every state is left out of the views ({'; '.join(notes)})")
        return tuple(keep), ("left out " + "; ".join(notes)) if notes else ""

    def equal_width_runs(self, final_norm: bool = True) -> list[tuple[int, int]]:
        """Maximal runs of consecutive equal-width states with at least two states.

        Returns a list of ``(start, stop)`` state indices, both inclusive. States that
        :meth:`analysed` leaves out (token ids; the final norm with ``final_norm=False``) end a
        run and belong to none.
        """
        keep = set(self.analysed(final_norm)[0])
        runs: list[tuple[int, int]] = []
        w = self.widths
        start: int | None = None
        for i in range(len(w) + 1):
            if i < len(w) and i in keep and start is not None and w[i] == w[start]:
                continue
            if start is not None and i - 1 > start:
                runs.append((start, i - 1))
            start = i if i < len(w) and i in keep else None
        return runs

    def equal_width_run(self, run: tuple[int, int] | None = None, *,
                        final_norm: bool = False) -> tuple[int, int]:
        """The run of states that transport metrics use.

        With ``run=None``, the longest run of consecutive equal-width states among those the
        views read (:meth:`analysed`: token ids left out, and the final norm unless
        ``final_norm=True``), the earliest one on a tie. A user-named ``(start, stop)``
        (inclusive) is checked for equal widths and used as it is.
        """
        runs = self.equal_width_runs(final_norm)
        desc = ", ".join(
            f"{a}..{b} ({self.layer_names[a]}..{self.layer_names[b]}, width {self.widths[a]})"
            for a, b in runs
        )
        if run is None:
            if not runs:
                raise ConfigError(
                    f"no two consecutive states have equal width (widths {list(self.widths)}); "
                    "transport metrics need a run of equal-width states"
                )
            return max(runs, key=lambda r: (r[1] - r[0], -r[0]))
        try:
            start, stop = (int(run[0]), int(run[1]))
        except (TypeError, ValueError, IndexError) as exc:
            raise ConfigError(f"run={run!r}: expected a pair (start, stop) of ints") from exc
        if not (0 <= start < stop < len(self.states)):
            raise ConfigError(
                f"run={run!r} is out of range; expected 0 <= start < stop <= {len(self.states) - 1}"
            )
        ws = set(self.widths[start : stop + 1])
        if len(ws) != 1:
            raise ConfigError(
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
            raise ConfigError(
                f"select({start}, {stop}) is out of range for {len(self.states)} states"
            )
        return Trajectory(
            self.states[start : stop + 1],
            labels=self.labels,
            layer_names=self.layer_names[start : stop + 1],
            metadata=self.metadata,
            sample_index=self.sample_index,
            position=self.position,
            kinds=self.kinds[start : stop + 1],
        )

    def rows(self, index: Any) -> Trajectory:
        """The same rows of every state (an index array or boolean mask)."""
        idx = np.asarray(index)
        return Trajectory(
            [_take(s, idx) for s in self.states],
            labels=None if self.labels is None else self.labels[idx],
            layer_names=self.layer_names,
            metadata=self.metadata,
            sample_index=None if self.sample_index is None else self.sample_index[idx],
            position=None if self.position is None else self.position[idx],
            kinds=self.kinds,
        )

    def subsample(self, m: int, seed: int = 0) -> Trajectory:
        """The same ``m`` randomly chosen rows of every state (seeded, order kept)."""
        n = self.n_samples
        if not isinstance(m, int | np.integer) or isinstance(m, bool) or not (1 <= m <= n):
            raise ConfigError(f"subsample m={m!r}: expected an int with 1 <= m <= N={n}")
        if m == n:
            return self
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(n, size=int(m), replace=False))
        return self.rows(idx)

    @classmethod
    def concat(cls, trajectories: Sequence[Trajectory]) -> Trajectory:
        """One trajectory holding the rows of ``trajectories`` in order (e.g. the captures of
        several batches or files of one corpus).

        They must agree on the layer names, widths and kinds, and all have labels or none, and
        all be per token or none. ``sample_index`` is offset so that each part's sequences come
        after the previous parts' (part p's indices are shifted by one plus the largest index of
        the parts before it); ``position`` is kept. Metadata are the first part's.
        """
        parts = list(trajectories)
        if not parts:
            raise ConfigError("concat needs at least one trajectory; got none")
        bad = [type(p).__name__ for p in parts if not isinstance(p, Trajectory)]
        if bad:
            raise ConfigError(f"concat takes Trajectory objects; got {bad[0]}")
        first = parts[0]
        for i, p in enumerate(parts[1:], start=1):
            for what in ("layer_names", "widths", "kinds"):
                if getattr(p, what) != getattr(first, what):
                    raise ConfigError(
                        f"trajectory {i} has {what} {list(getattr(p, what))} but trajectory 0 "
                        f"has {list(getattr(first, what))}; concat needs the same states")
            for what in ("labels", "sample_index"):
                if (getattr(p, what) is None) != (getattr(first, what) is None):
                    raise ConfigError(
                        f"trajectory {i} {'has no' if getattr(p, what) is None else 'has'} "
                        f"{what} but trajectory 0 {'has' if getattr(p, what) is None else 'has no'}"
                        f"; concat needs all or none")
        states = [np.concatenate([p.states[j] for p in parts]) for j in range(len(first.states))]
        labels = None if first.labels is None else np.concatenate([p.labels for p in parts])
        sample_index = position = None
        if first.sample_index is not None:
            shifted, offset = [], 0
            for p in parts:
                assert p.sample_index is not None
                shifted.append(p.sample_index + offset)
                offset += int(p.sample_index.max()) + 1
            sample_index = np.concatenate(shifted)
        if first.position is not None and all(p.position is not None for p in parts):
            position = np.concatenate([p.position for p in parts if p.position is not None])
        return cls(states, labels=labels, layer_names=first.layer_names,
                   metadata=first.metadata, sample_index=sample_index, position=position,
                   kinds=first.kinds)

    # ------------------------------------------------------------------- I/O
    def save(self, path: str | os.PathLike[str], *, compress: bool = True) -> Path:
        """Write to ``.npz`` (no pickle), atomically: a reader never sees a half-written file.

        ``compress=False`` writes the members uncompressed, state by state in blocks of rows,
        so that :meth:`load` with ``mmap=True`` maps them instead of reading them (for corpora
        larger than memory).
        """
        from layerflow._npzmap import row_blocks, write_stored_npz

        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        arrays: dict[str, np.ndarray] = {f"state_{i}": s for i, s in enumerate(self.states)}
        arrays["layer_names"] = np.array(self.layer_names, dtype=np.str_)
        header = {"format": _FORMAT, "n_states": len(self.states), "metadata": dict(self.metadata)}
        arrays["header"] = np.array(json.dumps(header), dtype=np.str_)
        arrays["kinds"] = np.array(self.kinds, dtype=np.str_)
        if self.labels is not None:
            arrays["labels"] = self.labels
        for key in ("sample_index", "position"):
            value = getattr(self, key)
            if value is not None:
                arrays[key] = value
        if not compress:
            def chunks(a: np.ndarray) -> Any:
                rows = max(1, (64 << 20) // max(1, a.nbytes // max(1, len(a)))) if a.ndim else 1
                return lambda: (a[sl] for sl in row_blocks(len(a), rows)) if a.ndim else [a]

            return write_stored_npz(path, [(k, a.dtype, a.shape, chunks(a))
                                           for k, a in arrays.items()])
        with atomic_open(path) as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]
        return path

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], max_bytes: int | None = _MAX_LOAD_BYTES, *,
        mmap: bool = False,
    ) -> Trajectory:
        """Read a trajectory written by :meth:`save`, or any ``.npz`` of ``state_0, state_1, …``.

        Never unpickles: object arrays are refused with :class:`DataError`. Sizes declared
        in the archive are checked against the file and ``max_bytes`` (default 4 GiB; ``None``
        for no cap) before anything is allocated (:func:`layerflow.data._npzsafe.read_npz`).
        With ``mmap=True`` an uncompressed archive (``save(…, compress=False)``) is mapped
        read-only instead of read: nothing is allocated, so ``max_bytes`` does not apply, and
        only the rows a computation touches are read from disk; a compressed archive is read
        as without it.
        """
        from layerflow._npzmap import map_npz
        from layerflow.data._npzsafe import read_npz

        path = Path(path)
        if not path.is_file():
            raise DataError(f"trajectory file {str(path)!r} does not exist")
        mapped = map_npz(path, DataError) if mmap else None
        arrays = mapped if mapped is not None else read_npz(path, max_bytes=max_bytes,
                                                            error=DataError)
        keys = set(arrays)
        meta: dict[str, Any] = {}
        if "header" in keys:
            try:
                header = json.loads(str(arrays["header"]))
            except (json.JSONDecodeError, ValueError) as exc:
                raise DataError(f"{str(path)!r}: header is not valid JSON: {exc}") from exc
            raw_meta = header.get("metadata", {}) if isinstance(header, dict) else None
            if not isinstance(raw_meta, dict):
                raise DataError(
                    f"{str(path)!r}: header is not valid JSON of the form "
                    f'{{"metadata": {{…}}}}; got {str(arrays["header"])[:80]!r}'
                )
            meta = raw_meta
        n_states = 0
        while f"state_{n_states}" in keys:
            n_states += 1
        if n_states == 0:
            raise DataError(
                f"{str(path)!r} holds no arrays named state_0, state_1, …; found {sorted(keys)}"
            )
        states = [arrays[f"state_{i}"] for i in range(n_states)]
        names = None
        if "layer_names" in keys:
            ln = arrays["layer_names"]
            if ln.ndim != 1:
                raise DataError(
                    f"{str(path)!r}: layer_names has shape {ln.shape}; expected ({n_states},)"
                )
            names = [str(x) for x in ln]
        labels = arrays.get("labels")
        kinds = [str(k) for k in arrays["kinds"]] if "kinds" in keys else None
        return cls(states, labels=labels, layer_names=names, metadata=meta,
                   sample_index=arrays.get("sample_index"), position=arrays.get("position"),
                   kinds=kinds)

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
        *,
        layers: Any = None,
        final_norm: bool = False,
    ) -> Trajectory:
        """A trajectory from a transformer's hidden states, without importing transformers.

        ``hidden_states`` is what a Hugging Face model returns with ``output_hidden_states=True``:
        a tuple of L+1 arrays of shape ``(N, T, d)`` (the embeddings entering the first block,
        then each block's output), as torch tensors or NumPy arrays. With ``per_token=True``
        (default) every token is a point (:func:`layerflow._tokens.token_rows`): ``N·T`` rows
        less those that ``attention_mask`` (``(N, T)``, 1 for real tokens, 0 for padding) drops,
        with ``sample_index`` and ``position`` (the token's index among its sequence's real
        tokens, so left padding does not shift it) kept and ``labels`` given per sequence
        ``(N,)`` or per token ``(N, T)``. With ``per_token=False`` each sequence is one point of
        width ``T·d`` (no mask then).

        Names default to ``"embeddings", "layer1", …, "layerL"`` (kinds ``embedding`` then
        ``block``). ``final_norm=True`` says that the last hidden state has the model's final
        normalisation applied, as GPT-2's and Llama's do (not BERT's): it is then named
        ``"final_norm"`` with kind ``final_norm``, which the views leave out unless asked.
        ``layers`` picks hidden states by index (ints, or a slice) from the full tuple and keeps
        their names: ``layers=slice(0, None, 2)`` gives ``embeddings, layer2, layer4, …`` (a
        sliced tuple ``hidden_states[::2]`` cannot say which states it holds, so pass the full
        tuple and ``layers``).
        """
        if hasattr(hidden_states, "ndim") and getattr(hidden_states, "ndim", 0) == 4:
            hidden_states = list(hidden_states)  # stacked (L+1, N, T, d)
        if not isinstance(hidden_states, Sequence) or isinstance(hidden_states, str | bytes):
            raise ConfigError(
                f"hidden_states is a {type(hidden_states).__name__}; expected the tuple of "
                "(N, T, d) arrays a model returns with output_hidden_states=True"
            )
        n_all = len(hidden_states)
        if n_all == 0:
            raise ConfigError("hidden_states is empty; expected the L+1 states (N, T, d)")
        names = (list(layer_names) if layer_names is not None
                 else ["embeddings", *(f"layer{i}" for i in range(1, n_all))])
        if len(names) != n_all:
            raise ConfigError(
                f"layer_names has {len(names)} names but there are {n_all} hidden states"
            )
        kinds = ["embedding", *(["block"] * (n_all - 1))]
        if final_norm:
            if layer_names is None:
                names[-1] = "final_norm"
            kinds[-1] = "final_norm"
        picked = _pick(layers, n_all)
        arrays = [as_array(hidden_states[i], f"hidden_states[{i}]", ConfigError)
                  for i in picked]
        names = [names[i] for i in picked]
        kinds = [kinds[i] for i in picked]
        meta = dict(metadata or {})
        if not per_token:
            if attention_mask is not None:
                raise ConfigError(
                    "attention_mask drops padded tokens, which needs per_token=True; with "
                    "per_token=False each sequence is one point of width T·d"
                )
            return cls(arrays, labels=labels, layer_names=names, metadata=meta, kinds=kinds)
        rows = token_rows(arrays, names, attention_mask, labels, ConfigError)
        return cls(rows.states, labels=rows.labels, layer_names=names,
                   metadata={**meta, "per_token": True}, sample_index=rows.sample_index,
                   position=rows.position, kinds=kinds)


def _pick(layers: Any, n: int) -> list[int]:
    """Indices ``layers`` (None: all; a slice; ints, negative from the end) into ``n`` states."""
    if layers is None:
        return list(range(n))
    if isinstance(layers, slice):
        out = list(range(n))[layers]
    else:
        if isinstance(layers, int | str) or not isinstance(layers, Sequence | range):
            raise ConfigError(f"layers={layers!r}: expected a slice or a list of indices")
        out = []
        for i in layers:
            if isinstance(i, bool) or not isinstance(i, int | np.integer) or not -n <= i < n:
                raise ConfigError(f"layers: {i!r} is not an index into the {n} hidden "
                                      f"states (expected an int in [{-n}, {n - 1}])")
            out.append(int(i) % n)
    if not out:
        raise ConfigError(f"layers={layers!r} selects none of the {n} hidden states")
    if len(set(out)) != len(out):
        raise ConfigError(f"layers={layers!r} repeats a hidden state")
    return out


def save_streamed(
    path: str | os.PathLike[str],
    n: int,
    states: Sequence[tuple[int, Any, Any]],
    *,
    layer_names: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    metadata: Mapping[str, _MetaValue] | None = None,
    labels: Any = None,
    sample_index: Any = None,
    position: Any = None,
) -> Path:
    """Write a trajectory of ``n`` rows that never has to be in memory: an uncompressed ``.npz``
    that :meth:`Trajectory.load` with ``mmap=True`` maps.

    ``states`` holds one ``(width, dtype, chunks)`` per state, ``chunks()`` yielding the
    state's rows in order as arrays of shape ``(rows, width)`` (any number of rows each, ``n``
    in all). The names, kinds, metadata and row arrays are checked as :class:`Trajectory`
    checks them (the states themselves when the file is loaded).
    """
    from layerflow._npzmap import write_stored_npz

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"n={n!r}: expected the number of rows, an int >= 1")
    # the small members, checked by building a one-row trajectory of the same shape
    shape = Trajectory([np.zeros((1, int(w)), dtype=d) for w, d, _ in states],
                       layer_names=layer_names, metadata=metadata, kinds=kinds)
    small: dict[str, np.ndarray] = {
        "layer_names": np.array(shape.layer_names, dtype=np.str_),
        "header": np.array(json.dumps({"format": _FORMAT, "n_states": len(states),
                                       "metadata": dict(shape.metadata)}), dtype=np.str_),
        "kinds": np.array(shape.kinds, dtype=np.str_),
    }
    if labels is not None:
        lab = _to_numpy(labels, "labels")
        if lab.shape != (n,):
            raise ConfigError(f"labels have shape {lab.shape}; expected ({n},)")
        small["labels"] = lab
    for key, value in (("sample_index", sample_index), ("position", position)):
        arr = _row_index(value, key, n)
        if arr is not None:
            small[key] = arr
    members: list[Any] = [(f"state_{i}", np.dtype(d), (n, int(w)), chunks)
                          for i, (w, d, chunks) in enumerate(states)]
    members += [(k, a.dtype, a.shape, lambda a=a: [a]) for k, a in small.items()]
    return write_stored_npz(path, members)
