"""Forward hooks on named submodules: the one machinery behind capture, Jacobians and penalties.

:func:`layerflow.capture` (each layer's output), :func:`layerflow.maps.jacobian_diagnostics`
(each layer's input and output) and :class:`layerflow.TransportPenalty` (each block's input and
output, with their autograd graph) all read submodules through :class:`LayerHooks`:

    with LayerHooks(model, ["blocks.0", "blocks.1"], record, inputs=True,
                    needs="Jacobian diagnostics need", error=MapsError):
        model(x)        # record(name, input, output) is called once per layer call

:func:`record_layers` runs a model over a batched input with such hooks (eval mode, no
gradients) and returns each layer's concatenated input and/or output. Hooks are removed and every
module's train/eval flag restored even when the forward pass raises. :func:`model_input` turns
user inputs into what a model takes (token ids exactly, everything else in the model's dtype).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from layerflow.errors import LayerflowError

__all__ = ["EMBEDDINGS", "FINAL_NORM", "LayerHooks", "LayerSpec", "ResidualStream",
           "accepts_keyword", "default_layers", "eval_mode", "input_key", "keyword_input",
           "model_input", "named_submodules", "record_layers", "residual_stream",
           "resolve_layers", "state_kind", "takes_token_ids"]

Record = Callable[[str, "torch.Tensor | None", torch.Tensor], None]


def named_submodules(
    model: nn.Module, names: Sequence[str], error: type[LayerflowError], what: str = "layers"
) -> dict[str, nn.Module]:
    """``{name: submodule}`` for ``names`` (as in ``model.named_modules()``; the root ``""`` is not
    a layer). Repeated names raise ``error`` naming them (``what`` is how the message calls the
    names, e.g. ``"blocks"``); unknown names raise ``error`` listing the available ones."""
    dup = sorted({n for n in names if list(names).count(n) > 1})
    if dup:
        raise error(f"{what} must be distinct; repeated: {dup}")
    modules = dict(model.named_modules())
    modules.pop("", None)
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise error(
            f"unknown layers {unknown} in {type(model).__name__}; available: {list(modules)}"
        )
    return {n: modules[n] for n in names}


def takes_token_ids(model: nn.Module) -> bool:
    """Whether ``model`` holds an ``nn.Embedding`` / ``nn.EmbeddingBag`` (it takes token ids)."""
    return any(isinstance(m, nn.Embedding | nn.EmbeddingBag) for m in model.modules())


def model_input(model: nn.Module, x: Any, device: torch.device | str,
                dtype: torch.dtype) -> torch.Tensor:
    """``x`` (a NumPy array or tensor) as ``model`` takes it, on ``device``.

    For a model that takes token ids (:func:`takes_token_ids`), integer inputs become int64
    exactly, before any cast: a cast to a narrow model dtype would change them (bfloat16 holds
    the integers exactly only up to 256: 257 -> 256). So do floats that all hold whole numbers
    (a :class:`~layerflow.data.Dataset` stores ids as float32) when the model says it reads
    floats as ids (``model.float_token_ids``, layerflow's transformer): a model whose embedding
    is only, say, a position table and whose input is whole-valued pixels keeps float input.
    Every other input is cast to ``dtype`` as ``torch.as_tensor(x, dtype=dtype)``.
    """
    if takes_token_ids(model):
        t = torch.as_tensor(x)
        if not t.is_floating_point() and not t.is_complex():
            return t.to(device=device, dtype=torch.int64)
        if t.is_floating_point() and getattr(model, "float_token_ids", False):
            ids = t.long()
            if torch.equal(ids.to(t.dtype), t):  # whole and finite
                return ids.to(device)
    return torch.as_tensor(x, dtype=dtype, device=device)


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model.eval()`` inside the block; every module's own flag restored afterwards (a frozen
    submodule kept in eval inside a training model stays in eval), also when the block raises."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        yield model
    finally:
        for module, training in modes:
            module.training = training


def _output_tensor(name: str, output: Any, who: str, needs: str,
                   error: type[LayerflowError]) -> torch.Tensor:
    """The output itself, or the first element of a tuple/list output, when it is a tensor."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple | list):
        if output and isinstance(output[0], torch.Tensor):
            return output[0]
        first = type(output[0]).__name__ if output else "nothing"
        raise error(
            f"layer {name!r} returned a {type(output).__name__} whose first element is {first}; "
            f"{who} takes the first element of a tuple output only when it is a tensor"
        )
    raise error(
        f"layer {name!r} returned {type(output).__name__}, not a tensor; {needs} "
        "tensor outputs (or tuples whose first element is a tensor)"
    )


class LayerHooks:
    """Forward hooks that hand each named submodule's (first) input and output to ``record``.

    Parameters
    ----------
    model
        Any ``nn.Module``.
    names
        Submodule names (as in ``model.named_modules()``); unknown ones raise ``error``.
    record
        Called as ``record(name, input, output)`` after every call of a named submodule:
        ``input`` is its first positional argument (``None`` unless ``inputs=True``), ``output``
        its output, or the first element of a tuple/list output. Tensors are passed as they are
        (with their autograd graph); detach them in ``record`` when that is what you want.
    inputs
        Whether the first positional input is wanted too (then it must be a tensor).
    who, needs
        How messages name the caller, e.g. ``"capture"`` and ``"capture needs"``.
    error
        The :class:`~layerflow.errors.LayerflowError` subclass raised for non-tensor inputs or
        outputs (from inside the forward pass) and unknown names.

    Use as a context manager, or call :meth:`remove`. ``calls[name]`` counts the calls since the
    hooks were attached or :meth:`reset_calls`. A deep copy of the model carries the hooks but
    they ignore its modules: the copy runs as a plain model.
    """

    def __init__(
        self,
        model: nn.Module,
        names: Sequence[str],
        record: Record,
        *,
        inputs: bool = False,
        who: str = "capture",
        needs: str = "capture needs",
        error: type[LayerflowError] = LayerflowError,
    ) -> None:
        self.names = [str(n) for n in names]
        self.modules = named_submodules(model, self.names, error)
        self.calls: dict[str, int] = dict.fromkeys(self.names, 0)
        self._record = record
        self._inputs = inputs
        self._who, self._needs, self._error = who, needs, error
        self._handles = [
            self.modules[n].register_forward_hook(self._make_hook(n, self.modules[n]))
            for n in self.names
        ]

    def _make_hook(self, name: str,
                   module: nn.Module) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
        # a closure, not a bound method: ``copy.deepcopy(model)`` copies it as it is (functions
        # are atomic to deepcopy), so the copy's modules carry it too; it answers only the module
        # it was registered on, so a copy runs as a plain model and never touches these hooks
        def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if mod is not module:
                return
            self.calls[name] += 1
            if self._inputs:
                inp = args[0] if args else None
                out = output[0] if isinstance(output, tuple | list) and output else output
                if not isinstance(inp, torch.Tensor) or not isinstance(out, torch.Tensor):
                    raise self._error(
                        f"layer {name!r} takes {type(inp).__name__} and returns "
                        f"{type(out).__name__}; {self._needs} a tensor -> tensor layer"
                    )
                self._record(name, inp, out)
            else:
                out = _output_tensor(name, output, self._who, self._needs, self._error)
                self._record(name, None, out)

        return hook

    def reset_calls(self) -> None:
        """Set every call count back to 0."""
        for n in self.names:
            self.calls[n] = 0

    def check_once(self) -> None:
        """Raise unless every layer ran exactly once since the last :meth:`reset_calls`."""
        for n in self.names:
            if self.calls[n] != 1:
                raise self._error(
                    f"layer {n!r} ran {self.calls[n]} times in one forward pass; "
                    f"{self._needs} each layer to run exactly once"
                )

    def remove(self) -> None:
        """Detach every hook (idempotent)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> LayerHooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def record_layers(
    model: nn.Module,
    names: Sequence[str],
    x: torch.Tensor,
    batch_size: int,
    *,
    inputs: bool = False,
    device: torch.device | str | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    who: str = "capture",
    needs: str = "capture needs",
    error: type[LayerflowError] = LayerflowError,
) -> dict[str, tuple[torch.Tensor | None, torch.Tensor]]:
    """Run ``model`` on the rows of ``x`` (``batch_size`` per pass) and record ``names``.

    The model runs in eval mode (:func:`eval_mode`) under ``torch.no_grad()``; each layer must run
    exactly once per pass and return a batch-first output (``(rows, …)``). Returns
    ``{name: (input or None, output)}``, each the concatenation over the batches of the detached
    tensors (each output passed through ``transform`` first, batch by batch, e.g. a pooling that
    keeps the batch dimension; then moved to ``device`` when given). Hooks and modes are restored
    even when a pass raises.
    """
    seen: dict[str, list[tuple[torch.Tensor | None, torch.Tensor]]] = {n: [] for n in names}

    def record(name: str, inp: torch.Tensor | None, out: torch.Tensor) -> None:
        a = None if inp is None else inp.detach()
        b = out.detach() if transform is None else transform(out.detach())
        if device is not None:
            a = None if a is None else a.to(device)
            b = b.to(device)
        seen[name].append((a, b))

    n = int(x.shape[0])
    with LayerHooks(model, names, record, inputs=inputs, who=who, needs=needs,
                    error=error) as hooks, eval_mode(model), torch.no_grad():
        for start in range(0, n, batch_size):
            batch = x[start : start + batch_size]
            model(batch)
            hooks.check_once()
            hooks.reset_calls()
            rows = int(batch.shape[0])
            for name in names:
                got = seen[name][-1][1]
                if got.ndim == 0 or got.shape[0] != rows:
                    raise error(
                        f"layer {name!r} returned shape {tuple(got.shape)} for a batch of "
                        f"{rows}; expected a batch-first output ({rows}, …)"
                    )

    out: dict[str, tuple[torch.Tensor | None, torch.Tensor]] = {}
    for name, parts in seen.items():
        ins = [a for a, _ in parts if a is not None]
        first = torch.cat(ins) if inputs else None
        out[name] = (first, torch.cat([b for _, b in parts]))
    return out


# ------------------------------------------------------- inputs, layer selection and state kinds
#: the state entering the first block of a language model (the first of its hidden states)
EMBEDDINGS = "embeddings"
#: the state after a language model's final normalisation (the last of GPT-2's hidden states)
FINAL_NORM = "final_norm"


@dataclass(frozen=True)
class LayerSpec:
    """One state to capture: its ``name`` in the trajectory, the ``module`` (a name as in
    ``model.named_modules()``) whose output it is (or whose first input, with ``at="input"``),
    and its ``kind`` (:data:`layerflow.trajectory.KINDS`)."""

    name: str
    module: str
    kind: str
    at: str = "output"


@dataclass(frozen=True)
class ResidualStream:
    """A Hugging Face-style language model's residual stream: its ``blocks`` (module names, in
    order) and the ``final_norm`` applied after the last block (a module name, or None)."""

    blocks: tuple[str, ...]
    final_norm: str | None


def _n_hidden_layers(model: nn.Module) -> int | None:
    config = getattr(model, "config", None)
    n = getattr(config, "num_hidden_layers", None) if config is not None else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def residual_stream(model: nn.Module) -> ResidualStream | None:
    """The residual stream of a model configured as Hugging Face's are, or ``None``.

    The blocks are the first ``nn.ModuleList`` (in ``named_modules`` order) holding exactly
    ``model.config.num_hidden_layers`` modules (GPT-2's ``transformer.h``, BERT's
    ``encoder.layer``, Llama's ``model.layers``). The final norm is the first normalisation
    module (a class whose name contains "Norm") registered after the block list in the block
    list's parent or one of its ancestors (GPT-2's ``ln_f``, Llama's ``norm``; BERT has none).
    """
    n = _n_hidden_layers(model)
    if n is None:
        return None
    blocks = next((name for name, m in model.named_modules()
                   if isinstance(m, nn.ModuleList) and len(m) == n and name), None)
    if blocks is None:
        return None
    modules = dict(model.named_modules())
    final = None
    path = blocks
    while path and final is None:
        parent_name, _, child = path.rpartition(".")
        parent = modules[parent_name] if parent_name else model
        after = False
        for name, m in parent.named_children():
            if name == child:
                after = True
                continue
            if after and "norm" in type(m).__name__.lower():
                final = f"{parent_name}.{name}" if parent_name else name
                break
        path = parent_name
    return ResidualStream(tuple(f"{blocks}.{i}" for i in range(n)), final)


def state_kind(model: nn.Module, name: str, stream: ResidualStream | None) -> str:
    """The kind of the output of submodule ``name``: ``final_norm`` for the stream's final norm,
    ``embedding`` for embeddings (an ``nn.Embedding`` or a module whose class name says
    Embedding), ``pooled`` for a pooler, else ``block``."""
    if stream is not None and name == stream.final_norm:
        return "final_norm"
    module = dict(model.named_modules()).get(name)
    cls = type(module).__name__.lower()
    if isinstance(module, nn.Embedding | nn.EmbeddingBag) or "embedding" in cls:
        return "embedding"
    if "pooler" in cls:
        return "pooled"
    return "block"


def _glob(pattern: str) -> re.Pattern[str]:
    """``*`` matches within one dotted part, ``**`` across parts, ``?`` one character."""
    out = ""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        out += {"*": r"[^.]*", "?": r"[^.]"}.get(c, re.escape(c))
        i += 1
    return re.compile(out + r"\Z")


def default_layers(model: nn.Module, error: type[LayerflowError]) -> list[LayerSpec]:
    """What :func:`layerflow.capture` records without ``layers``: ``model.capture_layers`` for
    layerflow models; for a Hugging Face-style language model (:func:`residual_stream`) the
    residual stream — ``embeddings`` (the input of the first block, Hugging Face's first hidden
    state), every block's output and, when the model has one, ``final_norm`` (the final norm's
    output, Hugging Face's last hidden state); else the top-level children."""
    stream = residual_stream(model)
    names = getattr(model, "capture_layers", None)
    if names is not None:
        return [LayerSpec(str(n), str(n), state_kind(model, str(n), stream)) for n in names]
    if stream is not None:
        specs = [LayerSpec(EMBEDDINGS, stream.blocks[0], "embedding", at="input")]
        specs += [LayerSpec(b, b, "block") for b in stream.blocks]
        if stream.final_norm is not None:
            specs.append(LayerSpec(FINAL_NORM, stream.final_norm, "final_norm"))
        return specs
    children = [name for name, _ in model.named_children()]
    if not children:
        raise error(
            f"{type(model).__name__} has no submodules and no capture_layers; pass layers=[…] "
            "naming submodules to capture"
        )
    return [LayerSpec(c, c, state_kind(model, c, stream)) for c in children]


def resolve_layers(model: nn.Module, layers: Sequence[str | int] | None,
                   error: type[LayerflowError]) -> list[LayerSpec]:
    """The states to capture, from ``layers``: ``None`` (:func:`default_layers`), or a list of
    submodule names (as in ``model.named_modules()``; a ``ModuleList`` or ``ModuleDict``, which
    never runs itself, stands for its children), globs (``"transformer.h.*"``: ``*``
    within one dotted part, ``**`` across parts; matches in module order) and ints (indices,
    negative from the end, into :func:`default_layers`). For a language model, ``"embeddings"``
    and ``"final_norm"`` name those states of its residual stream unless a submodule has that
    name. Unknown names, globs that match nothing, indices out of range and repeated states
    raise ``error``."""
    if isinstance(layers, str):
        raise error(f"layers={layers!r}: expected a list of layer names, not a string")
    if layers is None:
        return default_layers(model, error)
    stream = residual_stream(model)
    modules = [n for n, _ in model.named_modules() if n]
    known = set(modules)
    specs: list[LayerSpec] = []
    defaults: list[LayerSpec] | None = None
    for item in layers:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise error(f"layers: {item!r} is a {type(item).__name__}; expected a submodule "
                        "name, a glob or an int index")
        if isinstance(item, int):
            defaults = defaults if defaults is not None else default_layers(model, error)
            if not -len(defaults) <= item < len(defaults):
                raise error(f"layers: index {item} is out of range for the {len(defaults)} "
                            f"default layers {[s.name for s in defaults]}")
            specs.append(defaults[item])
        elif item in known and isinstance(dict(model.named_modules())[item],
                                          nn.ModuleList | nn.ModuleDict):
            # a container never runs itself: its children are the layers (``"transformer.h"``)
            children = [f"{item}.{c}" for c, _ in
                        dict(model.named_modules())[item].named_children()]
            specs += [LayerSpec(c, c, state_kind(model, c, stream)) for c in children]
        elif item in known:
            specs.append(LayerSpec(item, item, state_kind(model, item, stream)))
        elif stream is not None and item == EMBEDDINGS:
            specs.append(LayerSpec(EMBEDDINGS, stream.blocks[0], "embedding", at="input"))
        elif stream is not None and item == FINAL_NORM and stream.final_norm is not None:
            specs.append(LayerSpec(FINAL_NORM, stream.final_norm, "final_norm"))
        elif any(c in item for c in "*?"):
            rx = _glob(item)
            hits = [n for n in modules if rx.match(n)]
            if not hits:
                raise error(f"layers: the glob {item!r} matches no submodule of "
                            f"{type(model).__name__}; available: {modules}")
            specs += [LayerSpec(n, n, state_kind(model, n, stream)) for n in hits]
        else:
            extra = (f" (or {EMBEDDINGS!r} / {FINAL_NORM!r} for the residual stream)"
                     if stream is not None else "")
            raise error(f"unknown layers [{item!r}] in {type(model).__name__}; available: "
                        f"{modules}{extra}")
    if not specs:
        raise error("layers is empty; name at least one submodule to capture")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise error(f"layers must be distinct; repeated: {dup}")
    return specs


#: the keys of a model's keyword inputs that hold the model's input itself, in order of
#: preference (the first present becomes the trajectory's input state)
INPUT_KEYS = ("input_ids", "inputs_embeds", "pixel_values", "input_values", "x")


def input_key(inputs: Mapping[str, Any], error: type[LayerflowError]) -> str:
    """Which entry of keyword inputs is the model's input (:data:`INPUT_KEYS`, else the first
    tensor that is not a mask or an index)."""
    for key in INPUT_KEYS:
        if key in inputs and inputs[key] is not None:
            return key
    skip = {"attention_mask", "token_type_ids", "position_ids", "head_mask"}
    for key, value in inputs.items():
        if key not in skip and hasattr(value, "shape") and len(value.shape) >= 1:
            return str(key)
    raise error(f"the inputs {sorted(inputs)} hold no tensor to use as the input state; "
                f"expected one of {', '.join(INPUT_KEYS)}")


def keyword_input(model: nn.Module, inputs: Mapping[str, Any], device: torch.device | str,
                  dtype: torch.dtype) -> dict[str, Any]:
    """Keyword inputs as ``model`` takes them, on ``device``: integer and boolean tensors (token
    ids, masks) unchanged, floating ones in the model's ``dtype``, other values as they are."""
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, torch.Tensor) or (hasattr(value, "__array__") and not isinstance(
                value, str | bytes)):
            t = torch.as_tensor(value)
            out[str(key)] = (t.to(device=device, dtype=dtype) if t.is_floating_point()
                             else t.to(device))
        else:
            out[str(key)] = value
    return out


def accepts_keyword(model: nn.Module, name: str) -> bool:
    """Whether ``model.forward`` takes a keyword argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD
                                 for p in params.values())
