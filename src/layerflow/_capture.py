"""Capture what a network does to data, layer by layer, as a :class:`Trajectory`.

The model runs as its user runs it: on a tensor, on keyword inputs (a mapping such as a
tokenizer's ``BatchEncoding``, so the attention mask reaches the model), or on an iterable of
batches (a ``DataLoader``). Forward hooks on named submodules (:mod:`layerflow._hooks`, shared with
the Jacobian diagnostics and the transport penalty) record each state batch by batch; the model
runs in eval mode under ``torch.no_grad()``; its mode is restored and its weights are never
changed; the hooks are removed even when the forward pass raises. States larger than the memory
budget go to an uncompressed ``.npz`` on disk as they are captured and come back mapped.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from layerflow._errors import ConfigError
from layerflow._hooks import (
    LayerHooks,
    LayerSpec,
    accepts_keyword,
    eval_mode,
    input_key,
    keyword_input,
    model_input,
    post_add_layers,
    resolve_layers,
    takes_token_ids,
)
from layerflow._tokens import as_array, token_rows
from layerflow._trajectory import Trajectory, save_streamed


def _mean_pool(t: torch.Tensor) -> torch.Tensor:
    """``(N, C, *positions) -> (N, C)``: the mean over the positions; 2-D states unchanged."""
    return t.mean(dim=tuple(range(2, t.ndim))) if t.ndim > 2 else t


#: pool name -> function on a batch of states (keeps the batch dimension)
POOLS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"mean": _mean_pool}


def _as_input(X: Any) -> torch.Tensor:
    """``X`` as a tensor (not yet cast), checked: real, at least 1-D, at least one sample."""
    if isinstance(X, torch.Tensor):
        t = X.detach()
    else:
        try:
            arr = np.asarray(X)
        except Exception as exc:
            raise ConfigError(f"X could not be converted to an array: {exc}") from exc
        if arr.dtype.kind not in "biuf":
            raise ConfigError(f"X has dtype {arr.dtype}; expected a real numeric array")
        if arr.ndim == 0:
            raise ConfigError("X is a scalar; expected an array of shape (N, …)")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim == 0:
        raise ConfigError("X is a scalar; expected an array of shape (N, …)")
    if t.shape[0] == 0:
        raise ConfigError(f"X has shape {tuple(t.shape)}: 0 samples; expected at least one")
    if t.is_complex():
        raise ConfigError(f"X has dtype {t.dtype}; expected a real numeric array")
    return t


# ------------------------------------------------------------------------------- batches
Batch = tuple["torch.Tensor | dict[str, Any]", Any]  # (inputs, labels of the batch or None)


def _is_batch_item(x: Any) -> bool:
    return isinstance(x, torch.Tensor | Mapping) or (
        isinstance(x, tuple | list) and len(x) == 2 and isinstance(x[0], torch.Tensor | Mapping))


def _is_iterable_of_batches(X: Any) -> bool:
    if isinstance(X, torch.Tensor | np.ndarray | Mapping | str | bytes):
        return False
    if isinstance(X, Sequence):
        return len(X) > 0 and all(_is_batch_item(x) for x in X)
    return isinstance(X, Iterable)  # a DataLoader, a generator, …


def _split(inputs: Mapping[str, Any], n: int, start: int, stop: int) -> dict[str, Any]:
    return {k: (v[start:stop] if hasattr(v, "shape") and len(v.shape) >= 1
                and int(v.shape[0]) == n else v) for k, v in inputs.items()}


def _mapping_rows(inputs: Mapping[str, Any]) -> int:
    key = input_key(inputs, ConfigError)
    value = inputs[key]
    if not hasattr(value, "shape") or len(value.shape) == 0 or int(value.shape[0]) == 0:
        raise ConfigError(f"inputs[{key!r}] has no rows; expected shape (N, …) with N >= 1")
    return int(value.shape[0])


def _batches(X: Any, batch_size: int, labels: Any,
             per_token_rows: bool = False) -> tuple[Iterator[Batch], int | None, bool]:
    """The batches of ``X`` as ``(inputs, labels)`` pairs, their number when known, and whether
    labels come with the batches."""
    if isinstance(X, Mapping):
        inputs = dict(X)
        n = _mapping_rows(inputs)
        lab = None if labels is None else as_array(labels, "labels", ConfigError, real=False)
        if lab is not None and (lab.ndim == 0 or lab.shape[0] != n):
            raise ConfigError(f"labels have shape {lab.shape}; expected ({n},) to match the "
                               "inputs")

        def gen_map() -> Iterator[Batch]:
            for s in range(0, n, batch_size):
                yield _split(inputs, n, s, s + batch_size), (
                    None if lab is None else lab[s : s + batch_size])

        return gen_map(), -(-n // batch_size), False
    if _is_iterable_of_batches(X):
        if labels is not None:
            raise ConfigError("labels= with an iterable of batches: give each batch as "
                               "(inputs, labels) instead")
        total = len(X) if hasattr(X, "__len__") else None

        def gen_iter() -> Iterator[Batch]:
            for i, item in enumerate(X):
                if isinstance(item, torch.Tensor | Mapping):
                    yield (dict(item) if isinstance(item, Mapping) else item), None
                elif _is_batch_item(item):
                    first = item[0]
                    yield (dict(first) if isinstance(first, Mapping) else first), item[1]
                else:
                    raise ConfigError(
                        f"batch {i} is a {type(item).__name__}; expected a tensor, a mapping of "
                        "keyword inputs or a pair (inputs, labels)")

        return gen_iter(), total, True
    x = _as_input(X)
    n = int(x.shape[0])
    lab = None if labels is None else as_array(labels, "labels", ConfigError, real=False)
    if lab is not None and (lab.ndim == 0 or lab.shape[0] != n):
        per_token = (f" (one per sequence) or ({n}, {int(x.shape[1])}) (one per token)"
                     if per_token_rows and x.ndim >= 2 else " to match X")
        raise ConfigError(f"labels have shape {lab.shape}; expected ({n},){per_token}")

    def gen_tensor() -> Iterator[Batch]:
        for s in range(0, n, batch_size):
            yield x[s : s + batch_size], None if lab is None else lab[s : s + batch_size]

    return gen_tensor(), -(-n // batch_size), False


# --------------------------------------------------------------------------------- sink
class _Sink:
    """Rows of every state, batch by batch: in memory, or in raw files on disk once they pass
    ``budget`` bytes (or from the start when ``out`` is given)."""

    def __init__(self, names: Sequence[str], budget: int, out: Path | None) -> None:
        self.names = list(names)
        self.budget = budget
        self.out = out
        self.parts: list[list[np.ndarray]] = [[] for _ in names]
        self.labels: list[np.ndarray] = []
        self.sample_index: list[np.ndarray] = []
        self.position: list[np.ndarray] = []
        self.nbytes = 0
        self.files: list[Any] | None = None
        self.dir: Path | None = None
        self.rows = 0
        self.widths: list[int] | None = None
        self.dtypes: list[np.dtype] | None = None

    def add(self, states: list[np.ndarray], batch: int) -> None:
        widths = [int(s.shape[1]) for s in states]
        if self.widths is None:
            self.widths, self.dtypes = widths, [s.dtype for s in states]
        elif widths != self.widths:
            bad = next(i for i, (a, b) in enumerate(zip(widths, self.widths, strict=True))
                       if a != b)
            raise ConfigError(
                f"batch {batch} gives state {self.names[bad]!r} width {widths[bad]} but the first "
                f"batch gave {self.widths[bad]}; sequences of different lengths need "
                "per_token=True (or padding to one length)")
        assert self.dtypes is not None
        states = [s.astype(d, copy=False) for s, d in zip(states, self.dtypes, strict=True)]
        self.rows += int(states[0].shape[0])
        if self.files is None:
            for part, s in zip(self.parts, states, strict=True):
                part.append(s)
            self.nbytes += sum(s.nbytes for s in states)
            if self.out is not None or self.nbytes > self.budget:
                self._spill()
        else:
            for fh, s in zip(self.files, states, strict=True):
                fh.write(np.ascontiguousarray(s).data.cast("B"))

    def _spill(self) -> None:
        parent = self.out.parent if self.out is not None else None
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix=".layerflow-capture-", dir=parent))
        self.files = [open(self.dir / f"state_{i}.raw", "wb") for i in range(len(self.names))]
        for fh, part in zip(self.files, self.parts, strict=True):
            for s in part:
                fh.write(np.ascontiguousarray(s).data.cast("B"))
        self.parts = [[] for _ in self.names]

    def close(self) -> None:
        for fh in self.files or []:
            fh.close()
        if self.dir is not None:
            for f in self.dir.iterdir():
                f.unlink()
            self.dir.rmdir()

    def trajectory(self, layer_names: list[str], kinds: list[str],
                   meta: dict[str, Any]) -> Trajectory:
        labels = np.concatenate(self.labels) if self.labels else None
        sample_index = np.concatenate(self.sample_index) if self.sample_index else None
        position = np.concatenate(self.position) if self.position else None
        if self.files is None:
            states = [np.concatenate(p) if len(p) > 1 else p[0] for p in self.parts]
            return Trajectory(states, labels=labels, layer_names=layer_names, metadata=meta,
                              sample_index=sample_index, position=position, kinds=kinds)
        for fh in self.files:
            fh.close()
        assert self.dir is not None and self.widths is not None and self.dtypes is not None
        path = self.out if self.out is not None else self.dir / "trajectory.npz"
        block = 1 << 26
        specs: list[tuple[int, Any, Any]] = []
        for i, (w, d) in enumerate(zip(self.widths, self.dtypes, strict=True)):
            raw = self.dir / f"state_{i}.raw"
            rows = max(1, block // (w * np.dtype(d).itemsize))

            def chunks(raw: Path = raw, d: np.dtype = d, w: int = w,
                       rows: int = rows) -> Iterator[np.ndarray]:
                with open(raw, "rb") as fh:
                    while True:
                        arr = np.fromfile(fh, dtype=d, count=rows * w)
                        if arr.size == 0:
                            return
                        yield arr.reshape(-1, w)

            specs.append((w, d, chunks))
        save_streamed(path, self.rows, specs, layer_names=layer_names, kinds=kinds,
                      metadata=meta, labels=labels, sample_index=sample_index,
                      position=position)
        for i in range(len(self.names)):
            (self.dir / f"state_{i}.raw").unlink()
        traj = Trajectory.load(path, mmap=True)
        if self.out is None:
            path.unlink()  # the mapping keeps the data until the trajectory is dropped
        self.dir.rmdir()
        self.dir = None
        return traj


# ------------------------------------------------------------------------------- capture
def capture(
    model: nn.Module,
    X: Any,
    layers: Sequence[str | int] | None = None,
    batch_size: int = 1024,
    labels: Any = None,
    metadata: Mapping[str, str | int | float | bool | None] | None = None,
    *,
    pool: str | None = None,
    per_token: bool = False,
    attention_mask: Any = None,
    out: str | os.PathLike[str] | None = None,
    max_memory: int | None = None,
    progress: bool | None = None,
) -> Trajectory:
    """Run ``model`` on ``X`` as its user would and return the trajectory ``X_0, X_1, …, X_L``.

    Parameters
    ----------
    model
        Any ``torch.nn.Module``. It runs on its own device (that of its first parameter, CPU if it
        has none) in eval mode under ``torch.no_grad()``; its training mode is restored afterwards
        and its weights are not changed.
    X
        What the model's forward takes:

        - a NumPy array or tensor of shape ``(N, …)``, split into batches of ``batch_size`` rows
          and passed positionally. Inputs are cast to the model's dtype, except the token ids of
          a model with an ``nn.Embedding`` (integers, or floats holding whole numbers), which the
          model gets as int64 exactly (:func:`layerflow._hooks.model_input`);
        - a mapping of keyword inputs such as a tokenizer's ``BatchEncoding``
          (``input_ids``, ``attention_mask``, …), split into batches of ``batch_size`` rows and
          passed as keyword arguments, so the attention mask reaches the model;
        - an iterable of batches (a ``DataLoader``, a list, a generator), each a tensor, a
          mapping of keyword inputs, or a pair ``(inputs, labels)``.

        ``X_0`` is the model's input: the tensor, or the mapping's ``input_ids`` (kind
        ``input_ids``; else ``inputs_embeds``, …), flattened per sample or one row per token.
    layers
        Which states to capture: submodule names as in ``model.named_modules()``, globs
        (``"transformer.h.*"``: ``*`` within one dotted part, ``**`` across) and int indices into
        the default list. Default: ``model.capture_layers`` for layerflow models; for a Hugging
        Face-style language model (``model.config.num_hidden_layers`` blocks in a
        ``ModuleList``) its residual stream: ``embeddings`` (the input of the first block),
        each block's output, and ``final_norm`` (the output of the final normalisation, e.g.
        GPT-2's ``ln_f``; the last of Hugging Face's ``hidden_states``); else the top-level
        children. Each must run exactly once per forward pass and return a tensor of
        batch-first shape (or a tuple whose first element is one). A
        residual block that applies an activation after its add (torchvision's ``BasicBlock``
        and ``Bottleneck``, ``relu(x + F(x))``, or a stage ending with one) is recorded at the
        sum ``x + F(x)`` before that activation, as the transport penalty and the Jacobian
        diagnostics read it (:data:`layerflow._hooks.POST_ADD_RULES`); ``metadata["pre_activation"]``
        names those layers.
    batch_size
        Rows per forward pass (for an array or a mapping).
    labels
        Optional labels of shape ``(N,)`` stored in the trajectory (with ``per_token=True`` also
        ``(N, T)``, one per token). With an iterable, give each batch as ``(inputs, labels)``.
    metadata
        Extra metadata merged into the trajectory's (which records ``model``, the class name,
        ``pool`` / ``per_token`` when used, the environment of
        :func:`layerflow._environment.environment` and, for a language model, the module
        behind ``final_norm``).
    pool
        ``None`` (default): every state is flattened to ``(N, -1)``. ``"mean"``: states of shape
        ``(N, C, *positions)`` become ``(N, C)``, the mean over the positions; 2-D states are
        kept. Pooled batch by batch, so the full maps are never stored.
    per_token
        ``True``: states of shape ``(N, T, d)`` become one point per token, rows sample-major,
        with ``sample_index`` and ``position`` (the token's index among its sequence's real
        tokens) kept (:func:`layerflow._tokens.token_rows`); batches may differ in T.
    attention_mask
        Shape ``(N, T)``, 1 for real tokens, 0 for padding, for a tensor ``X`` (a mapping or
        batches carry their own ``attention_mask``). Passed to the model as
        ``attention_mask=`` when its forward takes that keyword; with ``per_token=True`` the
        padded tokens' rows are dropped.
    out
        A path: the trajectory is written there as an uncompressed ``.npz`` while it is
        captured and returned mapped from it (:meth:`Trajectory.load` with ``mmap=True``).
    max_memory
        Bytes of states to hold in memory (default: half the available memory); a capture
        that passes it continues on disk (``out``, or a temporary file that is removed once the
        returned trajectory is dropped).
    progress
        Show a progress bar over the batches on standard error: ``None`` (default) when it is a
        terminal, ``True`` always, ``False`` never.

    Returns
    -------
    Trajectory
        Named ``[input, *layers]`` (the input named ``input`` for a tensor, after its key for a
        mapping), with each state's kind (``input``, ``input_ids``, ``embedding``, ``block``,
        ``final_norm``, ``pooled``).

    Raises
    ------
    ConfigError
        Unknown or repeated layers, globs that match nothing, layers that return non-tensors,
        that do not run once per pass or whose output is not batch-first; an unknown ``pool``,
        ``pool`` with ``per_token``, a mask given twice or where no token rows are made, batches
        of another form, per-token states or masks or labels whose shapes do not fit.
    """
    from layerflow._environment import environment
    from layerflow._memory import available_bytes
    from layerflow._progress import progress_bar

    if not isinstance(model, nn.Module):
        raise ConfigError(f"model is a {type(model).__name__}; expected a torch.nn.Module")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r}: expected an int >= 1")
    specs = resolve_layers(model, layers, ConfigError)
    if any(s.name in ("input", "input_ids") for s in specs):
        raise ConfigError("a layer named 'input' or 'input_ids' clashes with the input state's "
                           "name")
    if pool is not None and pool not in POOLS:
        raise ConfigError(f"pool={pool!r}: expected None or one of {sorted(POOLS)}")
    if not isinstance(per_token, bool):
        raise ConfigError(f"per_token={per_token!r}: expected True or False")
    if per_token and pool is not None:
        raise ConfigError(f"pool={pool!r} with per_token=True: pooling makes one point per "
                           "sample, per_token one per token; choose one")
    if max_memory is not None and (isinstance(max_memory, bool) or not isinstance(
            max_memory, int) or max_memory < 0):
        raise ConfigError(f"max_memory={max_memory!r}: expected an int >= 0 (bytes)")
    tensor_input = isinstance(X, torch.Tensor | np.ndarray) or not (
        isinstance(X, Mapping) or _is_iterable_of_batches(X))
    if attention_mask is not None and not tensor_input:
        raise ConfigError("attention_mask= is for a tensor X; keyword inputs and batches carry "
                           "their own 'attention_mask'")
    mask_to_model = attention_mask is not None and accepts_keyword(model, "attention_mask")
    if attention_mask is not None and not per_token and not mask_to_model:
        raise ConfigError(f"attention_mask drops padded tokens, which needs per_token=True "
                           f"({type(model).__name__}.forward takes no attention_mask)")

    param = next(iter(model.parameters()), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    mask_all = None
    if attention_mask is not None:
        mask_all = as_array(attention_mask, "attention_mask", ConfigError)
    batches, total, _ = _batches(X, batch_size, labels, per_token)
    transform = POOLS[pool] if pool is not None else None
    budget = available_bytes() // 2 if max_memory is None else max_memory
    out_path = None if out is None else Path(out)
    if out_path is not None and out_path.suffix != ".npz":
        out_path = out_path.with_suffix(out_path.suffix + ".npz")

    outputs = [s for s in specs if s.at == "output"]
    inputs_at = [s for s in specs if s.at == "input"]
    got: dict[str, torch.Tensor] = {}
    seen_inputs: dict[str, int] = {}

    def record(name: str, _inp: torch.Tensor | None, out_t: torch.Tensor) -> None:
        got[name] = out_t.detach()

    def pre_hook(spec: LayerSpec) -> Callable[..., None]:
        def hook(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            x = args[0] if args else kwargs.get("hidden_states")
            if not isinstance(x, torch.Tensor):
                raise ConfigError(f"the input of {spec.module!r} is a {type(x).__name__}; "
                                   f"the state {spec.name!r} needs a tensor")
            seen_inputs[spec.name] = seen_inputs.get(spec.name, 0) + 1
            got["<in>" + spec.name] = x.detach()
        return hook

    modules = dict(model.named_modules())
    sink: _Sink | None = None
    layer_names: list[str] = []
    kinds: list[str] = []
    offset = 0
    input_name = "input"
    handles = [modules[s.module].register_forward_pre_hook(pre_hook(s), with_kwargs=True)
               for s in inputs_at]
    try:
        with LayerHooks(model, list(dict.fromkeys(s.module for s in outputs)), record,
                        who="capture", needs="capture needs", error=ConfigError) as hooks, \
                eval_mode(model), torch.no_grad(), \
                progress_bar("capture", total, progress) as advance:
            for b, (inputs, blabels) in enumerate(batches):
                got.clear()
                seen_inputs.clear()
                mask_b: Any = None
                if isinstance(inputs, dict):
                    key = input_key(inputs, ConfigError)
                    kw = keyword_input(model, inputs, device, dtype)
                    x_state = torch.as_tensor(inputs[key])
                    rows = int(x_state.shape[0])
                    model(**kw)
                    mask_b = inputs.get("attention_mask")
                    input_name = key
                    kind0 = "input_ids" if key == "input_ids" else "input"
                else:
                    x_in = inputs.detach() if isinstance(inputs, torch.Tensor) else _as_input(
                        inputs)
                    x_model = model_input(model, x_in, device, dtype)
                    rows = int(x_model.shape[0])
                    if mask_all is not None:
                        mask_b = mask_all[offset : offset + rows]
                    if mask_to_model and mask_b is not None:
                        model(x_model, attention_mask=torch.as_tensor(mask_b).to(device))
                    else:
                        model(x_model)
                    if x_in.is_floating_point() and not x_model.is_floating_point():
                        # float token ids: held as numbers in the model's dtype (float32 for a
                        # half-precision model, which cannot hold every id exactly)
                        x_state = x_model.to(dtype if dtype in (torch.float32, torch.float64)
                                             else torch.float32)
                    else:
                        x_state = x_model
                    ids = takes_token_ids(model) and not x_model.is_floating_point()
                    kind0 = "input_ids" if ids else "input"
                hooks.check_once()
                hooks.reset_calls()
                for s in inputs_at:
                    if seen_inputs.get(s.name, 0) != 1:
                        raise ConfigError(f"{s.module!r} ran {seen_inputs.get(s.name, 0)} times "
                                           "in one forward pass; capture needs each layer to "
                                           "run exactly once")
                raw = [x_state.detach()]
                for s in specs:
                    t = got["<in>" + s.name] if s.at == "input" else got[s.module]
                    if t.ndim == 0 or t.shape[0] != rows:
                        raise ConfigError(
                            f"layer {s.module!r} returned shape {tuple(t.shape)} for a batch of "
                            f"{rows}; expected a batch-first output ({rows}, …)")
                    raw.append(t)
                if transform is not None:
                    raw = [transform(t) for t in raw]
                layer_names = [input_name, *(s.name for s in specs)]
                kinds = [kind0, *(s.kind for s in specs)]
                arrays = [as_array(t, f"layer {name!r}", ConfigError)  # bfloat16 -> float32
                          for t, name in zip(raw, layer_names, strict=True)]
                if sink is None:
                    sink = _Sink(layer_names, budget, out_path)
                if per_token:
                    if arrays[0].ndim not in (2, 3):
                        what = "X" if tensor_input else f"inputs[{input_name!r}]"
                        raise ConfigError(
                            f"{what} has shape {arrays[0].shape}; per_token=True needs "
                            "sequences of shape (N, T) (token ids) or (N, T, d)")
                    tok = token_rows(arrays, layer_names, mask_b, blabels, ConfigError)
                    sink.add(tok.states, b)
                    sink.sample_index.append(tok.sample_index + offset)
                    sink.position.append(tok.position)
                    if tok.labels is not None:
                        sink.labels.append(tok.labels)
                else:
                    sink.add([a.reshape(rows, -1) for a in arrays], b)
                    if blabels is not None:
                        lab = as_array(blabels, "labels", ConfigError, real=False)
                        if lab.shape[:1] != (rows,):
                            raise ConfigError(f"labels of batch {b} have shape {lab.shape}; "
                                               f"expected ({rows},)")
                        sink.labels.append(lab.reshape(rows, *lab.shape[1:]))
                offset += rows
                advance(1)
        if sink is None:
            raise ConfigError("X holds no batch; expected at least one sample")
        if mask_all is not None and mask_all.shape[0] != offset:
            raise ConfigError(f"attention_mask has shape {mask_all.shape}; expected (N, T) = "
                               f"({offset}, …) like X")
        meta: dict[str, Any] = {"model": type(model).__name__}
        if pool is not None:
            meta["pool"] = pool
        if per_token:
            meta["per_token"] = True
        final = next((s.module for s in specs if s.kind == "final_norm"), None)
        if final is not None:
            meta["final_norm"] = final
        if attention_mask is not None:
            meta["attention_mask_to_model"] = mask_to_model
        # the post-add rule (layerflow._hooks.POST_ADD_RULES): a block with an activation after
        # its residual add is recorded at the sum before that activation; the layers it applied to
        pre_activation = post_add_layers(model, [s.module for s in outputs])
        if pre_activation:
            meta["pre_activation"] = ",".join(pre_activation)
        meta.update(environment(device))
        meta.update(dict(metadata or {}))
        if sink.labels and len(sink.labels) != (b + 1):
            raise ConfigError("some batches carry labels and others do not; give all or none")
        return sink.trajectory(layer_names, kinds, meta)
    finally:
        for h in handles:
            h.remove()
        if sink is not None and sink.dir is not None:
            sink.close()

